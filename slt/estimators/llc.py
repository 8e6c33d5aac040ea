r"""The local learning coefficient estimator, on arrays (Lau et al. 2025, arXiv:2308.12108, eq. 9).

.. math::

    \hat\lambda(w^*) = n\beta\,\bigl(\mathbb{E}_{w \mid w^*,\beta,\gamma}[L_n(w)] - L_n(w^*)\bigr).

Per chain c, :math:`\hat\lambda_c = n\beta(\bar L_c - \hat L_c(w^*))` with :math:`\bar L_c` the mean
of the chain's minibatch losses after burn-in and :math:`\hat L_c(w^*)` its own initial-loss
estimate; :math:`\hat\lambda` is the mean over the chains kept. The Monte Carlo standard error is
:math:`n\beta` times the MCSE of the mean of the loss trace, from its effective sample size
(arviz-stats, Vehtari et al. 2021), so autocorrelation within chains is accounted for; it is not
the spread of the chain means.
"""

from typing import NamedTuple

import numpy as np
from arviz_stats.base import array_stats

__all__ = ["LLCEstimate", "estimate_llc"]


class LLCEstimate(NamedTuple):
    """An LLC with its error bar and the convergence diagnostics of its loss trace.

    Attributes
    ----------
    llc
        :math:`\\hat\\lambda`, the mean over the chains kept.
    mcse
        Its Monte Carlo standard error.
    llc_per_chain
        :math:`\\hat\\lambda_c` for every chain (NaN for chains left out).
    rhat
        Rank-normalised split R-hat of the loss trace over the chains kept.
    ess_bulk, ess_tail
        Bulk and tail effective sample sizes of the loss trace over the chains kept.
    chains_used
        Boolean mask of the chains kept.
    """

    llc: float
    mcse: float
    llc_per_chain: np.ndarray
    rhat: float
    ess_bulk: float
    ess_tail: float
    chains_used: np.ndarray


def estimate_llc(
    loss_trace: np.ndarray,
    init_loss: np.ndarray | float,
    nbeta: float,
    *,
    chains_used: np.ndarray | None = None,
) -> LLCEstimate:
    """The LLC from a (chain, draw) trace of minibatch losses after burn-in.

    Parameters
    ----------
    loss_trace
        Minibatch losses, shape (chain, draw).
    init_loss
        :math:`\\hat L_c(w^*)`, one per chain or one for all.
    nbeta
        :math:`n\\beta` with n the dataset size.
    chains_used
        Mask of the chains to average (diverged chains are left out); all when omitted.

    Raises
    ------
    ValueError
        When the trace is not two-dimensional or no chain is kept.
    """
    trace = np.asarray(loss_trace, dtype=np.float64)
    if trace.ndim != 2:
        raise ValueError(f"loss_trace must have shape (chain, draw); got {trace.shape}")
    init = np.broadcast_to(np.asarray(init_loss, dtype=np.float64), trace.shape[:1])
    used = np.ones(trace.shape[0], bool) if chains_used is None else np.asarray(chains_used, bool)
    if not used.any():
        raise ValueError("no chain is kept: chains_used is all False")
    per_chain = np.where(used, nbeta * (trace.mean(axis=1) - init), np.nan)
    kept = trace[used]
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant trace has no R-hat: NaN
        mcse = nbeta * float(array_stats.mcse(kept, chain_axis=0, draw_axis=1, method="mean"))
        rhat = float(array_stats.rhat(kept, chain_axis=0, draw_axis=1))
        ess_bulk = float(array_stats.ess(kept, chain_axis=0, draw_axis=1, method="bulk"))
        ess_tail = float(array_stats.ess(kept, chain_axis=0, draw_axis=1, method="tail", prob=0.05))
    return LLCEstimate(
        llc=float(np.mean(per_chain[used])),
        mcse=mcse,
        llc_per_chain=per_chain,
        rhat=rhat,
        ess_bulk=ess_bulk,
        ess_tail=ess_tail,
        chains_used=used,
    )
