r"""Watanabe's global quantities from NumPyro models: WBIC, the RLCT, the free energy, WAIC.

Each function samples tempered posteriors with :func:`slt.sample_tempered` (or takes a fit), hands
the (chain, draw) arrays to the array estimators of :mod:`slt.estimators`, and returns a
:class:`GlobalEstimate`: the value, its standard error, and a DataTree with every fit.

* WBIC (Watanabe 2013, JMLR 14:867): :math:`E^{\beta}[nL_n]` at :math:`\beta = 1/\log n`.
* RLCT: least squares of :math:`E^{\beta_j}[nL_n]` on :math:`1/\beta_j` over a band of
  temperatures around :math:`1/\log n` (separate chains or reweighting one chain), the
  two-temperature difference, or :math:`\beta^2\mathrm{Var}^\beta[nL_n]` (Imai 2019).
* Free energy :math:`F_n = \int_0^1 E^t[nL_n]\,dt` by thermodynamic integration or stepping
  stones (the prior must be normalised).
* WAIC (Watanabe 2010, JMLR 11:3571) with the functional variance and singular fluctuation.
"""

from typing import Any, Literal, NamedTuple

import numpy as np
import xarray as xr

from slt._version import __version__
from slt.diagnostics.convert import attr_value
from slt.estimators import free_energy as fe
from slt.estimators import rlct as rl
from slt.estimators import waic as wa
from slt.estimators import wbic as wb
from slt.tempering import observed_sites
from slt.workflows.checks import check_int
from slt.workflows.tempered import (
    TemperedFit,
    TemperedSampler,
    _infer_n,
    sample_tempered,
    wbic_beta,
)

__all__ = ["GlobalEstimate", "free_energy", "rlct", "tempered_fits", "waic", "wbic"]


class GlobalEstimate(NamedTuple):
    """A global quantity with its standard error and the evidence.

    Attributes
    ----------
    value
        The estimate (WBIC, λ̂, F_n or WAIC).
    se
        Its standard error, in the units of ``value``: the Monte Carlo error; for WAIC the
        error over observations of the per-observation :math:`W_n`,
        :math:`\\sqrt{\\mathrm{var}_i(c_i)/n}` (``details["se"]`` is ArviZ's, that of
        :math:`nW_n`).
    method
        How it was computed.
    datatree
        The whole run: the root records the estimate (attrs ``estimator``, ``method``,
        ``value``, ``se``, ``n`` and the method's settings) and per-temperature summaries (dim
        ``temperature``: ``beta``, ``energy_mean``, ``energy_se``, ``num_divergent``; with
        ``reweight=True`` also ``reweighted_beta``, ``reweighted_energy_mean`` and
        ``reweighted_energy_se``, dim ``reweighted``, the energies the slope is fitted to); the
        children ``t0``, ``t1``, … are the :class:`TemperedFit` DataTrees. It saves with
        :func:`slt.io.save`, and ``slt report`` reads it.
    details
        Method-specific numbers (intercept, reweighting shift, trustworthiness, ...).
    """

    value: float
    se: float
    method: str
    datatree: xr.DataTree
    details: dict[str, Any]


def _estimate(
    value: float,
    se: float,
    method: str,
    fits: list[TemperedFit],
    attrs: dict[str, Any],
    details: dict[str, Any],
    summary: dict[str, np.ndarray] | None = None,
    extra: dict[str, tuple[str, np.ndarray]] | None = None,
) -> GlobalEstimate:
    """The estimate, with a DataTree whose root records it (``value``, ``se``, ``method`` and
    ``attrs``) beside the per-temperature summary (and the ``extra`` variables, by dim), and
    whose children are the fits."""
    summary = _energy_summary(fits) if summary is None else summary
    root = xr.Dataset({k: ("temperature", np.asarray(v)) for k, v in summary.items()})
    root = root.assign({k: (dim, np.asarray(v)) for k, (dim, v) in (extra or {}).items()})
    attrs = {
        "inference_library": "slt",
        "slt_version": __version__,
        **attrs,
        "method": method,
        "value": float(value),
        "se": float(se),
    }
    root.attrs.update({k: attr_value(v) for k, v in attrs.items()})
    tree = xr.DataTree.from_dict({"/": root} | {f"t{i}": f.datatree for i, f in enumerate(fits)})
    return GlobalEstimate(float(value), float(se), method, tree, details)


