r"""WAIC and the singular fluctuation, on arrays (Watanabe 2010, JMLR 11:3571).

From per-observation log-likelihoods :math:`\ell_{is} = \log p(z_i \mid w_s)` over posterior draws
(at inverse temperature :math:`\beta`; MATH.md §4):

.. math::

    T_n = -\frac1n \sum_i \log \mathbb{E}_w[p(z_i\mid w)], \qquad
    V_n = \sum_i \mathrm{Var}_w[\log p(z_i\mid w)], \qquad
    W_n = T_n + \frac{\beta}{n} V_n,

and the singular fluctuation :math:`\nu = (\beta/2)\,\mathbb{E}[V_n]`, estimated by the plug-in
:math:`(\beta/2) V_n` (:math:`\nu = \lambda = d/2` for regular models). In ArviZ's terms
:math:`\mathrm{elpd}_{\mathrm{waic}} = -nW_n` and :math:`p_{\mathrm{waic}} = V_n` (equal to
ArviZ's at :math:`\beta = 1`; posterior variances use ``ddof=0`` as legacy ArviZ does).
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

__all__ = ["WAIC", "waic"]


class WAIC(NamedTuple):
    """WAIC and its parts.

    Attributes
    ----------
    waic
        :math:`W_n = T_n + (\\beta/n) V_n`, per observation.
    training_loss
        :math:`T_n`.
    functional_variance
        :math:`V_n`.
    singular_fluctuation
        :math:`(\\beta/2) V_n`, the plug-in estimate of :math:`\\nu = (\\beta/2)\\mathbb{E}[V_n]`.
    elpd_waic
        :math:`-nW_n`.
    p_waic
        :math:`V_n`.
    se
        Standard error of :math:`nW_n` across observations, as ArviZ:
        :math:`\\sqrt{n\\,\\mathrm{var}_i(c_i)}` with pointwise contributions
        :math:`c_i = -\\log \\mathbb{E}_w[p(z_i\\mid w)]
        + \\beta\\,\\mathrm{Var}_w[\\log p(z_i\\mid w)]`.
    """

    waic: float
    training_loss: float
    functional_variance: float
    singular_fluctuation: float
    elpd_waic: float
    p_waic: float
    se: float


def waic(log_lik: np.ndarray, beta: float = 1.0) -> WAIC:
    """WAIC from per-observation log-likelihoods of posterior draws at inverse temperature beta.

    :math:`\\log \\mathbb{E}_w[p(z_i\\mid w)]` is a log-mean-exp over all draws of all chains.

    Parameters
    ----------
    log_lik
        :math:`\\log p(z_i \\mid w_s)`, shape (chain, draw, obs), finite, at least 2 draws.
    beta
        The inverse temperature the draws were sampled at, > 0 (1 for the ordinary posterior).

    Raises
    ------
    ValueError
        When ``log_lik`` is not a finite (chain, draw, obs) array with at least 2 draws and one
        observation, or ``beta`` is not finite and > 0.

    Examples
    --------
    >>> res = waic(np.full((2, 3, 4), -1.5))
    >>> res.training_loss, res.functional_variance, res.waic
    (1.5, 0.0, 1.5)
    """
    ll = np.asarray(log_lik, dtype=np.float64)
    if ll.ndim != 3:
        raise ValueError(f"log_lik must have shape (chain, draw, obs); got shape {ll.shape}")
    if ll.shape[0] * ll.shape[1] < 2 or ll.shape[2] < 1:
        raise ValueError(
            f"log_lik must hold at least 2 draws and 1 observation; got shape {ll.shape}"
        )
    if not np.all(np.isfinite(ll)):
        raise ValueError("log_lik must be finite everywhere; it holds NaN or inf")
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be finite and > 0; got {beta}")
    draws = ll.reshape(-1, ll.shape[2])  # (sample, obs)
    n_samples, n_obs = draws.shape
    lppd_i = logsumexp(draws, axis=0) - math.log(n_samples)
    var_i = np.var(draws, axis=0)
    training_loss = float(-np.mean(lppd_i))
    functional_variance = float(np.sum(var_i))
    waic_value = training_loss + beta / n_obs * functional_variance
    pointwise = -lppd_i + beta * var_i
    return WAIC(
        waic=waic_value,
        training_loss=training_loss,
        functional_variance=functional_variance,
        singular_fluctuation=beta / 2 * functional_variance,
        elpd_waic=-n_obs * waic_value,
        p_waic=functional_variance,
        se=float(math.sqrt(n_obs * np.var(pointwise))),
    )
