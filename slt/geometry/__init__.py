"""Matrix-free geometry of a loss at a point: Hessian products and spectra, trace, effective
dimension and rank, the empirical Fisher and the empirical NTK.

Every function takes ``loss_fn(params, batch) -> scalar`` (the mean loss over the batch), a
``params`` pytree and ``data`` (a pytree of arrays sharing a leading axis n), and evaluates the
full-data loss :math:`L_n` in chunks of ``chunk_size`` samples; no :math:`d \\times d` matrix is
formed except by :func:`dense_hessian` and, for small d, :func:`effective_parameters`.
"""

from slt.geometry.effective import (
    EffectiveParameters,
    RankEstimate,
    count_near_zero,
    default_tol,
    effective_dimension,
    effective_parameters,
    hessian_eigenvalues,
    hessian_rank,
    numerical_rank,
)
from slt.geometry.fisher import (
    fisher_operator,
    fisher_top_eigenvalues,
    fisher_trace,
    fisher_vp,
    per_sample_losses,
)
from slt.geometry.hutchinson import TraceEstimate, hessian_trace, hutchinson_trace
from slt.geometry.hvp import (
    LinearOperator,
    chunk_mean,
    dense_hessian,
    hvp,
    linear_operator,
    operator_to_dense,
)
from slt.geometry.lanczos import (
    LanczosResult,
    SpectralDensity,
    hessian_spectral_density,
    hessian_top_eigenvalues,
    lanczos_eigenvalues,
    spectral_density,
)
from slt.geometry.ntk import empirical_ntk, ntk_spectrum

__all__ = [
    "EffectiveParameters",
    "LanczosResult",
    "LinearOperator",
    "RankEstimate",
    "SpectralDensity",
    "TraceEstimate",
    "chunk_mean",
    "count_near_zero",
    "default_tol",
    "dense_hessian",
    "effective_dimension",
    "effective_parameters",
    "empirical_ntk",
    "fisher_operator",
    "fisher_top_eigenvalues",
    "fisher_trace",
    "fisher_vp",
    "hessian_eigenvalues",
    "hessian_rank",
    "hessian_spectral_density",
    "hessian_top_eigenvalues",
    "hessian_trace",
    "hutchinson_trace",
    "hvp",
    "lanczos_eigenvalues",
    "linear_operator",
    "ntk_spectrum",
    "numerical_rank",
    "operator_to_dense",
    "per_sample_losses",
    "spectral_density",
]