def _energy_summary(fits: list[TemperedFit]) -> dict[str, np.ndarray]:
    means = [wb.posterior_mean(f.energy) for f in fits]
    return {
        "beta": np.array([f.beta for f in fits]),
        "energy_mean": np.array([m.value for m in means]),
        "energy_se": np.array([m.se for m in means]),
        "num_divergent": np.array([f.num_divergent for f in fits]),
    }


def _check_sample_kwargs(caller: str, kwargs: dict[str, Any]) -> None:
    """Refuse a keyword ``caller`` would pass on to :func:`slt.sample_tempered` that it does not
    take, naming ``caller`` rather than the sampler class deep inside it."""
    import inspect

    allowed = set(inspect.signature(sample_tempered).parameters) - {"model", "data", "beta", "n"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"{caller}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"it passes its other keywords to slt.sample_tempered, which takes "
            f"{', '.join(sorted(allowed))}"
        )


def tempered_fits(
    model, data: dict[str, Any], betas, *, n: int | None = None, seed: int = 0, **kwargs: Any
) -> list[TemperedFit]:
    """One tempered fit per β in ``betas`` (β = 0 samples the prior), fit j from ``seed + j``.

    The sampler is compiled once for all temperatures (:class:`TemperedSampler`); ``kwargs``
    are those of :func:`slt.sample_tempered`.
    """
    _check_sample_kwargs("tempered_fits", kwargs)
    seed = check_int("seed", seed, low=0)
    sampler = TemperedSampler(model, data, n=n, **kwargs)
    return [sampler.fit(float(b), seed + j) for j, b in enumerate(betas)]


def wbic(fit: TemperedFit) -> GlobalEstimate:
    """WBIC :math:`= E^{\\beta}[nL_n]` from a fit sampled at :math:`\\beta = 1/\\log n`.

    Raises
    ------
    ValueError
        When the fit was sampled at another temperature.
    """
    target = wbic_beta(fit.n)
    if not np.isclose(fit.beta, target, rtol=1e-6):
        raise ValueError(
            f"fit was sampled at beta={fit.beta:g}; WBIC needs beta = 1/log n = {target:g} "
            "(pass beta=slt.wbic_beta(n) to sample_tempered)"
        )
    est = wb.wbic(fit.energy)
    return _estimate(
        est.value, est.se, "wbic", [fit], {"estimator": "wbic", "n": fit.n}, {"n": fit.n}
    )


def waic(fit: TemperedFit) -> GlobalEstimate:
    """WAIC :math:`W_n = T_n + (\\beta/n)V_n` per observation, with :math:`V_n` and ν in
    ``details``.

    Its ``se`` is that of :math:`W_n`, :math:`\\sqrt{\\mathrm{var}_i(c_i)/n}` over the pointwise
    contributions :math:`c_i` (:class:`slt.estimators.waic.WAIC`); ``details["se"]`` is ArviZ's,
    :math:`n` times larger, for :math:`nW_n` and ``elpd_waic``.
    """
    if "log_likelihood" not in fit.datatree.children:
        raise ValueError("fit has no log_likelihood group: sample with keep_log_likelihood=True")
    log_lik = np.asarray(fit.datatree["log_likelihood"]["obs"])
    res = wa.waic(log_lik, beta=fit.beta)
    return _estimate(
        res.waic,
        res.se / log_lik.shape[-1],
        "waic",
        [fit],
        {"estimator": "waic", "n": fit.n},
        res._asdict(),
    )


