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

__all__ = [
    "global_data",
    "loss",
    "make",
    "make_global",
    "numpyro_model",
    "observe_nll",
    "sufficient_model",
    "sufficient_nll",
    "sufficient_statistics",
    "teacher",
    "trained",
]


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
    """Data from a rank-r teacher and the point :math:`w^\\ast` at which to measure the LLC.

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


def sufficient_statistics(x, y) -> dict[str, np.ndarray]:
    r"""The statistics of ``(x, y)`` that the Gaussian likelihood of reduced-rank regression needs.

    With :math:`\hat C = \operatorname{argmin}_C \sum_i\lVert y_i - Cx_i\rVert^2` (least
    squares), the residual is orthogonal to the inputs, so for every :math:`C = BA`

    .. math::

        nL_n(C) = \tfrac12\operatorname{tr}\bigl((C - \hat C)\,X^\top X\,(C - \hat C)^\top\bigr)
        + \tfrac12\mathrm{RSS} + \tfrac{nN}{2}\log 2\pi,

    exactly. Returns ``gram`` :math:`X^\top X` (M, M), ``coef`` :math:`\hat C` (N, M), ``rss``
    and ``n_obs`` (0-d arrays, computed in float64).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    coef_t = np.linalg.lstsq(x, y, rcond=None)[0]
    resid = y - x @ coef_t
    return {
        "gram": x.T @ x,
        "coef": coef_t.T,
        "rss": np.asarray(np.sum(resid**2)),
        "n_obs": np.asarray(float(x.shape[0])),
    }


def sufficient_model(gram, coef, rss, n_obs, *, H: int, prior_scale: float = 1.0) -> None:
    """:func:`numpyro_model` with its likelihood written through :func:`sufficient_statistics`.

    The same posterior at every temperature (the log-likelihood is equal as a function of
    ``A, B``), at a cost per gradient independent of n: NUTS on the global posterior builds
    trees of about a hundred steps, and at n = 10^4 the per-observation model spent almost all
    of its time in the likelihood. The likelihood is one observed site ``y`` (a ``Unit``
    distribution carrying :math:`-nL_n`), so tempering scales it; there is no per-observation
    log-likelihood (no WAIC from this model).
    """
    import numpyro
    import numpyro.distributions as dist

    gram, coef = jnp.asarray(gram), jnp.asarray(coef)
    N, M = coef.shape
    A = numpyro.sample("A", dist.Normal(0.0, prior_scale).expand([H, M]).to_event(2))
    B = numpyro.sample("B", dist.Normal(0.0, prior_scale).expand([N, H]).to_event(2))
    observe_nll(sufficient_nll(B @ A, gram, coef, rss, n_obs))


def sufficient_nll(product, gram, coef, rss, n_obs) -> jnp.ndarray:
    r""":math:`nL_n(C)` of the product :math:`C` = ``product`` (N, M), exactly, from the
    statistics of :func:`sufficient_statistics` (the formula there)."""
    diff = product - coef
    n_out = coef.shape[0]
    constant = 0.5 * rss + 0.5 * n_obs * n_out * jnp.log(2 * jnp.pi)
    return 0.5 * jnp.sum((diff @ gram) * diff) + constant


def observe_nll(nll) -> None:
    """Put the likelihood :math:`e^{-nL_n}` in a NumPyro model as one observed site ``y``.

    ``numpyro.factor`` marks its site auxiliary (not likelihood, so not tempered): this builds an
    observed ``Unit`` site carrying ``-nll`` instead, which :func:`slt.sample_tempered` tempers.
    """
    import numpyro
    import numpyro.distributions as dist

    likelihood = dist.Unit(-nll)
    numpyro.sample("y", likelihood, obs=likelihood.sample(None))


def global_data(
    M: int, N: int, H: int, r: int, *, n: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The teacher and n observations ``(x, y)``; the data of smaller n are prefixes of larger."""
    rng = np.random.default_rng(seed)
    truth = teacher(M, N, H, r, rng)
    z = rng.normal(size=(n, M + N))  # row i is the same for every n >= i: nested datasets
    x = z[:, :M]
    y = x @ (truth["B"] @ truth["A"]).T + z[:, M:]
    return truth, x, y


def make_global(
    M: int, N: int, H: int, r: int, *, n: int = 1000, seed: int = 0, sufficient: bool = True
):
    """The NumPyro reduced-rank regression problem with its exact global RLCT.

    ``sufficient=True`` (the default) samples :func:`sufficient_model`, keeping the
    observations in ``observations``; ``False`` gives the per-observation
    :func:`numpyro_model` (needed for WAIC).
    """
    from functools import partial

    from slt.models.problem import GlobalProblem

    exact = exact_rrr(M, N, H, r)
    truth, x, y = global_data(M, N, H, r, n=n, seed=seed)
    name = f"rrr(M={M},N={N},H={H},r={r},n={n})"
    obs = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    if not sufficient:
        model = partial(numpyro_model, H=H)
        return GlobalProblem(name, model, obs, n, exact, {"A": truth["A"], "B": truth["B"]})
    summarize = lambda o: {k: jnp.asarray(v) for k, v in sufficient_statistics(**o).items()}
    return GlobalProblem(
        name=name,
        model=partial(sufficient_model, H=H),
        data=summarize({"x": x, "y": y}),
        n=n,
        exact=exact,
        truth={"A": truth["A"], "B": truth["B"]},
        observations={"x": x, "y": y},
        summarize=summarize,
    )
