r"""The global RLCT from tempered posterior energies (Watanabe 2013, JMLR 14:867, arXiv:1208.6338).

For :math:`\beta = \beta_0/\log n` Watanabe (2013; restated in MATH.md §3) shows

.. math::

    \mathbb{E}^{\beta}[nL_n] = nL_n(w_0) + \frac{\lambda}{\beta}
        + U_n\sqrt{\frac{\lambda}{2\beta}} + O_p(1), \qquad U_n \to N(0, 1),

so over a narrow band of temperatures :math:`\mathbb{E}^{\beta}[nL_n] \approx a + \lambda/\beta`
and the slope on :math:`1/\beta` estimates the real log canonical threshold :math:`\lambda`.
Estimators here, all on numpy arrays of :math:`nL_n(w) = -\sum_i \log p(z_i\mid w)`:

- :func:`multi_temperature`: least squares over :math:`J` temperatures in
  :func:`temperature_band`;
- :func:`two_temperature`: the two-point slope (marked *(check)* in MATH.md §3; it is the
  :math:`J = 2` case of the regression, exact for any two points of :math:`a + \lambda/\beta`);
- :func:`reweight` and :func:`multi_temperature_reweighted`: one run at :math:`\beta`,
  importance-reweighted to the band, trustworthy only while
  :math:`|\beta' - \beta|\,\mathrm{sd}(nL_n) \lesssim 1`;
- :func:`variance_rlct`: the "specific heat" :math:`\beta^2\,\mathrm{Var}^{\beta}[nL_n]`
  (Imai, arXiv:1906.01341; *(check)* in MATH.md).
"""

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from slt.estimators.base import Estimate, as_chain_draw, ess_mean, mcse_mean

__all__ = [
    "RLCTEstimate",
    "ReweightingWarning",
    "multi_temperature",
    "multi_temperature_reweighted",
    "reweight",
    "temperature_band",
    "two_temperature",
    "variance_rlct",
]


class ReweightingWarning(UserWarning):
    """Reweighting moved further than :math:`|\\Delta\\beta|\\,\\mathrm{sd}(nL_n) = 1`."""


class RLCTEstimate(NamedTuple):
    """An RLCT from tempered posterior energies, with what it was fitted to.

    Attributes
    ----------
    rlct
        :math:`\\hat\\lambda`, the slope of :math:`\\mathbb{E}^{\\beta}[nL_n]` on :math:`1/\\beta`.
    se
        Its standard error (see the function that made it).
    method
        ``"multi_temperature"``, ``"two_temperature"`` or ``"multi_temperature_reweighted"``.
    betas
        The inverse temperatures :math:`\\beta_j`.
    energies
        :math:`\\mathbb{E}^{\\beta_j}[nL_n]`.
    energy_se
        Their standard errors (NaN where none were given).
    intercept
        :math:`a` in :math:`a + \\lambda/\\beta`.
    reweighted
        Whether the energies came from reweighting one run.
    max_shift
        The largest :math:`|\\beta_j - \\beta|\\,\\mathrm{sd}(nL_n)` used in reweighting; NaN
        if none.
    trustworthy
        False when reweighting went past a shift of 1 (MATH.md §3) or the standard error is not
        finite; True otherwise.
    """

    rlct: float
    se: float
    method: str
    betas: np.ndarray
    energies: np.ndarray
    energy_se: np.ndarray
    intercept: float
    reweighted: bool
    max_shift: float
    trustworthy: bool


def temperature_band(n: int, num: int = 8) -> np.ndarray:
    """``num`` inverse temperatures evenly spaced over Watanabe's band around :math:`1/\\log n`.

    .. math::

        \\beta_j \\in \\frac{1}{\\log n}\\Bigl[1 - \\frac{1}{\\sqrt{2\\log n}},\\;
            1 + \\frac{1}{\\sqrt{2\\log n}}\\Bigr]

    (Watanabe 2013, JMLR 14:867; MATH.md §3), endpoints included.

    Parameters
    ----------
    n
        The dataset size, at least 2 (then the lower end is positive).
    num
        How many temperatures, at least 2.

    Raises
    ------
    ValueError
        When ``n < 2`` or ``num < 2``.

    Examples
    --------
    >>> band = temperature_band(1000, 3)
    >>> bool(np.isclose(band[1], 1 / np.log(1000)))
    True
    """
    if not n >= 2:
        raise ValueError(f"n must be a dataset size >= 2; got {n}")
    if not (isinstance(num, int | np.integer) and num >= 2):
        raise ValueError(f"num must be an integer >= 2; got {num!r}")
    log_n = math.log(n)
    half = 1.0 / math.sqrt(2.0 * log_n)
    return np.linspace(1.0 - half, 1.0 + half, num) / log_n