def rlct(
    model,
    data: dict[str, Any],
    *,
    method: Literal["multi_temperature", "two_temperature", "variance"] = "multi_temperature",
    betas: np.ndarray | list[float] | None = None,
    num_temperatures: int = 8,
    reweight: bool = False,
    n: int | None = None,
    **sample_kwargs: Any,
) -> GlobalEstimate:
    """The global RLCT λ of ``model`` at its data-generating truth.

    Parameters
    ----------
    model, data
        A NumPyro model and its keyword arguments.
    method
        ``"multi_temperature"``: slope of :math:`E^{\\beta_j}[nL_n]` on :math:`1/\\beta_j`
        over ``betas`` (default: the band of :func:`slt.estimators.rlct.temperature_band`);
        ``"two_temperature"``: the band's end points only; ``"variance"``:
        :math:`\\beta^2\\mathrm{Var}^\\beta[nL_n]` at :math:`\\beta = 1/\\log n` (Imai 2019; an
        unverified formula, see docs/global.md).
    betas
        Temperatures for the multi- or two-temperature methods.
    num_temperatures
        Size of the default band.
    reweight
        Multi-temperature only: sample once at :math:`1/\\log n` and reweight to each
        :math:`\\beta_j` instead of sampling each; ``details["trustworthy"]`` says whether every
        shift :math:`|\\Delta\\beta|\\,\\mathrm{sd}(nL_n)` stayed below 1.
    n
        Number of observations (inferred from the data plate when omitted).
    **sample_kwargs
        Passed to :func:`slt.sample_tempered` (sampler, num_chains, num_warmup, num_samples,
        seed, ...).
    """
    _check_sample_kwargs("rlct", sample_kwargs)
    n = _infer_n(observed_sites(model, data), n)
    if method not in ("multi_temperature", "two_temperature", "variance"):
        raise ValueError(
            f"method must be 'multi_temperature', 'two_temperature' or 'variance'; got {method!r}"
        )
    beta0 = wbic_beta(n)
    if betas is None:
        num = (
            2
            if method == "two_temperature"
            else check_int("num_temperatures", num_temperatures, low=2)
        )
        betas_arr = rl.temperature_band(n, num)
    else:
        betas_arr = np.asarray(betas, dtype=float)
        if betas_arr.ndim != 1 or betas_arr.size < 2 or not np.all(betas_arr > 0):
            raise ValueError(f"betas must be at least two positive numbers; got {betas!r}")
    if method == "two_temperature" and betas_arr.size != 2:
        raise ValueError(f"two_temperature needs exactly two betas; got {betas_arr.size}")
    kw = dict(sample_kwargs, keep_log_likelihood=sample_kwargs.get("keep_log_likelihood", False))

    if method == "variance" or (method == "multi_temperature" and reweight):
        fit = sample_tempered(model, data, beta=beta0, n=n, **kw)
        fits = [fit]
        summary = _energy_summary(fits)
        if method == "variance":
            est = rl.variance_rlct(fit.energy, beta0)
            value, se = est.value, est.se
            details: dict[str, Any] = {"beta": beta0}
        else:
            res = rl.multi_temperature_reweighted(fit.energy, beta0, betas_arr)
            value, se = res.rlct, res.se
            details = {
                "betas": res.betas,
                "energies": res.energies,
                "energy_se": res.energy_se,
                "intercept": res.intercept,
                "max_shift": res.max_shift,
                "trustworthy": res.trustworthy,
                "reweighted": True,
            }
    else:
        fits = tempered_fits(model, data, betas_arr, n=n, **kw)  # betas_arr checked > 0 above
        summary = _energy_summary(fits)
        if method == "two_temperature":
            (b1, b2), (e1, e2), (s1, s2) = betas_arr, summary["energy_mean"], summary["energy_se"]
            res = rl.two_temperature(b1, e1, s1, b2, e2, s2)
        else:
            res = rl.multi_temperature(betas_arr, summary["energy_mean"], summary["energy_se"])
        value, se = res.rlct, res.se
        details = {"betas": betas_arr, "intercept": res.intercept, "reweighted": False}
    attrs = {"estimator": "rlct", "n": n, "rlct": value, "rlct_se": se}
    if "intercept" in details:  # the line E^β[nL_n] = intercept + λ/β, for the report's figure
        attrs["intercept"] = details["intercept"]
    extra = None
    if details.get("reweighted"):  # the energies the slope was fitted to, beside the one fit
        extra = {
            "reweighted_beta": ("reweighted", details["betas"]),
            "reweighted_energy_mean": ("reweighted", details["energies"]),
            "reweighted_energy_se": ("reweighted", details["energy_se"]),
        }
    return _estimate(value, se, method, fits, attrs, details, summary, extra)


