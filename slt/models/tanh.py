r"""One-hidden-layer tanh network, zero truth: :math:`y = \sum_h a_h\tanh(b_h x) + \varepsilon`.

Scalar input :math:`x_i \sim U(-2, 2)`, no biases, unit-variance Gaussian noise, truth
:math:`f \equiv 0` (the data are pure noise). The exact value
(:func:`slt.exact.tanh_network`) needs the odd monomials :math:`x^{2p-1}` to be linearly
independent under the input distribution (true for any distribution with infinite support,
here a compact one containing 0) and a prior positive at the origin; it does not depend on
which. Priors :math:`a_h \sim N(0, s_a^2)`, :math:`b_h \sim N(0, 1)`: smooth and positive at
the origin (the deepest singularity of the true set, which determines λ), with no boundary for a
sampler to hit; proper, though not compactly supported.

The output scale :math:`s_a` does not change λ but sets how fast the finite-n estimate
approaches it. The multi-temperature slope at the suite's band, computed without data noise by
:func:`slt.validation.finite_n.tanh_g` for H = 2 (λ = 2/3), reads at n = 10^3, 10^4, 10^5, 10^6:
0.426, 0.519, 0.600, 0.650 with :math:`s_a = 1`, and 0.616, 0.656, 0.675, 0.678 with
:math:`s_a = 10`. A narrow prior on ``a`` holds the posterior where the likelihood is not yet
dominated by its leading term; a prior flat on the likelihood's scale does not. The default
:data:`OUTPUT_SCALE` = 10 is therefore the one the validation suite uses.

References
----------
S. Watanabe, "Algebraic geometrical methods for hierarchical learning machines",
*Neural Networks* 14(8):1049-1060, 2001.
M. Aoyagi and S. Watanabe, *IEICE Trans.* J88-D-II(10):2112-2124, 2005.
"""

import math

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from slt.exact.rrr import _check_int
from slt.exact.tanh import tanh_network
from slt.models.problem import GlobalProblem

__all__ = ["INPUT_BOUND", "OUTPUT_SCALE", "make", "model", "regression_function"]

INPUT_BOUND = 2.0
"""Inputs are drawn from U(-INPUT_BOUND, INPUT_BOUND)."""

OUTPUT_SCALE = 10.0
"""Default prior standard deviation :math:`s_a` of the output weights ``a``."""


def regression_function(a: jnp.ndarray, b: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    r""":math:`f(x) = \sum_h a_h \tanh(b_h x)`: ``a``, ``b`` of shape (..., H), ``x`` (n,)."""
    return jnp.sum(a[..., None, :] * jnp.tanh(b[..., None, :] * x[:, None]), axis=-1)


def model(x: jnp.ndarray, y: jnp.ndarray, H: int, output_scale: float = OUTPUT_SCALE) -> None:
    r""":math:`a \sim N(0, s_a^2 I_H)`, :math:`b \sim N(0, I_H)`;
    :math:`y_i \sim N(\sum_h a_h \tanh(b_h x_i), 1)`.

    Parameters
    ----------
    x, y
        Inputs and outputs, shape (n,).
    H
        Number of hidden units.
    output_scale
        Prior standard deviation :math:`s_a` of ``a``.
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    a = numpyro.sample("a", dist.Normal(jnp.zeros(H, x.dtype), output_scale).to_event(1))
    b = numpyro.sample("b", dist.Normal(jnp.zeros(H, x.dtype), 1.0).to_event(1))
    f = regression_function(a, b, x)
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(f, 1.0), obs=y)


def make(
    H: int,
    *,
    n: int = 1000,
    seed: int = 0,
    dtype: str = "float32",
    output_scale: float = OUTPUT_SCALE,
) -> GlobalProblem:
    r"""The tanh network with ``H`` hidden units and data from the truth :math:`f = 0`.

    Parameters
    ----------
    H
        Number of hidden units, ``H >= 1``.
    n
        Number of observations.
    seed
        Seed of inputs and noise (numpy).
    dtype
        Floating dtype of the data.
    output_scale
        Prior standard deviation :math:`s_a` of the output weights (positive).

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model`, ``data = {"x", "y", "H", "output_scale"}``, ``exact`` =
        :func:`slt.exact.tanh_network` ``(H)``.

    Examples
    --------
    >>> from slt.models import tanh
    >>> tanh.make(4, n=100).exact.rlct
    1.0
    """
    exact = tanh_network(H)
    H = int(H)
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    if not (math.isfinite(output_scale) and output_scale > 0):
        raise ValueError(f"output_scale must be a positive finite number; got {output_scale!r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-INPUT_BOUND, INPUT_BOUND, size=n).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    return GlobalProblem(
        name=f"tanh(H={H},n={n})",
        model=model,
        data={"x": x, "y": y, "H": H, "output_scale": float(output_scale)},
        n=n,
        exact=exact,
        truth={"a": np.zeros(H, x.dtype), "b": np.zeros(H, x.dtype)},
    )
