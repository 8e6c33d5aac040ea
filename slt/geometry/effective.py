r"""Effective dimension, numerical rank and the parameter counts an LLC is compared against.

For a regular model the learning coefficient is :math:`\lambda = d/2`; for a singular one
:math:`\lambda \le d/2`, and simple Hessian-based counts are natural yardsticks for
:math:`\hat\lambda`:

* the effective dimensionality (Maddox, Benton & Wilson 2020, "Rethinking parameter counting in
  deep models: effective dimensionality revisited", arXiv:2003.02139, eq. 2)

  .. math::

      N_{\mathrm{eff}}(H, z) = \sum_{i=1}^{d} \frac{\lambda_i}{\lambda_i + z}, \qquad z > 0,

  with :math:`\lambda_i` the eigenvalues of the Hessian :math:`H = \nabla^2 L_n(w)` of the mean
  loss. Under a Gaussian prior of precision :math:`\alpha` the Laplace posterior precision is
  :math:`nH + \alpha I`, and :math:`N_{\mathrm{eff}}(nH, \alpha) = N_{\mathrm{eff}}(H, \alpha/n)`:
  the default here is :math:`z = 1/n`, a unit-precision prior. Negative eigenvalues (not a
  minimum, or round-off) are clipped to 0 and count nothing.
* the numerical rank of :math:`H`, the number of eigenvalues with
  :math:`|\lambda_i| > \mathrm{tol}\cdot\max_j|\lambda_j|`; the others are "near zero". The default
  relative tolerance is :math:`\max(10^{-6}, 1000\,\varepsilon)` with :math:`\varepsilon` the
  machine epsilon of the parameters' dtype: :math:`10^{-6}` in float64, about
  :math:`1.2\times10^{-4}` in float32, where Hessian-vector products carry relative errors of
  order :math:`10^{-6}` and a zero eigenvalue comes out at that size.

The eigenvalues come from the dense Hessian (``eigvalsh`` of d Hessian-vector products) when
:math:`d \le` ``dense_max_dim`` (2000), else from the top k (by magnitude) of Lanczos. From only
k < d eigenvalues, :math:`N_{\mathrm{eff}}` is a lower bound (the missing terms are
:math:`\ge 0`), and so is the rank when all k are above the tolerance; when some of the k are
below it, the Krylov space was exhausted and the count is the rank, provided the Ritz values
converged (look at the residuals of :func:`~slt.geometry.lanczos.hessian_top_eigenvalues`).
"""

import math
from typing import Any, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.data import check_data
from slt.geometry.hvp import DEFAULT_CHUNK_SIZE, linear_operator, operator_to_dense
from slt.geometry.lanczos import lanczos_eigenvalues
from slt.posterior import LossFn
from slt.tree import tree_size

__all__ = [
    "EffectiveParameters",
    "RankEstimate",
    "count_near_zero",
    "default_tol",
    "effective_dimension",
    "effective_parameters",
    "hessian_eigenvalues",
    "hessian_rank",
    "numerical_rank",
]

DENSE_MAX_DIM = 2000
"""Up to this d the Hessian spectrum is computed densely."""

Method = Literal["auto", "dense", "lanczos"]


def default_tol(dtype: Any) -> float:
    """The default relative near-zero tolerance, :math:`\\max(10^{-6}, 1000\\,\\varepsilon)`.

    Examples
    --------
    >>> default_tol(np.float64), round(default_tol(np.float32), 7)
    (1e-06, 0.0001192)
    """
    return max(1e-6, 1000 * float(np.finfo(np.dtype(dtype)).eps))


def _eigenvalues(eigenvalues: Any) -> np.ndarray:
    arr = np.asarray(eigenvalues)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("eigenvalues must be finite; got NaN or inf")
    return arr


def _tol(tol: float | None, dtype: Any) -> float:
    if tol is None:
        return default_tol(dtype if jnp.issubdtype(dtype, jnp.floating) else np.float64)
    if not 0 <= tol < 1:
        raise ValueError(f"tol must be a relative tolerance in [0, 1); got {tol}")
    return float(tol)