def free_energy(
    model,
    data: dict[str, Any],
    *,
    method: Literal["thermodynamic", "stepping_stone"] = "thermodynamic",
    num_temperatures: int = 48,
    schedule: Literal["geometric", "power"] = "geometric",
    t_min: float | None = None,
    power: float | None = None,
    rule: Literal["trapezoid", "hyperbolic"] = "hyperbolic",
    n: int | None = None,
    **sample_kwargs: Any,
) -> GlobalEstimate:
    """The Bayes free energy :math:`F_n = -\\log\\int\\varphi(w)\\prod_i p(z_i\\mid w)\\,dw`.

    Samples :math:`E^{t}[nL_n]` at ``num_temperatures`` + 1 temperatures from :math:`t_0 = 0`
    (the prior, which must be proper and normalised) to 1 and integrates over :math:`t`
    (``"thermodynamic"``), or multiplies stepping-stone ratios (``"stepping_stone"``).

    The defaults are those ``slt validate-ti`` checked against the exact evidence of Bayesian
    linear regression (docs/global.md): 48 temperatures geometric from
    :math:`t_{\\min} = 10^{-5}/n` to 1 (:func:`slt.estimators.free_energy.geometric_schedule`),
    dense across the prior-to-likelihood transition at :math:`t \\approx 1/(n\\sigma^2)`, and the
    interval-wise :math:`a + b/t` rule (:func:`slt.estimators.free_energy.hyperbolic_weights`),
    exact in the :math:`1/t` regime of :math:`E^t[nL_n]`: -0.08 nats at n = 100 and -0.05 at
    n = 10^4 there. The power schedule :math:`(k/K)^{5}` (``schedule="power"``) with the
    trapezoid rule is biased by an amount that grows with n: on the conjugate Gaussian mean
    (prior sd 10, exact energies) K = 24 errs by +1.5 nats at n = 10^4 where the defaults err by
    -0.008.

    Parameters
    ----------
    model, data
        A NumPyro model and its keyword arguments.
    method
        ``"thermodynamic"`` or ``"stepping_stone"``.
    num_temperatures
        :math:`K`, the temperatures above 0, at least 2.
    schedule
        ``"geometric"``: 0, then :math:`K` temperatures geometric from ``t_min`` to 1;
        ``"power"``: :math:`t_k = (k/K)^{\\text{power}}`, k = 0..K.
    t_min
        The geometric schedule's smallest positive temperature, in (0, 1); default
        :math:`10^{-5}/n`, two or more decades below the transition at :math:`1/(n\\sigma^2)`
        for a prior of scale σ ≤ 30; pass a smaller one for wider priors.
    power
        The power schedule's exponent (> 0); default 5.
    rule
        The thermodynamic quadrature: ``"hyperbolic"`` (:math:`a + b/t` on each interval) or
        ``"trapezoid"``.
    n
        Number of observations (inferred from the data plate when omitted).
    **sample_kwargs
        Passed to :func:`slt.sample_tempered`.

    Raises
    ------
    ValueError
        Naming the argument: an unknown ``method``, ``schedule`` or ``rule``, ``t_min`` with
        the power schedule or ``power`` with the geometric one, or a value out of range.
    """
    if method not in ("thermodynamic", "stepping_stone"):
        raise ValueError(f"method must be 'thermodynamic' or 'stepping_stone'; got {method!r}")
    if rule not in ("trapezoid", "hyperbolic"):
        raise ValueError(f"rule must be 'trapezoid' or 'hyperbolic'; got {rule!r}")
    if schedule not in ("geometric", "power"):
        raise ValueError(f"schedule must be 'geometric' or 'power'; got {schedule!r}")
    if schedule == "geometric" and power is not None:
        raise ValueError(
            f"power sets schedule='power'; got power={power!r} with schedule='geometric'"
        )
    if schedule == "power" and t_min is not None:
        raise ValueError(
            f"t_min sets schedule='geometric'; got t_min={t_min!r} with schedule='power'"
        )
    _check_sample_kwargs("free_energy", sample_kwargs)
    n = _infer_n(observed_sites(model, data), n)
    num = check_int("num_temperatures", num_temperatures, low=2)
    if schedule == "geometric":
        t_min = 1e-5 / n if t_min is None else float(t_min)
        ts = fe.geometric_schedule(num, t_min)
    else:
        power = 5.0 if power is None else float(power)
        ts = fe.ti_schedule(num, power)
    # t = 0 samples the prior itself (tempering by 0 drops the likelihood).
    fits = tempered_fits(model, data, ts, n=n, **dict(sample_kwargs, keep_log_likelihood=False))
    summary = _energy_summary(fits)
    if method == "thermodynamic":
        est = fe.thermodynamic(ts, summary["energy_mean"], summary["energy_se"], rule=rule)
    else:
        est = fe.stepping_stone(ts, [f.energy for f in fits])
    settings: dict[str, Any] = {"schedule": schedule, "t_min": t_min, "power": power}
    settings = {k: v for k, v in settings.items() if v is not None}
    if method == "thermodynamic":
        settings["rule"] = rule
    attrs = {"estimator": "free_energy", "n": n} | settings
    return _estimate(est.value, est.se, method, fits, attrs, {"ts": ts} | settings, summary)
