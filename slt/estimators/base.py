"""What the array estimators share: a value with its standard error, and input checks.

Inputs are per-draw values of :math:`nL_n(w) = -\\sum_i \\log p(z_i \\mid w)` laid out as
(chain, draw) arrays; Monte Carlo standard errors come from effective sample sizes (arviz-stats,
Vehtari et al. 2021, "Rank-normalization, folding, and localization", Bayesian Analysis 16:667),
so autocorrelation within chains is accounted for.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["MIN_DRAWS", "Estimate", "as_chain_draw", "ess_bulk", "ess_mean", "mcse_mean", "rhat"]

MIN_DRAWS = 4
"""The fewest draws per chain for which arviz-stats returns an effective sample size."""


class Estimate(NamedTuple):
    """A point estimate and its standard error.

    Attributes
    ----------
    value
        The estimate.
    se
        Its standard error (NaN where the inputs carry no error information).
    """

    value: float
    se: float


def as_chain_draw(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as a float64 (chain, draw) array of finite values, or a ValueError naming it.

    Examples
    --------
    >>> as_chain_draw([[1, 2, 3, 4]], "energy").shape
    (1, 4)
    """
    out = np.asarray(array, dtype=np.float64)
    if out.ndim != 2:
        raise ValueError(f"{name} must have shape (chain, draw); got shape {out.shape}")
    if out.shape[0] < 1 or out.shape[1] < MIN_DRAWS:
        raise ValueError(
            f"{name} must have at least 1 chain and {MIN_DRAWS} draws per chain; "
            f"got shape {out.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite everywhere; it holds NaN or inf")
    return out


def ess_mean(trace: np.ndarray) -> float:
    """The effective sample size of the mean of a (chain, draw) trace (arviz-stats, "mean")."""
    from arviz_stats.base import array_stats  # here, not at import: arviz-stats takes ~1 s

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(array_stats.ess(trace, chain_axis=0, draw_axis=1, method="mean"))


def mcse_mean(trace: np.ndarray) -> float:
    """The Monte Carlo standard error of the mean of a (chain, draw) trace (arviz-stats)."""
    from arviz_stats.base import array_stats

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(array_stats.mcse(trace, chain_axis=0, draw_axis=1, method="mean"))


def rhat(trace: np.ndarray) -> float:
    """The rank-normalized split R-hat of a (chain, draw) trace (arviz-stats); NaN for a
    constant or non-finite trace."""
    from arviz_stats.base import array_stats

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(array_stats.rhat(trace, chain_axis=0, draw_axis=1))


def ess_bulk(trace: np.ndarray) -> float:
    """The bulk effective sample size of a (chain, draw) trace (arviz-stats, "bulk")."""
    from arviz_stats.base import array_stats

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(array_stats.ess(trace, chain_axis=0, draw_axis=1, method="bulk"))