def _positive_betas(betas: np.ndarray | list[float], name: str) -> np.ndarray:
    out = np.asarray(betas, dtype=np.float64)
    if out.ndim != 1 or out.size < 2:
        raise ValueError(f"{name} must be a 1-D array of at least 2 values; got shape {out.shape}")
    if not (np.all(np.isfinite(out)) and np.all(out > 0)):
        raise ValueError(f"{name} must be finite and > 0; got {out}")
    if np.unique(out).size < 2:
        raise ValueError(f"{name} must hold at least 2 distinct values; got {out}")
    return out


class _Fit(NamedTuple):
    slope: float
    intercept: float
    coef: np.ndarray  # slope = coef @ y
    residual_se: float  # NaN when there are no residual degrees of freedom


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Fit:
    """Weighted least squares of y on x with weights w: the slope as a linear form in y."""
    x_bar = np.sum(w * x) / np.sum(w)
    y_bar = np.sum(w * y) / np.sum(w)
    s_xx = np.sum(w * (x - x_bar) ** 2)
    coef = w * (x - x_bar) / s_xx
    slope = float(coef @ y)
    intercept = float(y_bar - slope * x_bar)
    dof = x.size - 2
    if dof > 0:
        resid = y - intercept - slope * x
        residual_se = math.sqrt(float(np.sum(w * resid**2)) / dof / s_xx)
    else:
        residual_se = math.nan
    return _Fit(slope, intercept, coef, residual_se)


def _larger(a: float, b: float) -> float:
    """The larger of two standard errors, ignoring a NaN one (NaN only when both are)."""
    return float(np.fmax(a, b))