def effective_dimension(eigenvalues: Any, z: float) -> float:
    r"""The effective dimensionality :math:`N_{\mathrm{eff}}(H,z) = \sum_i \lambda_i/(\lambda_i+z)`.

    Maddox, Benton & Wilson 2020 (arXiv:2003.02139, eq. 2). Negative eigenvalues are clipped to
    0. Given only the top k eigenvalues of a d-dimensional Hessian, k < d, the result is a lower
    bound of the full :math:`N_{\mathrm{eff}}`.

    Parameters
    ----------
    eigenvalues
        Hessian eigenvalues, 1-D.
    z
        The regularisation constant, ``z > 0`` (``1/n`` for a unit-precision prior and the Hessian
        of the mean loss).

    Returns
    -------
    float
        A number in [0, len(eigenvalues)].

    Examples
    --------
    >>> effective_dimension([4.0, 1.0, 0.0, -0.5], z=1.0)
    1.3
    """
    lam = np.clip(_eigenvalues(eigenvalues).astype(np.float64), 0.0, None)
    if not (math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a finite positive number; got {z}")
    return float(np.sum(lam / (lam + z)))


def count_near_zero(eigenvalues: Any, tol: float | None = None) -> int:
    r"""How many eigenvalues satisfy :math:`|\lambda_i| \le \mathrm{tol}\cdot\max_j|\lambda_j|`.

    Parameters
    ----------
    eigenvalues
        Hessian eigenvalues, 1-D.
    tol
        Relative tolerance in [0, 1); default :func:`default_tol` of the eigenvalues' dtype.

    Returns
    -------
    int
        All of them when every eigenvalue is 0.

    Examples
    --------
    >>> count_near_zero(np.array([2.0, 1e-9, -3e-7, 0.0]))
    3
    """
    lam = _eigenvalues(eigenvalues)
    rel = _tol(tol, lam.dtype)
    mags = np.abs(lam.astype(np.float64))
    return int(np.sum(mags <= rel * mags.max()))


def numerical_rank(eigenvalues: Any, tol: float | None = None) -> int:
    r"""How many eigenvalues satisfy :math:`|\lambda_i| > \mathrm{tol}\cdot\max_j|\lambda_j|`.

    Examples
    --------
    >>> numerical_rank(np.array([2.0, 1e-9, -3e-7, 0.5]))
    2
    """
    lam = _eigenvalues(eigenvalues)
    return int(lam.size - count_near_zero(lam, tol))


class _Spectrum(NamedTuple):
    eigenvalues: np.ndarray
    method: str
    complete: bool
    dtype: Any


def _check_method(method: str) -> None:
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos'; got {method!r}")


def _spectrum(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    method: Method,
    k: int | None,
    dense_max_dim: int,
    num_iterations: int | None,
    seed: int,
    chunk_size: int,
) -> _Spectrum:
    _check_method(method)
    check_data(data)
    op = linear_operator(loss_fn, params, data, chunk_size=chunk_size)
    d = op.dim
    if method == "dense" or (method == "auto" and d <= dense_max_dim):
        h = np.asarray(operator_to_dense(op), dtype=np.float64)
        lam = np.linalg.eigvalsh(h)[::-1]
        return _Spectrum(lam, "dense", True, op.dtype)
    k = min(d, 64) if k is None else k
    res = lanczos_eigenvalues(op, k=k, num_iterations=num_iterations, seed=seed, which="LM")
    lam = np.sort(np.asarray(res.eigenvalues, dtype=np.float64))[::-1]
    return _Spectrum(lam, "lanczos", k == d, op.dtype)


def hessian_eigenvalues(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    method: Method = "auto",
    k: int | None = None,
    dense_max_dim: int = DENSE_MAX_DIM,
    num_iterations: int | None = None,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> np.ndarray:
    """Hessian eigenvalues of :math:`L_n`, descending: all d (dense) or the top k by magnitude.

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of floating arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    method
        ``"dense"`` (eigvalsh of the dense Hessian), ``"lanczos"`` (top k by magnitude), or
        ``"auto"``: dense when ``d <= dense_max_dim``.
    k
        Eigenvalues from Lanczos, default ``min(d, 64)``.
    dense_max_dim
        The largest d for ``"auto"`` to go dense.
    num_iterations, seed
        Lanczos settings, as for :func:`~slt.geometry.lanczos.lanczos_eigenvalues`.
    chunk_size
        Samples per chunk of the full-data loss.

    Returns
    -------
    numpy.ndarray
        float64, descending.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)
    >>> hessian_eigenvalues(loss, jnp.zeros(2), jnp.array([[1.0, 1.0]])).round(4).tolist()
    [4.0, 0.0]
    """
    return _spectrum(
        loss_fn,
        params,
        data,
        method=method,
        k=k,
        dense_max_dim=dense_max_dim,
        num_iterations=num_iterations,
        seed=seed,
        chunk_size=chunk_size,
    ).eigenvalues


class RankEstimate(NamedTuple):
    """The numerical rank of a Hessian.

    Attributes
    ----------
    rank
        Eigenvalues above ``tol`` times the largest magnitude.
    dim
        The dimension d.
    tol
        The relative tolerance used.
    method
        ``"dense"`` or ``"lanczos"``.
    lower_bound
        True when ``rank`` is only a lower bound: Lanczos found all its k < d eigenvalues
        above the tolerance.
    eigenvalues
        The eigenvalues used, descending.
    """

    rank: int
    dim: int
    tol: float
    method: str
    lower_bound: bool
    eigenvalues: np.ndarray


def hessian_rank(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    tol: float | None = None,
    method: Method = "auto",
    k: int | None = None,
    dense_max_dim: int = DENSE_MAX_DIM,
    num_iterations: int | None = None,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> RankEstimate:
    r"""The numerical rank of :math:`\nabla^2 L_n(w)`: eigenvalues above ``tol`` relative.

    Parameters
    ----------
    tol
        Relative tolerance in [0, 1); default :func:`default_tol` of the parameters' dtype.
    loss_fn, params, data, method, k, dense_max_dim, num_iterations, seed, chunk_size
        As for :func:`hessian_eigenvalues`.

    Returns
    -------
    RankEstimate

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)  # duplicated feature: rank 1
    >>> hessian_rank(loss, jnp.zeros(2), jnp.array([[1.0, 1.0], [2.0, 2.0]])).rank
    1
    """
    spec = _spectrum(
        loss_fn,
        params,
        data,
        method=method,
        k=k,
        dense_max_dim=dense_max_dim,
        num_iterations=num_iterations,
        seed=seed,
        chunk_size=chunk_size,
    )
    rel = _tol(tol, spec.dtype)
    rank = numerical_rank(spec.eigenvalues, rel)
    lower = (not spec.complete) and rank == spec.eigenvalues.size
    return RankEstimate(rank, tree_size(params), rel, spec.method, lower, spec.eigenvalues)


class EffectiveParameters(NamedTuple):
    """Parameter counts of a model at a point, beside its estimated LLC.

    For a regular model :math:`\\lambda = d/2`, and at a non-degenerate minimum
    :math:`\\mathrm{rank}(H)/2 = N_{\\mathrm{eff}}/2 = d/2` as n grows; a singular model has
    :math:`\\lambda \\le d/2`, and the Hessian counts show how much of the shortfall is visible to
    second order.

    Attributes
    ----------
    dim, half_dim
        d and d/2.
    rank, half_rank
        The numerical rank of the Hessian and half of it.
    n_eff, half_n_eff
        :math:`N_{\\mathrm{eff}}(H, z)` and half of it.
    z
        The regulariser of :math:`N_{\\mathrm{eff}}`.
    tol
        The relative near-zero tolerance of the rank.
    llc, llc_mcse
        The given :math:`\\hat\\lambda` and its Monte Carlo standard error (NaN when not given).
    method
        ``"dense"`` or ``"lanczos"``.
    lower_bound
        True when rank and :math:`N_{\\mathrm{eff}}` come from k < d Lanczos eigenvalues: then
        :math:`N_{\\mathrm{eff}}` is a lower bound, and so is the rank when all k exceed ``tol``.
    eigenvalues
        The Hessian eigenvalues used, descending.
    """

    dim: int
    half_dim: float
    rank: int
    half_rank: float
    n_eff: float
    half_n_eff: float
    z: float
    tol: float
    llc: float
    llc_mcse: float
    method: str
    lower_bound: bool
    eigenvalues: np.ndarray

    def table(self) -> str:
        """The counts as a small two-column text table."""
        mark = " (lower bound)" if self.lower_bound else ""
        mcse = "?" if math.isnan(self.llc_mcse) else f"{self.llc_mcse:.2g} (MCSE)"
        rows = [
            ("d/2", f"{self.half_dim:.4g}"),
            ("rank(H)/2", f"{self.half_rank:.4g}" + (mark if self.rank_is_bound else "")),
            (f"N_eff(H, z={self.z:.3g})/2", f"{self.half_n_eff:.4g}{mark}"),
            ("llc", "not given" if math.isnan(self.llc) else f"{self.llc:.4g} ± {mcse}"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    @property
    def rank_is_bound(self) -> bool:
        """Whether the rank (not only :math:`N_{\\mathrm{eff}}`) is a lower bound."""
        return self.lower_bound and self.rank == self.eigenvalues.size

    def __str__(self) -> str:
        """The :meth:`table`."""
        return self.table()


def _llc_fields(llc: Any) -> tuple[float, float]:
    if llc is None:
        return math.nan, math.nan
    if hasattr(llc, "llc"):
        return float(llc.llc), float(getattr(llc, "mcse", math.nan))
    if isinstance(llc, int | float | np.floating | np.integer) and not isinstance(llc, bool):
        return float(llc), math.nan
    raise ValueError(
        "llc must be None, a number, or an object with .llc and .mcse attributes (LLCResult, "
        f"LLCEstimate); got {type(llc).__name__}"
    )


def effective_parameters(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    llc: Any = None,
    z: float | None = None,
    tol: float | None = None,
    method: Method = "auto",
    k: int | None = None,
    dense_max_dim: int = DENSE_MAX_DIM,
    num_iterations: int | None = None,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> EffectiveParameters:
    r"""d/2, rank(H)/2 and :math:`N_{\mathrm{eff}}(H, z)/2` at ``params``, beside a given LLC.

    One Hessian spectrum (dense for :math:`d \le` ``dense_max_dim``, else the top k by
    magnitude from Lanczos, see the module notes) gives both the rank and
    :math:`N_{\mathrm{eff}}` (Maddox et al. 2020, eq. 2).

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, usually the one the LLC was estimated at.
    data
        A pytree of arrays sharing a leading axis of length n.
    llc
        None, a number, or an object with ``.llc`` and ``.mcse`` (:class:`slt.LLCResult`,
        :class:`~slt.estimators.llc.LLCEstimate`).
    z
        The :math:`N_{\mathrm{eff}}` regulariser, ``z > 0``; default ``1/n`` (unit-precision
        Gaussian prior).
    tol
        Relative near-zero tolerance of the rank; default :func:`default_tol`.
    method, k, dense_max_dim, num_iterations, seed, chunk_size
        As for :func:`hessian_eigenvalues`.

    Returns
    -------
    EffectiveParameters

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)  # H = diag(2, 0)
    >>> x = jnp.array([[1.0, 0.0]])
    >>> ep = effective_parameters(loss, jnp.zeros(2), x, llc=0.5, z=1.0)
    >>> ep.half_dim, ep.half_rank, round(ep.half_n_eff, 4), ep.llc
    (1.0, 0.5, 0.3333, 0.5)
    """
    n = check_data(data)
    llc_value, llc_mcse = _llc_fields(llc)
    z_value = 1.0 / n if z is None else float(z)
    if not (math.isfinite(z_value) and z_value > 0):
        raise ValueError(f"z must be a finite positive number; got {z}")
    if tol is not None:
        _tol(tol, np.float64)
    est = hessian_rank(
        loss_fn,
        params,
        data,
        tol=tol,
        method=method,
        k=k,
        dense_max_dim=dense_max_dim,
        num_iterations=num_iterations,
        seed=seed,
        chunk_size=chunk_size,
    )
    n_eff = effective_dimension(est.eigenvalues, float(z_value))
    return EffectiveParameters(
        dim=est.dim,
        half_dim=est.dim / 2,
        rank=est.rank,
        half_rank=est.rank / 2,
        n_eff=n_eff,
        half_n_eff=n_eff / 2,
        z=float(z_value),
        tol=est.tol,
        llc=llc_value,
        llc_mcse=llc_mcse,
        method=est.method,
        lower_bound=est.eigenvalues.size < est.dim,  # k < d Lanczos eigenvalues
        eigenvalues=est.eigenvalues,
    )
