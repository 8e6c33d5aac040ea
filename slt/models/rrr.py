r"""Reduced-rank regression: the model whose RLCT Aoyagi & Watanabe (2005) computed exactly.

:math:`y = BAx + \varepsilon` with :math:`A \in \mathbb{R}^{H\times M}`,
:math:`B \in \mathbb{R}^{N\times H}`, :math:`x \sim N(0, I_M)` and
:math:`\varepsilon \sim N(0, I_N)`.
The loss is the Gaussian negative log-likelihood per sample,

.. math::

    \ell(w; x, y) = \tfrac12\lVert y - BAx\rVert^2 + \tfrac{N}{2}\log 2\pi,

so :math:`L_n` is exactly the likelihood the RLCT refers to (MSE alone would be twice it and would
double β).
"""

from typing import Literal

import jax.numpy as jnp
import numpy as np

from slt.exact.rrr import rrr as exact_rrr
from slt.models.problem import Problem

__all__ = ["loss", "make", "make_global", "numpyro_model", "teacher", "trained"]


def loss(params: dict, batch: dict) -> jnp.ndarray:
    """Mean Gaussian NLL of ``batch = {"x": (b, M), "y": (b, N)}`` under ``params = {"A", "B"}``."""
    pred = (batch["x"] @ params["A"].T) @ params["B"].T
    resid = batch["y"] - pred
    n_out = batch["y"].shape[-1]
    return 0.5 * jnp.mean(jnp.sum(resid**2, axis=-1)) + 0.5 * n_out * jnp.log(2 * jnp.pi)


def _balanced(matrix: np.ndarray, H: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Factor an N×M matrix of rank ≤ H as B A, balanced and in general position.

    B = U S^½ T and A = Tᵀ S^½ Vᵀ from the top-H SVD terms, with T a random H×H orthogonal
    matrix. T is an exact symmetry of the model (same product, same ‖A‖ and ‖B‖); without it the
    unused factor directions would be exact zero rows and columns, coordinates whose gradient is
    identically zero, which no trained network has and which give RMSProp-SGLD an unbounded step.
    """
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    k = min(H, len(s))
    root = np.sqrt(s[:k])
    B = np.zeros((matrix.shape[0], H))
    A = np.zeros((H, matrix.shape[1]))
    B[:, :k] = u[:, :k] * root
    A[:k] = root[:, None] * vt[:k]
    T = np.linalg.qr(rng.normal(size=(H, H)))[0]
    return {"A": T.T @ A, "B": B @ T}


def teacher(M: int, N: int, H: int, r: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A balanced teacher of rank exactly r with singular values uniform in [1, 2]."""
    u = np.linalg.qr(rng.normal(size=(N, N)))[0][:, :r]
    v = np.linalg.qr(rng.normal(size=(M, M)))[0][:, :r]
    s = rng.uniform(1.0, 2.0, size=r)
    return _balanced((u * s) @ v.T, H, rng)


def trained(
    x: np.ndarray, y: np.ndarray, H: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The exact minimiser of :math:`L_n` over rank-≤H products (reduced-rank least squares).

    With :math:`\\hat C = Y^\\top X (X^\\top X)^{-1}` and :math:`V_H` the top-H right singular
    vectors of the fitted values :math:`X\\hat C^\\top`, the minimiser is
    :math:`V_H V_H^\\top \\hat C` (Reinsel & Velu 1998, §2.3, identity noise covariance).
    """
    c_ols = np.linalg.lstsq(x, y, rcond=None)[0].T
    _, _, vt = np.linalg.svd(x @ c_ols.T, full_matrices=False)
    proj = vt[:H].T @ vt[:H]
    return _balanced(proj @ c_ols, H, rng)


def make(
    M: int,
    N: int,
    H: int,
    r: int,
    *,
    n: int = 10_000,
    seed: int = 0,
    w_star: Literal["teacher", "trained"] = "teacher",
    dtype: str = "float32",
) -> Problem:
    """Data from a rank-r teacher and the point :math:`w^*` at which to measure the LLC.

    Parameters
    ----------
    M, N, H, r
        Input and output dimension, model rank, true rank (``0 <= r <= min(M, N, H)``).
    n
        Number of samples.
    seed
        Seed of the teacher, the inputs and the noise.
    w_star
        ``"teacher"``: the true parameter; ``"trained"``: the exact empirical minimiser of
        :math:`L_n` (rank-H least squares), the local minimum a training run would reach.
    dtype
        Floating dtype of data and parameters.
    """
    exact = exact_rrr(M, N, H, r)
    if r > H:
        raise ValueError(f"r must be <= H ({H}) for a realizable teacher; got {r}")
    if w_star not in ("teacher", "trained"):
        raise ValueError(f"w_star must be 'teacher' or 'trained'; got {w_star!r}")
    rng = np.random.default_rng(seed)
    truth = teacher(M, N, H, r, rng)
    x = rng.normal(size=(n, M))
    y = x @ (truth["B"] @ truth["A"]).T + rng.normal(size=(n, N))
    params = truth if w_star == "teacher" else trained(x, y, H, rng)
    cast = lambda a: jnp.asarray(a, dtype=dtype)
    return Problem(
        name=f"rrr(M={M},N={N},H={H},r={r})",
        loss_fn=loss,
        params={k: cast(v) for k, v in params.items()},
        data={"x": cast(x), "y": cast(y)},
        exact=exact,
    )


def numpyro_model(
    x: jnp.ndarray, y: jnp.ndarray | None = None, *, H: int, prior_scale: float = 1.0
):
    """Reduced-rank regression as a NumPyro model: A, B ~ N(0, prior_scale²), y ~ N(BAx, I).

    The likelihood is the observed site ``y`` inside the ``data`` plate, so tempering scales it
    and leaves the Gaussian prior (positive and smooth at the truth, as the RLCT needs) alone.
    """
    import numpyro
    import numpyro.distributions as dist

    M = x.shape[-1]
    N = y.shape[-1] if y is not None else 1
    A = numpyro.sample("A", dist.Normal(0.0, prior_scale).expand([H, M]).to_event(2))
    B = numpyro.sample("B", dist.Normal(0.0, prior_scale).expand([N, H]).to_event(2))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal((x @ A.T) @ B.T, 1.0).to_event(1), obs=y)


def make_global(M: int, N: int, H: int, r: int, *, n: int = 1000, seed: int = 0):
    """The NumPyro reduced-rank regression problem with its exact global RLCT."""
    from functools import partial

    from slt.models.problem import GlobalProblem

    exact = exact_rrr(M, N, H, r)
    rng = np.random.default_rng(seed)
    truth = teacher(M, N, H, r, rng)
    x = rng.normal(size=(n, M))
    y = x @ (truth["B"] @ truth["A"]).T + rng.normal(size=(n, N))
    return GlobalProblem(
        name=f"rrr(M={M},N={N},H={H},r={r},n={n})",
        model=partial(numpyro_model, H=H),
        data={"x": jnp.asarray(x), "y": jnp.asarray(y)},
        n=n,
        exact=exact,
        truth={"A": truth["A"], "B": truth["B"]},
    )
