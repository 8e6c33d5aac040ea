"""The result of an LLC estimate: the number, its error bar, its evidence."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from slt.diagnostics.verdict import Diagnostics, diagnose

__all__ = ["LLCResult"]


@dataclass(frozen=True)
class LLCResult:
    """What :func:`slt.llc` returns.

    Attributes
    ----------
    llc
        :math:`\\hat\\lambda(w^\\ast)`, the mean over the chains that did not diverge (less
        the noise bias (d/2)τ̂ when ``slt.llc`` corrected it, its default for SGLD with iid
        batches).
    mcse
        Monte Carlo standard error of ``llc``, from the ESS of the loss trace.
    llc_per_chain
        Per-chain estimates, shape (chain,); NaN for diverged chains.
    init_loss
        Per-chain :math:`\\hat L(w^\\ast)`, shape (chain,).
    rhat, ess_bulk, ess_tail
        Convergence diagnostics of the loss trace (kept chains).
    num_diverging
        Number of chains that diverged and were left out.
    datatree
        Everything, as an ``xarray.DataTree`` ArviZ reads (``sample_stats``,
        ``warmup_sample_stats``, optional ``posterior``; settings in the root attrs).
    llc_noise_corrected, llc_uncorrected
        Properties: ``llc`` less its first-order minibatch-noise bias (d/2)τ̂, and ``llc``
        without it (``slt.llc`` subtracts it by default for SGLD with iid batches).
    diagnostics, verdict
        Properties: the :class:`~slt.diagnostics.verdict.Diagnostics` of the run and its
        plain-language verdict (``"trustworthy"`` or what is wrong). ``save(path)`` writes the
        run to a netCDF file that :func:`slt.load` reads back.
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

    @property
    def llc_noise_corrected(self) -> float:
        r""":math:`\hat\lambda - \tfrac d2\hat\tau`: the estimate less the first-order bias of
        the minibatch-gradient noise (attribute ``noise_bias``, :func:`slt.gradient.noise_bias`).

        This is ``llc`` itself when the run subtracted it already (``slt.llc``'s
        ``noise_correction``, on by default for SGLD with ``batching="iid"``; attribute
        ``noise_correction``). The correction is exact to first order for a quadratic loss
        with iid batches, read through ``trace="control_variate"``: the reshuffled trace has a
        bias of its own (:mod:`slt.data`). NaN where the run has no ``noise_bias`` (SGNHT).
        """
        attrs = self.datatree.attrs
        if int(attrs.get("noise_correction", 0)):
            return self.llc
        return self.llc - float(attrs.get("noise_bias", np.nan))

    @property
    def llc_uncorrected(self) -> float:
        r"""The estimate without the noise correction (the plain :math:`n\beta(\overline{L} -
        \hat L(w^\ast))`); ``llc`` itself when the run made none."""
        return float(self.datatree.attrs.get("llc_uncorrected", self.llc))

    @property
    def diagnostics(self) -> Diagnostics:
        """R-hat, ESS, MCSE, divergences, loss below :math:`\\hat L(w^\\ast)`, MALA acceptance,
        and the verdict they give (:func:`slt.diagnostics.verdict.diagnose`; computed on each
        access)."""
        return diagnose(self.datatree)

    @property
    def verdict(self) -> str:
        """``"trustworthy"``, ``"needs more draws"``, ``"not at a minimum"`` or
        ``"step too large"``; ``self.diagnostics.reasons`` says why."""
        return self.diagnostics.verdict

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``datatree`` atomically to the netCDF file ``path`` (:func:`slt.io.save`);
        :func:`slt.load` reads it back."""
        from slt.io import save  # slt.io imports this module

        return save(self, path)

    def __repr__(self) -> str:
        chains = len(self.llc_per_chain)
        return (
            f"LLCResult(llc={self.llc:.4g} ± {self.mcse:.2g} (MCSE), rhat={self.rhat:.3f}, "
            f"ess={self.ess_bulk:.0f}, chains={chains - self.num_diverging}/{chains} kept, "
            f"verdict={self.verdict!r})"
        )
