r"""A plain-language verdict on an LLC estimate: can the number be trusted, and if not, why.

:func:`diagnose` reads the DataTree of :func:`slt.llc` and applies four rules, in this order
of priority (the verdict is the first that fires; ``reasons`` lists every one that fires):

1. ``"step too large"``: a chain diverged, or the mean MALA acceptance probability is below
   :data:`MIN_ACCEPTANCE`, or the noise temperature :math:`\hat\tau` (root attr
   ``noise_temperature``, :mod:`slt.gradient`) is above :data:`MAX_NOISE_TEMPERATURE`, or the
   bias it predicts, :math:`\tfrac d2\hat\tau` (root attr ``noise_bias``), is above
   :data:`MAX_NOISE_BIAS` of a positive :math:`\hat\lambda` (:data:`MAX_CORRECTED_NOISE_TEMPERATURE`
   and :data:`MAX_CORRECTED_NOISE_BIAS` when the run subtracted that bias). The MALA
   acceptance of an SGLD step (Furman & Lau 2024, arXiv:2402.03698) measures how far the
   discretised dynamics are from the posterior; they target about 0.9, and below 0.5 most
   proposals would be rejected by an exact sampler, so the draws come mostly from the
   discretisation error. It is blind to the minibatch-gradient noise, which :math:`\hat\tau`
   measures: the chain runs about :math:`1 + \hat\tau` times too hot in the directions the
   noise reaches, and the estimate reads about :math:`\tfrac d2\hat\tau` high, which is
   :math:`\tfrac{d}{2\lambda}\hat\tau` in relative terms (for this batch size the step is
   too large).
2. ``"not at a minimum"``: more than :data:`MAX_FRAC_BELOW_INIT` of the loss trace lies below
   the initial loss :math:`\hat L(w^\ast)`, or :math:`\hat\lambda < 0`. The LLC is defined at a
   local minimum of :math:`L_n` (Lau et al. 2025, arXiv:2308.12108), where the localized
   posterior only sees loss at or above :math:`L_n(w^\ast)`; chains that settle lower mean that
   :math:`w^\ast` is not a local minimum, *or* that the step is so large that the sampler's bias
   drags the chains away (both are said, since the trace alone cannot tell them apart).
3. ``"needs more draws"``: rank-normalised split R-hat above :data:`MAX_RHAT` or bulk ESS below
   :data:`MIN_ESS_BULK` (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, *Rank-normalization,
   folding, and localization*, Bayesian Analysis 16(2)), or an MCSE above
   :data:`MAX_RELATIVE_MCSE` of :math:`|\hat\lambda|`. A NaN R-hat, ESS or MCSE (a constant
   trace) cannot certify anything and fires the rule too. So does a step chosen by
   ``step_size="auto"`` whose calibration found no plateau and fell back (the ``calibration``
   group's attr ``fallback``): no two step sizes agreed, so the step is not validated. At
   nβ = n/log n such runs read 8–24% low (under-mixed) while R-hat, ESS and MCSE passed, since
   chains with one common start climb together (docs/accuracy_per_cost.md).
4. ``"trustworthy"`` otherwise.

The fraction below the initial loss is taken on the trace averaged over blocks of
``diagnostic_block`` draws (one epoch of minibatches, the blocks :func:`slt.llc` computes ESS and
R-hat on; see :mod:`slt.estimators.llc`). On the raw trace each draw is one minibatch loss,
whose noise is far larger than the mean excess :math:`\lambda/(n\beta)`: on the linear
regression of the :func:`slt.llc` example (n = 1000, b = 100, :math:`\hat\lambda \approx 1.7`,
at the exact minimum) 45% of the raw draws are below :math:`\hat L(w^\ast)` but 0.5% of the epoch
means are. Within an epoch the batches, drawn without replacement, cover the data once, so the
block mean follows :math:`L_n(w_t)` itself.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from slt.result import LLCResult

__all__ = [
    "MAX_DIVERGING",
    "MAX_FRAC_BELOW_INIT",
    "MAX_CORRECTED_NOISE_BIAS",
    "MAX_CORRECTED_NOISE_TEMPERATURE",
    "MAX_NOISE_BIAS",
    "MAX_NOISE_TEMPERATURE",
    "MAX_RELATIVE_MCSE",
    "MAX_RHAT",
    "MIN_ACCEPTANCE",
    "MIN_ESS_BULK",
    "MIN_LLC",
    "NEEDS_MORE_DRAWS",
    "NOT_AT_MINIMUM",
    "STEP_TOO_LARGE",
    "THRESHOLDS",
    "TRUSTWORTHY",
    "VERDICTS",
    "Diagnostics",
    "diagnose",
    "noise_bias_bound",
    "noise_temperature_bound",
    "noise_too_hot",
]

STEP_TOO_LARGE = "step too large"
NOT_AT_MINIMUM = "not at a minimum"
NEEDS_MORE_DRAWS = "needs more draws"
TRUSTWORTHY = "trustworthy"
#: The verdicts, most serious first: the order in which the rules are applied.
VERDICTS = (STEP_TOO_LARGE, NOT_AT_MINIMUM, NEEDS_MORE_DRAWS, TRUSTWORTHY)

#: Most diverged chains allowed: a chain that diverges is a step the integrator cannot take.
MAX_DIVERGING = 0
#: Least mean MALA acceptance; Furman & Lau (arXiv:2402.03698) target about 0.9, and below 0.5
#: an exact sampler would reject most of the steps taken.
MIN_ACCEPTANCE = 0.5
#: Largest noise temperature :math:`\hat\tau`. The estimate reads about
#: :math:`\tfrac{d}{2\lambda}\hat\tau` high (:mod:`slt.gradient`; :data:`MAX_NOISE_BIAS` bounds
#: that); measured on reduced-rank regression (n = 10^4, β = 0.3/log n, 4 × 6000 draws;
#: λ = 8, 29, 73) the excess was 1.5-3 τ̂, the discretisation bias of the same step included
#: (τ̂ = 0.04: +6%, 0.1: +20%, 0.19: +58%), so 0.03 keeps it near the 5% accuracy bar there.
MAX_NOISE_TEMPERATURE = 0.03
#: Largest predicted noise bias :math:`\tfrac d2\hat\tau` as a fraction of :math:`|\hat\lambda|`
#: (:func:`slt.gradient.noise_bias`): the 5% accuracy bar of the validation suites. A singular
#: model has :math:`\lambda \ll d/2`, so this binds long before τ̂ reaches
#: :data:`MAX_NOISE_TEMPERATURE`: on dln(138-108-82-136-63-90, r=63) of the ``dln`` suite
#: (d/2λ = 4.7) τ̂ = 0.031 predicts +15%, and SGLD read +31% after 4 × 64000 draws.
MAX_NOISE_BIAS = 0.05
#: The same bound when the run subtracted the bias (``slt.llc``'s ``noise_correction``, its
#: default for SGLD with iid batches). The subtraction removed about 85% of the heating on
#: issue 7's reduced-rank cases (bench/heating_corrections.py) and less on deep networks; a bias
#: of at most 15% leaves a residual within the 5% bar as long as it removes two thirds.
MAX_CORRECTED_NOISE_BIAS = 0.15
#: The largest noise temperature when the run subtracted the bias. :data:`MAX_NOISE_TEMPERATURE`
#: was measured on uncorrected readings; with the subtraction, the readings of issue 7's
#: reduced-rank cases (bench/accuracy_per_cost.py, runs of 4 × 32000 steps, exact finite-n
#: referees) stayed within 3.5% of the target up to τ̂ = 0.1, so there
#: :data:`MAX_CORRECTED_NOISE_BIAS` is the bound that binds (at τ̂ = 0.07-0.08, where d/2λ is
#: about 2). Deep networks have d/2λ of 4-7, and the bias bound binds at τ̂ of 0.02-0.04.
MAX_CORRECTED_NOISE_TEMPERATURE = 0.1
#: Largest fraction of the epoch-averaged loss trace allowed strictly below :math:`\hat L(w^*)`.
#: At a minimum it is close to 0 (0.5% on the :func:`slt.llc` example); 0.2 leaves room for the
#: noise that remains after block averaging on small problems.
MAX_FRAC_BELOW_INIT = 0.2
#: Least :math:`\hat\lambda`: the LLC is non-negative at a local minimum.
MIN_LLC = 0.0
#: Largest rank-normalised split R-hat (Vehtari et al. 2021 recommend 1.01).
MAX_RHAT = 1.01
#: Least bulk ESS. Vehtari et al. (2021) ask for 100 per chain; here the ESS counts epoch
#: averages, each worth many draws, and :data:`MAX_RELATIVE_MCSE` bounds the precision itself,
#: so 100 is the floor on the total below which R-hat and MCSE are themselves unreliable.
MIN_ESS_BULK = 100.0
#: Largest MCSE as a fraction of :math:`|\hat\lambda|`: a two-sigma error bar of ±10%.
MAX_RELATIVE_MCSE = 0.05

#: Every threshold by the name of the quantity it bounds (read-only).
THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        "num_diverging": MAX_DIVERGING,
        "acceptance_rate": MIN_ACCEPTANCE,
        "noise_temperature": MAX_NOISE_TEMPERATURE,
        "noise_bias": MAX_NOISE_BIAS,
        "frac_below_init": MAX_FRAC_BELOW_INIT,
        "llc": MIN_LLC,
        "rhat": MAX_RHAT,
        "ess_bulk": MIN_ESS_BULK,
        "relative_mcse": MAX_RELATIVE_MCSE,
    }
)


def noise_too_hot(tau: float, bias: float, llc: float, *, corrected: bool = False) -> bool:
    r"""The minibatch-noise rule of the verdict and of :func:`slt.llc`'s warning: τ̂ above
    :func:`noise_temperature_bound`, or the predicted bias :math:`\tfrac d2\hat\tau` above
    :func:`noise_bias_bound` of a positive λ̂ (a λ̂ <= 0 is "not at a minimum" instead).
    ``llc`` is the reading the noise heated, before any correction. NaN (not measured) never
    fires."""
    return bool(
        tau > noise_temperature_bound(corrected)
        or (llc > 0 and bias > noise_bias_bound(corrected) * llc)
    )


def noise_temperature_bound(corrected: bool) -> float:
    """The largest noise temperature τ̂: :data:`MAX_CORRECTED_NOISE_TEMPERATURE` when the
    estimate had the noise bias subtracted, :data:`MAX_NOISE_TEMPERATURE` when not."""
    return MAX_CORRECTED_NOISE_TEMPERATURE if corrected else MAX_NOISE_TEMPERATURE


def noise_bias_bound(corrected: bool) -> float:
    """The largest noise bias, as a fraction of λ̂: :data:`MAX_CORRECTED_NOISE_BIAS` when the
    estimate had it subtracted, :data:`MAX_NOISE_BIAS` when not."""
    return MAX_CORRECTED_NOISE_BIAS if corrected else MAX_NOISE_BIAS


_REQUIRED_ATTRS = ("init_loss", "llc", "llc_mcse", "rhat", "ess_bulk", "ess_tail")


class Diagnostics(NamedTuple):
    """The diagnostics of one LLC estimate and the verdict they give.

    Attributes
    ----------
    rhat, ess_bulk, ess_tail
        Rank-normalised split R-hat and bulk/tail ESS of the (epoch-averaged) loss trace.
    mcse
        Monte Carlo standard error of :math:`\\hat\\lambda`.
    relative_mcse
        ``mcse / |llc|`` (``inf`` when :math:`\\hat\\lambda = 0`).
    num_diverging, num_chains
        Chains that diverged, and all chains.
    frac_below_init
        Fraction of the epoch-averaged post-burn-in loss draws of the kept chains strictly below
        their chain's initial loss :math:`\\hat L_c(w^\\ast)`.
    acceptance_rate
        Mean MALA acceptance probability over the kept chains (NaN when not recorded).
    noise_temperature
        :math:`\\hat\\tau` of the run (NaN when not recorded).
    verdict
        One of :data:`VERDICTS`.
    reasons
        Every rule that fired, with the measured value and its threshold, most serious first;
        empty when the verdict is ``"trustworthy"``.
    """

    rhat: float
    ess_bulk: float
    ess_tail: float
    mcse: float
    relative_mcse: float
    num_diverging: int
    num_chains: int
    frac_below_init: float
    acceptance_rate: float
    noise_temperature: float
    verdict: str
    reasons: tuple[str, ...]


def diagnose(datatree_or_result: "xr.DataTree | LLCResult") -> Diagnostics:
    """The diagnostics and the verdict of an LLC estimate (rules in the module docstring).

    Parameters
    ----------
    datatree_or_result
        An :class:`slt.LLCResult`, or its ``datatree``: group ``sample_stats`` with ``loss``
        (chain, draw) and optionally ``diverging`` and ``acceptance_rate``; root attrs
        ``init_loss``, ``llc``, ``llc_mcse``, ``rhat``, ``ess_bulk``, ``ess_tail`` and
        optionally ``num_diverging``, ``num_chains`` (else counted from ``diverging``) and
        ``diagnostic_block`` (else 1).

    Returns
    -------
    Diagnostics

    Raises
    ------
    TypeError
        When ``datatree_or_result`` is neither a DataTree nor an LLCResult.
    ValueError
        When the DataTree lacks ``sample_stats/loss`` of dims (chain, draw) or a required attr.

    Examples
    --------
    >>> import numpy as np
    >>> from arviz_base import from_dict
    >>> loss = 1.0 + 0.01 * np.random.default_rng(0).normal(size=(4, 1000))
    >>> dt = from_dict({"sample_stats": {"loss": loss, "diverging": np.zeros((4, 1000), bool)}})
    >>> dt.attrs.update(init_loss=np.full(4, 0.95), llc=1.5, llc_mcse=0.02, rhat=1.034,
    ...                 ess_bulk=3000.0, ess_tail=3000.0)
    >>> d = diagnose(dt)
    >>> d.verdict, d.reasons, d.frac_below_init
    ('needs more draws', ('R-hat 1.034 > 1.01',), 0.0)
    """
    dt = _datatree(datatree_or_result)
    attrs = dt.attrs
    missing = [name for name in _REQUIRED_ATTRS if name not in attrs]
    if missing:
        raise ValueError(
            f"datatree_or_result lacks the root attrs {missing}: diagnose needs the DataTree "
            "of an LLC run (slt.llc)"
        )
    stats = dt["sample_stats"].to_dataset()
    loss = stats["loss"]
    if loss.dims != ("chain", "draw"):
        raise ValueError(f"sample_stats/loss must have dims ('chain', 'draw'); got {loss.dims}")
    trace = np.asarray(loss.values, dtype=np.float64)
    num_chains_found = trace.shape[0]
    if "diverging" in stats:
        diverged = np.asarray(stats["diverging"].values, bool).any(axis=1)
    else:
        diverged = np.zeros(num_chains_found, bool)
    kept = ~diverged
    init = np.asarray(attrs["init_loss"], np.float64)
    if init.size not in (1, num_chains_found):
        raise ValueError(
            f"root attr init_loss must hold one value per chain ({num_chains_found}) or one for "
            f"all; got {init.size}"
        )
    init = np.broadcast_to(init.reshape(-1), (num_chains_found,))
    block = int(attrs.get("diagnostic_block", 1))
    frac_below_init = _frac_below(trace[kept], init[kept], block)

    acceptance = np.nan
    if "acceptance_rate" in stats:
        rates = np.asarray(stats["acceptance_rate"].values, np.float64)[kept]
        rates = rates[~np.isnan(rates)]
        acceptance = float(rates.mean()) if rates.size else np.nan

    llc = float(attrs["llc"])
    mcse = float(attrs["llc_mcse"])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative_mcse = float(np.float64(mcse) / abs(np.float64(llc)))
    num_chains = int(attrs.get("num_chains", num_chains_found))
    num_diverging = int(attrs.get("num_diverging", int(diverged.sum())))
    rhat, ess_bulk = float(attrs["rhat"]), float(attrs["ess_bulk"])

    minimum = ": w* is not a local minimum, or the step size is too large"
    rules: list[tuple[str, str]] = []  # (verdict, reason), appended most serious first
    if num_diverging > MAX_DIVERGING:
        rules.append(
            (
                STEP_TOO_LARGE,
                f"{num_diverging} of {num_chains} chains diverged (> {MAX_DIVERGING} allowed)",
            )
        )
    if acceptance < MIN_ACCEPTANCE:
        reason = _beyond("MALA acceptance", acceptance, "<", MIN_ACCEPTANCE, ".3g")
        rules.append((STEP_TOO_LARGE, reason + " (target about 0.9)"))
    tau = float(attrs.get("noise_temperature", np.nan))
    bias = float(attrs.get("noise_bias", np.nan))
    corrected = bool(int(attrs.get("noise_correction", 0)))
    heated = float(attrs.get("llc_uncorrected", llc))
    if noise_too_hot(tau, bias, heated, corrected=corrected):
        relative_bias = bias / heated if heated > 0 else np.nan
        tau_bound = noise_temperature_bound(corrected)
        reason = (
            _beyond("noise temperature tau", tau, ">", tau_bound, ".3g")
            if tau > tau_bound
            else f"the noise bias (d/2) tau = {bias:.3g} is {relative_bias:.1%} of the "
            f"uncorrected LLC (> {noise_bias_bound(corrected):.0%}"
            + (", after subtracting it" if corrected else "")
            + ")"
        )
        rules.append(
            (
                STEP_TOO_LARGE,
                reason + " (the minibatch gradient noise heats the chain: lower step_size, "
                "raise batch_size, or use gradient='control_variate')",
            )
        )
    if frac_below_init > MAX_FRAC_BELOW_INIT:
        reason = _beyond(
            "fraction of the loss trace below the initial loss",
            frac_below_init,
            ">",
            MAX_FRAC_BELOW_INIT,
            ".3g",
        )
        rules.append((NOT_AT_MINIMUM, reason + minimum))
    if llc < MIN_LLC:
        rules.append((NOT_AT_MINIMUM, _beyond("LLC", llc, "<", MIN_LLC, ".4g") + minimum))
    if not rhat <= MAX_RHAT:  # `not <=`: a NaN fires the rule too
        rules.append((NEEDS_MORE_DRAWS, _beyond("R-hat", rhat, ">", MAX_RHAT, ".3f")))
    if not ess_bulk >= MIN_ESS_BULK:
        rules.append((NEEDS_MORE_DRAWS, _beyond("bulk ESS", ess_bulk, "<", MIN_ESS_BULK, ".0f")))
    if not relative_mcse <= MAX_RELATIVE_MCSE:
        reason = _beyond("relative MCSE", relative_mcse, ">", MAX_RELATIVE_MCSE, ".3g")
        rules.append((NEEDS_MORE_DRAWS, reason))
    if "calibration" in dt.children and bool(dt["calibration"].attrs.get("fallback", False)):
        rules.append(
            (
                NEEDS_MORE_DRAWS,
                "step_size='auto' found no plateau and fell back: the step is not validated "
                "(raise num_draws and num_burnin, which also lengthens the calibration)",
            )
        )
    return Diagnostics(
        rhat=rhat,
        ess_bulk=ess_bulk,
        ess_tail=float(attrs["ess_tail"]),
        mcse=mcse,
        relative_mcse=relative_mcse,
        num_diverging=num_diverging,
        num_chains=num_chains,
        frac_below_init=frac_below_init,
        acceptance_rate=acceptance,
        noise_temperature=tau,
        verdict=rules[0][0] if rules else TRUSTWORTHY,
        reasons=tuple(reason for _, reason in rules),
    )


def _datatree(datatree_or_result: object) -> xr.DataTree:
    """The DataTree of an LLCResult (duck-typed: ``slt.result`` imports this module)."""
    dt = getattr(datatree_or_result, "datatree", datatree_or_result)
    if not isinstance(dt, xr.DataTree):
        raise TypeError(
            "datatree_or_result must be an xarray.DataTree or an slt.LLCResult; "
            f"got {type(datatree_or_result).__name__}"
        )
    if "sample_stats" not in dt.children or "loss" not in dt["sample_stats"].data_vars:
        raise ValueError(
            "datatree_or_result has no sample_stats/loss: diagnose needs the DataTree of an LLC "
            "run (slt.llc)"
        )
    return dt


def _frac_below(trace: np.ndarray, init: np.ndarray, block: int) -> float:
    """Fraction of the block means of ``trace`` (chain, draw) strictly below ``init`` (chain,)."""
    if trace.size == 0:
        return float("nan")
    usable = trace.shape[1] // block * block if block > 1 else 0
    if usable:
        trace = trace[:, :usable].reshape(trace.shape[0], -1, block).mean(axis=-1)
    return float(np.mean(trace < init[:, None]))


def _beyond(name: str, value: float, op: str, limit: float, fmt: str) -> str:
    """``"R-hat 1.034 > 1.01"``: ``value`` in format ``fmt``, with more digits when the rounded
    value would read as ``limit`` itself (R-hat 1.0101 is not shown as 1.010); NaN is named."""
    if np.isnan(value):
        return f"{name} is nan (not computable; needs {'<=' if op == '>' else '>='} {limit:g})"
    precision, kind = int(fmt[1:-1]), fmt[-1]
    text = f"{value:{fmt}}"
    while float(text) == limit and precision < 17:
        precision += 1
        text = f"{value:.{precision}{kind}}"
    return f"{name} {text} {op} {limit:g}"
