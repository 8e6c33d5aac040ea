r"""An exact sampler for the tempered reduced-rank posterior, to referee NUTS and SGLD.

With a Gaussian prior :math:`A \sim N(A_c, I)`, :math:`B \sim N(B_c, I)` (entrywise) and the
Gaussian likelihood written through its sufficient statistics
(:func:`slt.models.rrr.sufficient_statistics`),

.. math::

    n\beta L_n(A, B) = \tfrac\beta2\operatorname{tr}\bigl((BA - \hat C)\,G\,(BA - \hat C)^\top\bigr)
    + \text{const}, \qquad G = X^\top X,

is quadratic in A for fixed B and in B for fixed A, so both conditionals of the tempered
posterior are Gaussian and a two-block Gibbs sampler draws them exactly:

* :math:`A \mid B`: on :math:`\operatorname{vec}(A)` (row-major, index (h, m)) the precision is
  :math:`\beta\,(B^\top B)\otimes G + I` and the precision-weighted mean
  :math:`\beta\,\operatorname{vec}(B^\top\hat CG) + \operatorname{vec}(A_c)`;
* :math:`B \mid A`: the rows of B are independent, each with precision
  :math:`\beta AGA^\top + I` and precision-weighted mean :math:`\beta(\hat CGA^\top)_j + (B_c)_j`.

No step size, no discretization bias, no rejection: the only error is Monte Carlo, which the
chains' spread measures. The validation uses it where NUTS and SGLD disagree at one
temperature (``docs/global.md``). It is checked against the noise-free posterior's
:math:`g(n\beta)` by quadrature (:func:`slt.validation.finite_n.rrr_zero_truth_g`).

Reference: A. E. Gelfand and A. F. M. Smith, "Sampling-based approaches to calculating
marginal densities", *JASA* 85(410):398-409, 1990 (the Gibbs sampler on conjugate blocks).
"""

import math
from typing import NamedTuple

import numpy as np

from slt.estimators.wbic import Estimate, posterior_mean

__all__ = ["GibbsRun", "rrr_gibbs"]


class GibbsRun(NamedTuple):
    """The energy trace of :func:`rrr_gibbs` and the one-temperature statistic from it."""

    energy: np.ndarray
    """:math:`nL_n(A, B)` per kept draw, shape (chain, draw), float64."""
    statistic: Estimate
    r""":math:`\beta\,(E^\beta[nL_n] - nL_n(w_0))` with its Monte Carlo standard error."""


def rrr_gibbs(
    stats: dict[str, np.ndarray],
    beta: float,
    *,
    truth: dict[str, np.ndarray],
    center: dict[str, np.ndarray] | None = None,
    num_chains: int = 8,
    num_draws: int = 20_000,
    num_burnin: int = 2_000,
    seed: int = 0,
) -> GibbsRun:
    r"""Exact Gibbs draws of the tempered reduced-rank posterior, started at the truth.

    Parameters
    ----------
    stats
        ``gram`` (M, M), ``coef`` (N, M), ``rss`` and ``n_obs`` from
        :func:`slt.models.rrr.sufficient_statistics`.
    beta
        Inverse temperature of the likelihood, positive.
    truth
        ``{"A": (H, M), "B": (N, H)}``: where the chains start and :math:`w_0` of the statistic.
    center
        Prior mean ``{"A", "B"}``; ``None`` is the global prior N(0, I). The LLC's posterior at
        :math:`w_0` with localization :math:`\gamma = 1` is ``center=truth``.
    num_chains, num_draws, num_burnin, seed
        Chains (vectorized), kept sweeps per chain, discarded sweeps, numpy seed.

    Returns
    -------
    GibbsRun
    """
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive finite number; got {beta!r}")
    for name, value in (("num_chains", num_chains), ("num_draws", num_draws)):
        if int(value) < 2:
            raise ValueError(f"{name} must be at least 2; got {value!r}")
    gram = np.asarray(stats["gram"], np.float64)
    coef = np.asarray(stats["coef"], np.float64)
    a_true = np.asarray(truth["A"], np.float64)
    b_true = np.asarray(truth["B"], np.float64)
    H, M = a_true.shape
    N = coef.shape[0]
    if gram.shape != (M, M) or coef.shape != (N, M) or b_true.shape != (N, H):
        raise ValueError(
            f"shapes disagree: gram {gram.shape}, coef {coef.shape}, A {a_true.shape}, "
            f"B {b_true.shape}; need gram (M, M), coef (N, M), A (H, M), B (N, H)"
        )
    a_c = np.zeros_like(a_true) if center is None else np.asarray(center["A"], np.float64)
    b_c = np.zeros_like(b_true) if center is None else np.asarray(center["B"], np.float64)
    const = 0.5 * float(stats["rss"]) + 0.5 * float(stats["n_obs"]) * N * math.log(2 * math.pi)

    def energy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = b @ a - coef
        return 0.5 * np.einsum("cij,jk,cik->c", d, gram, d) + const

    rng = np.random.default_rng(seed)
    c = int(num_chains)
    a = np.repeat(a_true[None], c, 0)
    b = np.repeat(b_true[None], c, 0)
    eye_a, eye_b = np.eye(H * M), np.eye(H)
    trace = np.empty((int(num_burnin) + int(num_draws), c))
    for t in range(trace.shape[0]):
        btb = np.einsum("cnh,cnk->chk", b, b)
        prec = beta * np.einsum("chk,ij->chikj", btb, gram).reshape(c, H * M, H * M) + eye_a
        lin = beta * np.einsum("cnh,nm,mj->chj", b, coef, gram).reshape(c, H * M)
        a = _gaussian(rng, prec, (lin + a_c.reshape(-1))[:, None]).reshape(c, H, M)
        prec = beta * np.einsum("chm,mj,ckj->chk", a, gram, a) + eye_b
        lin = beta * np.einsum("nm,mj,chj->cnh", coef, gram, a) + b_c
        b = _gaussian(rng, prec, lin)  # the N rows of B share one precision
        trace[t] = energy(a, b)
    kept = trace[int(num_burnin) :].T
    at_truth = float(energy(a_true[None], b_true[None])[0])
    mean = posterior_mean(kept)
    return GibbsRun(kept, Estimate(beta * (mean.value - at_truth), beta * mean.se))


def _gaussian(rng: np.random.Generator, prec: np.ndarray, lin: np.ndarray) -> np.ndarray:
    r"""One draw of :math:`N(P^{-1}h, P^{-1})` for each row h of ``lin`` (..., r, k), all rows
    sharing ``prec`` (..., k, k): one factorization per leading index, not one per row. With
    :math:`P = LL^\top`, :math:`P^{-1}h + L^{-\top}z` has that law."""
    chol = np.linalg.cholesky(prec)
    cols = np.swapaxes(lin, -1, -2)  # (..., k, r): the rows as right-hand sides
    z = np.swapaxes(rng.normal(size=lin.shape), -1, -2)
    draw = np.linalg.solve(prec, cols) + np.linalg.solve(np.swapaxes(chol, -1, -2), z)
    return np.swapaxes(draw, -1, -2)
