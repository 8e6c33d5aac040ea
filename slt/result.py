"""The result of an LLC estimate: the number, its error bar, its evidence."""

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["LLCResult"]


@dataclass(frozen=True)
class LLCResult:
    """What :func:`slt.llc` returns.

    Attributes
    ----------
    llc
        :math:`\\hat\\lambda(w^*)`, the mean over the chains that did not diverge.
    mcse
        Monte Carlo standard error of ``llc``, from the ESS of the loss trace.
    llc_per_chain
        Per-chain estimates, shape (chain,); NaN for diverged chains.
    init_loss
        Per-chain :math:`\\hat L(w^*)`, shape (chain,).
    rhat, ess_bulk, ess_tail
        Convergence diagnostics of the loss trace (kept chains).
    num_diverging
        Number of chains that diverged and were left out.
    datatree
        Everything, as an ``xarray.DataTree`` ArviZ reads (``sample_stats``,
        ``warmup_sample_stats``, optional ``posterior``; settings in the root attrs).
    """

    llc: float
    mcse: float
    llc_per_chain: np.ndarray
    init_loss: np.ndarray
    rhat: float
    ess_bulk: float
    ess_tail: float
    num_diverging: int
    datatree: xr.DataTree

    @property
    def ess(self) -> float:
        """Bulk effective sample size of the loss trace."""
        return self.ess_bulk

    def __repr__(self) -> str:
        chains = len(self.llc_per_chain)
        return (
            f"LLCResult(llc={self.llc:.4g} ± {self.mcse:.2g} (MCSE), rhat={self.rhat:.3f}, "
            f"ess={self.ess_bulk:.0f}, chains={chains - self.num_diverging}/{chains} kept)"
        )
