r"""One-dimensional Gaussian mixtures with unit variances: the basic singular models.

Priors are proper and compact, as the exact values assume (a prior positive and bounded on
the true parameters): the mixing weight :math:`a \sim U(0, 1)` and every free mean
:math:`\sim U(-B, B)` with :math:`B` = :data:`MEAN_BOUND` = 3. The likelihood is one observed
site ``x`` (a :class:`~numpyro.distributions.MixtureSameFamily`, log-density by log-sum-exp)
inside ``numpyro.plate("data", n)``, so a tempering handler sees all of it.

- :func:`make_singular`: :math:`(1-a)N(0,1) + aN(b,1)`, truth :math:`N(0,1)`: λ = 1/2, m = 2.
- :func:`make_regular`: the same model, truth :math:`a_0 \in (0,1)`, :math:`b_0 \ne 0`:
  λ = 1, m = 1.
- :func:`make_two_means`: :math:`(1-a)N(b,1) + aN(c,1)`, truth :math:`N(0,1)`: λ = 3/4,
  m = 1, **unconfirmed** (see :func:`slt.exact.mixture_two_means`).

References
----------
S. Watanabe, *Algebraic Geometry and Statistical Learning Theory*, Cambridge University Press,
2009.
"""

import math
from numbers import Real

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from slt.exact.mixture import mixture_regular, mixture_singular, mixture_two_means
from slt.exact.rrr import _check_int
from slt.models.problem import GlobalProblem

__all__ = [
    "MEAN_BOUND",
    "make_regular",
    "make_singular",
    "make_two_means",
    "model_one_mean",
    "model_two_means",
]

MEAN_BOUND = 3.0
"""Free means have the prior U(-MEAN_BOUND, MEAN_BOUND)."""


def _mixture(a: jnp.ndarray, mu0: jnp.ndarray, mu1: jnp.ndarray) -> dist.Distribution:
    """:math:`(1-a)N(\\mu_0, 1) + aN(\\mu_1, 1)`."""
    mix = dist.Categorical(probs=jnp.stack([1.0 - a, a], axis=-1))
    components = dist.Normal(jnp.stack([mu0, mu1], axis=-1), 1.0)
    return dist.MixtureSameFamily(mix, components)


def model_one_mean(x: jnp.ndarray) -> None:
    r""":math:`a \sim U(0,1)`, :math:`b \sim U(-3, 3)`, :math:`x_i \sim (1-a)N(0,1) + aN(b,1)`.

    Parameters
    ----------
    x
        Observations, shape (n,).
    """
    x = jnp.asarray(x)
    a = numpyro.sample("a", dist.Uniform(0.0, 1.0))
    b = numpyro.sample("b", dist.Uniform(-MEAN_BOUND, MEAN_BOUND))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", _mixture(a, jnp.zeros_like(b), b), obs=x)


def model_two_means(x: jnp.ndarray) -> None:
    r""":math:`a \sim U(0,1)`, :math:`b, c \sim U(-3, 3)`, :math:`x_i \sim (1-a)N(b,1) + aN(c,1)`.

    Parameters
    ----------
    x
        Observations, shape (n,).
    """
    x = jnp.asarray(x)
    a = numpyro.sample("a", dist.Uniform(0.0, 1.0))
    b = numpyro.sample("b", dist.Uniform(-MEAN_BOUND, MEAN_BOUND))
    c = numpyro.sample("c", dist.Uniform(-MEAN_BOUND, MEAN_BOUND))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", _mixture(a, b, c), obs=x)


def _standard_normal(n: int, seed: int, dtype: str) -> np.ndarray:
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    return np.random.default_rng(seed).normal(size=n).astype(dtype)


def make_singular(n: int = 1000, *, seed: int = 0, dtype: str = "float32") -> GlobalProblem:
    r""":math:`(1-a)N(0,1) + aN(b,1)` with data from :math:`N(0,1)`: λ = 1/2, m = 2.

    Parameters
    ----------
    n
        Number of observations.
    seed
        Seed of the data (numpy).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model_one_mean`, ``data = {"x"}``, ``exact`` =
        :func:`slt.exact.mixture_singular`.

    Examples
    --------
    >>> from slt.models import mixture
    >>> mixture.make_singular(100).exact[:2]
    (0.5, 2)
    """
    x = _standard_normal(n, seed, dtype)
    return GlobalProblem(
        name=f"mixture_singular(n={x.shape[0]})",
        model=model_one_mean,
        data={"x": x},
        n=x.shape[0],
        exact=mixture_singular(),
        truth={"a": 0.0, "b": 0.0},
    )


def make_regular(
    n: int = 1000,
    *,
    seed: int = 0,
    a0: float = 0.5,
    b0: float = 2.0,
    dtype: str = "float32",
) -> GlobalProblem:
    r""":math:`(1-a)N(0,1) + aN(b,1)` with data from :math:`(1-a_0)N(0,1) + a_0N(b_0,1)`: λ = 1.

    Parameters
    ----------
    n
        Number of observations.
    seed
        Seed of the data (numpy).
    a0
        True mixing weight, ``0 < a0 < 1``.
    b0
        True second mean, ``0 < |b0| < 3`` (inside the prior's support).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model_one_mean`, ``data = {"x"}``, ``exact`` =
        :func:`slt.exact.mixture_regular`.

    Raises
    ------
    ValueError
        If ``a0`` or ``b0`` is out of range (the truth would not be regular or not in the
        prior's support).

    Examples
    --------
    >>> from slt.models import mixture
    >>> mixture.make_regular(100).exact[:2]
    (1.0, 1)
    """
    if isinstance(a0, bool) or not isinstance(a0, Real) or not 0.0 < a0 < 1.0:
        raise ValueError(f"a0 must be a number with 0 < a0 < 1, got {a0!r}")
    if (
        isinstance(b0, bool)
        or not isinstance(b0, Real)
        or not math.isfinite(b0)
        or not 0.0 < abs(b0) < MEAN_BOUND
    ):
        raise ValueError(f"b0 must be a number with 0 < |b0| < {MEAN_BOUND:g}, got {b0!r}")
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    second = rng.random(n) < a0
    x = (rng.normal(size=n) + np.where(second, float(b0), 0.0)).astype(dtype)
    return GlobalProblem(
        name=f"mixture_regular(a0={float(a0):g},b0={float(b0):g},n={n})",
        model=model_one_mean,
        data={"x": x},
        n=n,
        exact=mixture_regular(),
        truth={"a": float(a0), "b": float(b0)},
    )


def make_two_means(n: int = 1000, *, seed: int = 0, dtype: str = "float32") -> GlobalProblem:
    r""":math:`(1-a)N(b,1) + aN(c,1)` with data from :math:`N(0,1)`: λ = 3/4 (unconfirmed).

    Parameters
    ----------
    n
        Number of observations.
    seed
        Seed of the data (numpy).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model_two_means`, ``data = {"x"}``, ``exact`` =
        :func:`slt.exact.mixture_two_means` (marked *(check)*: to be confirmed numerically).

    Examples
    --------
    >>> from slt.models import mixture
    >>> mixture.make_two_means(100).exact[:2]
    (0.75, 1)
    """
    x = _standard_normal(n, seed, dtype)
    return GlobalProblem(
        name=f"mixture_two_means(n={x.shape[0]})",
        model=model_two_means,
        data={"x": x},
        n=x.shape[0],
        exact=mixture_two_means(),
        truth={"a": 0.5, "b": 0.0, "c": 0.0},
    )
