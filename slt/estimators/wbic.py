r"""The widely applicable Bayesian information criterion, on arrays (Watanabe 2013, JMLR 14:867).

.. math::

    \mathrm{WBIC} = \mathbb{E}^{\beta}_w\bigl[nL_n(w)\bigr], \qquad \beta = 1/\log n,

the mean of :math:`nL_n(w) = -\sum_i \log p(z_i \mid w)` over the tempered posterior
:math:`p_\beta(w) \propto \varphi(w) \prod_i p(z_i \mid w)^{\beta}` with the ordinary prior
(Watanabe 2013, arXiv:1208.6338, the definition of WBIC and its main theorem:
:math:`\mathrm{WBIC} = F_n + O_p(\sqrt{\log n})`). The standard error is the Monte Carlo
standard error of the mean of the energy trace, from its effective sample size (arviz-stats).
"""

import math

import numpy as np

from slt.estimators.base import Estimate, as_chain_draw, mcse_mean

__all__ = ["posterior_mean", "wbic", "wbic_beta"]


def wbic_beta(n: int) -> float:
    """The WBIC inverse temperature :math:`\\beta = 1/\\log n`.

    Parameters
    ----------
    n
        The dataset size, at least 2.

    Raises
    ------
    ValueError
        When ``n < 2`` (then :math:`\\log n \\le 0`).

    Examples
    --------
    >>> round(wbic_beta(1000), 6)
    0.144765
    """
    if not n >= 2:
        raise ValueError(f"n must be a dataset size >= 2; got {n}")
    return 1.0 / math.log(n)


def posterior_mean(energy: np.ndarray) -> Estimate:
    """The posterior mean of a (chain, draw) trace with its Monte Carlo standard error.

    Parameters
    ----------
    energy
        Per-draw values, shape (chain, draw), finite, at least 4 draws per chain.

    Returns
    -------
    Estimate
        The mean over all draws and its MCSE, :math:`\\mathrm{sd}/\\sqrt{\\mathrm{ESS}}` with the
        ESS of the mean (arviz-stats ``mcse(method="mean")``); a constant trace has MCSE 0.

    Examples
    --------
    >>> posterior_mean(np.full((2, 10), 3.0))
    Estimate(value=3.0, se=0.0)
    """
    trace = as_chain_draw(energy, "energy")
    return Estimate(value=float(trace.mean()), se=mcse_mean(trace))


def wbic(energy: np.ndarray) -> Estimate:
    """WBIC: the posterior mean of :math:`nL_n(w)` at :math:`\\beta = 1/\\log n`.

    The caller must have sampled the tempered posterior at exactly :math:`\\beta = 1/\\log n`
    (:func:`wbic_beta`) with the ordinary prior; this function cannot check it, it only averages.

    Parameters
    ----------
    energy
        :math:`nL_n(w_s) = -\\sum_i \\log p(z_i \\mid w_s)` per draw, shape (chain, draw): the
        full-data negative log-likelihood (not the mean loss :math:`L_n`, not minibatch values).

    Returns
    -------
    Estimate
        WBIC (Watanabe 2013, JMLR 14:867) and its Monte Carlo standard error.
    """
    return posterior_mean(energy)