def multi_temperature(
    betas: np.ndarray | list[float],
    energies: np.ndarray | list[float],
    energy_se: np.ndarray | list[float] | None = None,
) -> RLCTEstimate:
    """The RLCT as the slope of :math:`\\mathbb{E}^{\\beta_j}[nL_n] = a + \\lambda/\\beta_j`.

    Least squares on :math:`x_j = 1/\\beta_j` (Watanabe 2013, JMLR 14:867; MATH.md §3),
    weighted by :math:`1/\\sigma_j^2` when the standard errors :math:`\\sigma_j` are given:

    .. math::

        \\hat\\lambda = \\sum_j c_j E_j, \\qquad
        c_j = \\frac{w_j (x_j - \\bar x_w)}{\\sum_k w_k (x_k - \\bar x_w)^2}.

    Standard error: with ``energy_se``, linear error propagation through the slope,
    :math:`\\sqrt{\\sum_j c_j^2 \\sigma_j^2}` (the energies at different temperatures must be
    independent, e.g. separate runs). With :math:`J > 2` points the residual-based standard
    error :math:`\\sqrt{\\chi^2_w/(J-2) / \\sum_k w_k (x_k - \\bar x_w)^2}` is computed as well
    and **the larger of the two is reported**, so a poor fit of :math:`a + \\lambda/\\beta`
    (e.g. the :math:`U_n\\sqrt{\\lambda/2\\beta}` term) widens the error bar rather than hiding.
    Without ``energy_se`` the fit is unweighted and only the residual-based error exists
    (NaN when :math:`J = 2`).

    Parameters
    ----------
    betas
        The inverse temperatures, > 0, at least two distinct.
    energies
        :math:`\\mathbb{E}^{\\beta_j}[nL_n]`, finite, one per temperature.
    energy_se
        Their standard errors, finite and > 0; optional.

    Raises
    ------
    ValueError
        Naming the argument that breaks the above.

    Examples
    --------
    >>> b = np.array([0.1, 0.15, 0.2])
    >>> est = multi_temperature(b, 5.0 + 2.5 / b)
    >>> round(est.rlct, 9), round(est.intercept, 9)
    (2.5, 5.0)
    """
    beta = _positive_betas(betas, "betas")
    energy = np.asarray(energies, dtype=np.float64)
    if energy.shape != beta.shape or not np.all(np.isfinite(energy)):
        raise ValueError(
            f"energies must be finite with the shape of betas {beta.shape}; "
            f"got shape {energy.shape}"
        )
    if energy_se is None:
        sigma = np.full(beta.shape, np.nan)
        fit = _wls(1.0 / beta, energy, np.ones_like(beta))
        se = fit.residual_se
    else:
        sigma = np.asarray(energy_se, dtype=np.float64)
        if sigma.shape != beta.shape or not (np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
            raise ValueError(
                f"energy_se must be finite and > 0 with the shape of betas {beta.shape}; "
                f"got {sigma}"
            )
        fit = _wls(1.0 / beta, energy, sigma**-2)
        propagated = math.sqrt(float(np.sum(fit.coef**2 * sigma**2)))
        se = _larger(propagated, fit.residual_se)
    return RLCTEstimate(
        rlct=fit.slope,
        se=se,
        method="multi_temperature",
        betas=beta,
        energies=energy,
        energy_se=sigma,
        intercept=fit.intercept,
        reweighted=False,
        max_shift=math.nan,
        trustworthy=bool(np.isfinite(se)),
    )


def two_temperature(
    beta1: float, e1: float, se1: float, beta2: float, e2: float, se2: float
) -> RLCTEstimate:
    """The two-temperature RLCT :math:`(E_1 - E_2)/(1/\\beta_1 - 1/\\beta_2)`.

    MATH.md §3 (marked *(check)* there): the slope through two points of
    :math:`\\mathbb{E}^{\\beta}[nL_n] = a + \\lambda/\\beta`, exact when that form holds. With
    independent energies (separate runs) its standard error by propagation is

    .. math::

        \\mathrm{se}(\\hat\\lambda) = \\frac{\\sqrt{\\sigma_1^2 + \\sigma_2^2}}
            {\\lvert 1/\\beta_1 - 1/\\beta_2 \\rvert}.

    Energies reweighted from one run are correlated: use :func:`multi_temperature_reweighted`.

    Raises
    ------
    ValueError
        When a beta is not finite and > 0, the betas are equal, an energy is not finite, or a
        standard error is not finite and >= 0.

    Examples
    --------
    >>> two_temperature(0.1, 30.0, 0.0, 0.2, 20.0, 0.0).rlct
    2.0
    """
    beta = _positive_betas([beta1, beta2], "beta1, beta2")
    energy = np.array([e1, e2], dtype=np.float64)
    if not np.all(np.isfinite(energy)):
        raise ValueError(f"e1 and e2 must be finite; got {e1}, {e2}")
    sigma = np.array([se1, se2], dtype=np.float64)
    if not (np.all(np.isfinite(sigma)) and np.all(sigma >= 0)):
        raise ValueError(f"se1 and se2 must be finite and >= 0; got {se1}, {se2}")
    dx = 1.0 / beta[0] - 1.0 / beta[1]
    rlct = float((energy[0] - energy[1]) / dx)
    se = float(math.hypot(sigma[0], sigma[1]) / abs(dx))
    return RLCTEstimate(
        rlct=rlct,
        se=se,
        method="two_temperature",
        betas=beta,
        energies=energy,
        energy_se=sigma,
        intercept=float(energy[0] - rlct / beta[0]),
        reweighted=False,
        max_shift=math.nan,
        trustworthy=True,
    )


class _Reweighted(NamedTuple):
    means: np.ndarray  # (J,)
    se: np.ndarray  # (J,)
    shift: np.ndarray  # (J,)
    weights: np.ndarray  # (J, N) self-normalised
    centred: np.ndarray  # (N,) energy minus its plain mean
    centred_means: np.ndarray  # (J,) means of `centred` under the weights
    inflation: float  # max(1, N / ESS)


def _reweight(trace: np.ndarray, beta_from: float, beta_to: np.ndarray) -> _Reweighted:
    flat = trace.ravel()
    n_draws = flat.size
    centred = flat - flat.mean()  # the constant cancels in self-normalised weights
    log_w = -(beta_to[:, None] - beta_from) * centred[None, :]
    weights = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    centred_means = weights @ centred
    variance = np.sum(weights**2 * (centred[None, :] - centred_means[:, None]) ** 2, axis=1)
    ess = ess_mean(trace)
    inflation = max(1.0, n_draws / ess) if np.isfinite(ess) and ess > 0 else math.inf
    sd = float(np.std(flat, ddof=1))
    return _Reweighted(
        means=flat.mean() + centred_means,
        se=np.sqrt(variance * inflation),
        shift=np.abs(beta_to - beta_from) * sd,
        weights=weights,
        centred=centred,
        centred_means=centred_means,
        inflation=inflation,
    )


def _finite_beta(value: float, name: str) -> float:
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be finite and > 0; got {value}")
    return out


def reweight(
    energy: np.ndarray, beta_from: float, beta_to: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior means of :math:`nL_n` at other temperatures by importance reweighting.

    From draws :math:`w_s` of the posterior at :math:`\\beta`, with
    :math:`O_s = nL_n(w_s)` (MATH.md §3),

    .. math::

        \\mathbb{E}^{\\beta'}[nL_n] \\approx \\frac{\\sum_s O_s \\tilde w_s}{\\sum_s \\tilde w_s},
        \\qquad \\log \\tilde w_s = -(\\beta' - \\beta)\\, O_s,

    normalised with log-sum-exp. Standard error: the delta-method variance of the
    self-normalised importance sampling estimator, :math:`\\sum_s \\bar w_s^2 (O_s - \\hat\\mu)^2`
    with :math:`\\bar w_s = \\tilde w_s / \\sum \\tilde w` (Owen, *Monte Carlo theory, methods and
    examples*, 2013, §9.2), multiplied by :math:`\\max(1, N/\\mathrm{ESS})` with ESS the
    effective sample size of the mean of the energy trace (arviz-stats), so autocorrelation in
    the chains widens the error. At :math:`\\beta' = \\beta` this is the ordinary MCSE (unless
    the ESS exceeds N, which is not allowed to shrink the error). Both approximations degrade as
    the shift :math:`|\\beta' - \\beta|\\,\\mathrm{sd}(nL_n)` grows past 1: the weights then
    concentrate on a few draws and the error estimate itself is unreliable.

    Parameters
    ----------
    energy
        :math:`nL_n(w_s)` for draws at ``beta_from``, shape (chain, draw).
    beta_from
        The inverse temperature the draws were sampled at, > 0.
    beta_to
        The target inverse temperature(s), > 0.

    Returns
    -------
    means, se, shift
        Arrays with the shape of ``beta_to``: the reweighted means, their standard errors, and
        :math:`|\\beta' - \\beta|\\,\\mathrm{sd}(nL_n)`.

    Raises
    ------
    ValueError
        When ``energy`` is not a finite (chain, draw) array or a beta is not finite and > 0.
    """
    trace = as_chain_draw(energy, "energy")
    b_from = _finite_beta(beta_from, "beta_from")
    b_to = np.asarray(beta_to, dtype=np.float64)
    if not (np.all(np.isfinite(b_to)) and np.all(b_to > 0)):
        raise ValueError(f"beta_to must be finite and > 0; got {beta_to}")
    out = _reweight(trace, b_from, b_to.ravel())
    shape = b_to.shape
    return out.means.reshape(shape), out.se.reshape(shape), out.shift.reshape(shape)


def multi_temperature_reweighted(
    energy: np.ndarray, beta: float, betas: np.ndarray | list[float]
) -> RLCTEstimate:
    """The multi-temperature RLCT from one run, reweighted to each :math:`\\beta_j`.

    The energies :math:`\\mathbb{E}^{\\beta_j}[nL_n]` come from :func:`reweight`, then the slope
    is fitted as in :func:`multi_temperature` (weights :math:`1/\\sigma_j^2`). The reweighted
    means share their draws, so their errors are strongly correlated and independent
    propagation would be wrong; the slope's standard error is instead the delta method on the
    whole estimator, with influence of draw :math:`s`
    :math:`\\psi_s = \\sum_j c_j \\bar w_{js} (O_s - \\hat\\mu_j)`, variance
    :math:`\\sum_s \\psi_s^2 \\cdot \\max(1, N/\\mathrm{ESS})`; the larger of that and the
    residual-based error is reported.

    Since :math:`\\mathrm{d}\\,\\mathbb{E}^{\\beta}[nL_n]/\\mathrm{d}\\beta =
    -\\mathrm{Var}^{\\beta}[nL_n]`, over a narrow band this is close to :func:`variance_rlct`.

    The result is ``trustworthy`` only while every shift
    :math:`|\\beta_j - \\beta|\\,\\mathrm{sd}(nL_n) \\le 1` (MATH.md §3); otherwise a
    :class:`ReweightingWarning` is emitted.

    Parameters
    ----------
    energy
        :math:`nL_n(w_s)` for draws at ``beta``, shape (chain, draw).
    beta
        The inverse temperature sampled, > 0 (typically :math:`1/\\log n`).
    betas
        The temperatures to fit over (e.g. :func:`temperature_band`).

    Raises
    ------
    ValueError
        As :func:`reweight` and :func:`multi_temperature`.
    """
    trace = as_chain_draw(energy, "energy")
    b_from = _finite_beta(beta, "beta")
    b_to = _positive_betas(betas, "betas")
    rw = _reweight(trace, b_from, b_to)
    weights = rw.se**-2 if np.all(rw.se > 0) and np.all(np.isfinite(rw.se)) else np.ones_like(b_to)
    fit = _wls(1.0 / b_to, rw.means, weights)
    influence = fit.coef @ (rw.weights * (rw.centred[None, :] - rw.centred_means[:, None]))
    joint = math.sqrt(float(np.sum(influence**2)) * rw.inflation)
    se = _larger(joint, fit.residual_se)
    max_shift = float(np.max(rw.shift))
    trustworthy = bool(max_shift <= 1.0 and np.isfinite(se))
    if max_shift > 1.0:
        warnings.warn(
            f"reweighting shift |beta' - beta| * sd(nL_n) reaches {max_shift:.3g} > 1: the "
            "reweighted energies are unreliable; narrow the temperature band or sample each "
            "temperature separately",
            ReweightingWarning,
            stacklevel=2,
        )
    return RLCTEstimate(
        rlct=fit.slope,
        se=se,
        method="multi_temperature_reweighted",
        betas=b_to,
        energies=rw.means,
        energy_se=rw.se,
        intercept=fit.intercept,
        reweighted=True,
        max_shift=max_shift,
        trustworthy=trustworthy,
    )


def variance_rlct(energy: np.ndarray, beta: float) -> Estimate:
    """The "specific heat" RLCT :math:`\\hat\\lambda_V = \\beta^2\\,\\mathrm{Var}^{\\beta}[nL_n]`.

    Imai (arXiv:1906.01341), marked *(check)* in MATH.md §3: the formula is taken from the
    abstract and a derivation, not a verified full text. The derivation: exactly,
    :math:`\\mathrm{d}\\,\\mathbb{E}^{\\beta}[nL_n]/\\mathrm{d}\\beta
    = -\\mathrm{Var}^{\\beta}[nL_n]`, so if :math:`\\mathbb{E}^{\\beta}[nL_n] = a + \\lambda/\\beta`
    near :math:`\\beta` then
    :math:`\\lambda = \\beta^2 \\mathrm{Var}^{\\beta}[nL_n]`. Differentiating Watanabe's
    expansion term by term (an assumption: the remainder's derivative is not controlled by the
    theorem) adds :math:`\\tfrac12 U_n\\sqrt{\\lambda\\beta/2}`, a bias of order
    :math:`1/\\sqrt{\\log n}` at :math:`\\beta = 1/\\log n`.

    Standard error: :math:`\\mathrm{Var}` is the mean of :math:`y_s = (O_s - \\bar O)^2`, so
    its Monte Carlo error is the MCSE of the mean of the trace :math:`y` (ESS-based,
    arviz-stats), times :math:`\\beta^2`. Estimating :math:`\\bar O` contributes only
    :math:`O(1/N)`. This delta method was chosen over batch means because it uses the same
    ESS machinery as every other error here and needs no batch length; it does account for
    autocorrelation through the ESS of :math:`y`, which mixes more slowly than :math:`O` itself
    when the chains move slowly through the tails.

    Parameters
    ----------
    energy
        :math:`nL_n(w_s)` for draws at ``beta``, shape (chain, draw).
    beta
        The inverse temperature sampled, > 0.

    Raises
    ------
    ValueError
        When ``energy`` is not a finite (chain, draw) array or ``beta`` is not finite and > 0.

    Examples
    --------
    >>> est = variance_rlct(np.array([[1.0, 3.0, 1.0, 3.0]]), beta=0.5)
    >>> round(est.value, 6)
    0.333333
    """
    trace = as_chain_draw(energy, "energy")
    b = _finite_beta(beta, "beta")
    sq = (trace - trace.mean()) ** 2
    variance = float(sq.sum() / (trace.size - 1))
    return Estimate(value=b**2 * variance, se=b**2 * mcse_mean(sq))
