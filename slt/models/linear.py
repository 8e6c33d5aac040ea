r"""Linear regression :math:`y = x^\top w + \varepsilon`: a regular model, λ = d/2.

:math:`x_i \sim N(0, I_d)` (a full-rank design), unit-variance Gaussian noise, prior
:math:`w \sim N(0, 10^2 I_d)` (wide, positive at the truth). With the truth :math:`w_0`,
:math:`K(w) = \tfrac12 (w - w_0)^\top E[xx^\top] (w - w_0) = \tfrac12\lVert w - w_0\rVert^2`,
non-degenerate: λ = d/2, m = 1 (:func:`slt.exact.regular`).
"""

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from slt.exact.regular import regular
from slt.exact.rrr import _check_int
from slt.models.problem import GlobalProblem

__all__ = ["PRIOR_SCALE", "make", "model", "truth"]

PRIOR_SCALE = 10.0
"""Prior standard deviation of every coefficient."""


def model(x: jnp.ndarray, y: jnp.ndarray) -> None:
    r""":math:`w \sim N(0, 10^2 I_d)`; :math:`y_i \sim N(x_i^\top w, 1)`.

    Parameters
    ----------
    x
        Inputs, shape (n, d).
    y
        Outputs, shape (n,).
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    w = numpyro.sample("w", dist.Normal(jnp.zeros(x.shape[1], x.dtype), PRIOR_SCALE).to_event(1))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(x @ w, 1.0), obs=y)


def truth(d: int, seed: int = 0) -> np.ndarray:
    """The true coefficients :math:`w_0 \\sim N(0, I_d)` of ``make(d, seed=seed)`` (float64)."""
    return np.random.default_rng(seed).normal(size=d)


def make(d: int, *, n: int = 1000, seed: int = 0, dtype: str = "float32") -> GlobalProblem:
    """Linear regression in ``d`` dimensions with a random truth :math:`w_0 \\sim N(0, I_d)`.

    Parameters
    ----------
    d
        Number of coefficients, ``d >= 1``.
    n
        Number of observations.
    seed
        Seed of the truth, the inputs and the noise (numpy).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model`, ``data = {"x", "y"}``, ``exact`` =
        :func:`slt.exact.regular` ``(d)``. The truth is :func:`truth` ``(d, seed)``.

    Examples
    --------
    >>> from slt.models import linear
    >>> linear.make(3, n=100).exact.rlct
    1.5
    """
    exact = regular(d)
    d = int(d)
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=d)
    x = rng.normal(size=(n, d))
    y = x @ w0 + rng.normal(size=n)
    return GlobalProblem(
        name=f"linear(d={d},n={n})",
        model=model,
        data={"x": x.astype(dtype), "y": y.astype(dtype)},
        n=n,
        exact=exact,
        truth={"w": w0.astype(dtype)},
    )
