r"""The local learning coefficient estimator, on arrays (Lau et al. 2025, arXiv:2308.12108, eq. 9).

.. math::

    \hat\lambda(w^\ast) = n\beta\,\bigl(\mathbb{E}_{w \mid w^\ast,\beta,\gamma}[L_n(w)]
    - L_n(w^\ast)\bigr).

Per chain c, :math:`\hat\lambda_c = n\beta(\bar L_c - \hat L_c(w^\ast))` with :math:`\bar L_c`
the mean of the chain's minibatch losses after burn-in and :math:`\hat L_c(w^\ast)` its own
initial-loss estimate; :math:`\hat\lambda` is the mean over the chains kept. The Monte Carlo
standard error is :math:`n\beta` times the MCSE of the mean of the loss trace, from its
effective sample size (arviz-stats, Vehtari et al. 2021), so autocorrelation within chains is
accounted for; it is not the spread of the chain means.

The diagnostics (MCSE, ESS, R-hat) are computed on the trace averaged over blocks of ``block``
draws, one epoch of minibatches by default in :func:`slt.llc`. A minibatch loss is the slow
signal :math:`L_n(w_t)` plus minibatch noise that looks independent from step to step and
dominates the variance; on the raw trace the autocorrelation estimate then misses the slow
part, and ESS and MCSE are badly optimistic. Measured on rrr(4,8,3,0), batch 1000 of
n = 10^4: raw-trace ESS 29616, MCSE 0.116, R-hat 1.000; epoch-averaged ESS 120, MCSE 0.22,
R-hat 1.02; spread of the chain means 0.23. Within an epoch the minibatch noise of batches
drawn without replacement cancels, so the block means keep the slow signal alone.
"""

from typing import NamedTuple

import numpy as np

from slt.estimators.base import ess_bulk, mcse_mean, rhat

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
    block: int = 1,
) -> LLCEstimate:
    """The LLC from a (chain, draw) trace of minibatch losses after burn-in.

    Parameters
    ----------
    loss_trace
        Minibatch losses, shape (chain, draw).
    init_loss
        :math:`\\hat L_c(w^\\ast)`, one per chain or one for all.
    nbeta
        :math:`n\\beta` with n the dataset size.
    chains_used
        Mask of the chains to average (diverged chains are left out); all when omitted.
    block
        Average non-overlapping blocks of this many draws before computing MCSE, ESS and R-hat
        (ESS then counts blocks); the estimate itself uses every draw.

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
    if not (isinstance(block, int | np.integer) and block >= 1):
        raise ValueError(f"block must be an integer >= 1; got {block!r}")
    kept = trace[used]
    if block > 1:
        if kept.shape[1] < 4 * block:
            raise ValueError(
                f"block={block} needs at least {4 * block} draws per chain; got {kept.shape[1]}"
            )
        usable = kept.shape[1] // block * block
        kept = kept[:, :usable].reshape(kept.shape[0], -1, block).mean(axis=-1)
    from arviz_stats.base import array_stats  # here, not at import: arviz-stats takes ~1 s

    with np.errstate(invalid="ignore", divide="ignore"):  # a constant trace has no R-hat: NaN
        ess_tail = float(array_stats.ess(kept, chain_axis=0, draw_axis=1, method="tail", prob=0.05))
    return LLCEstimate(
        llc=float(np.mean(per_chain[used])),
        mcse=nbeta * mcse_mean(kept),
        llc_per_chain=per_chain,
        rhat=rhat(kept),
        ess_bulk=ess_bulk(kept),
        ess_tail=ess_tail,
        chains_used=used,
    )
