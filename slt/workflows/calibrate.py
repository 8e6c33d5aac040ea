r"""``slt.calibrate``: the step size (and γ, nβ) of :func:`slt.llc`, chosen from short runs.

The estimate :math:`\hat\lambda = n\beta(\overline{L} - \hat L(w^\ast))` (Lau et al. 2025,
arXiv:2308.12108) depends on the step size ε through two errors of opposite sign:

* **bias.** SGLD samples a distribution wider than the target, by the discretisation (Euler-
  Maruyama, Vollmer, Zygalakis & Teh 2016, JMLR 17:159) and by the minibatch-gradient noise
  (which adds variance :math:`\propto \epsilon (n\beta)^2/b`); both raise :math:`\overline L`, so
  :math:`\hat\lambda` grows with ε;
* **under-mixing.** The chains start at :math:`w^\ast`, the bottom of the loss, and must climb to
  the typical set; too small an ε has not arrived within the run and reads low.

Between them :math:`\hat\lambda(\epsilon)` is flat, and that is where a step size belongs.
:func:`calibrate` runs short chains (with the MALA diagnostic on) over a grid of step sizes × γ
(× nβ), scores each setting by the checks below, and picks the step from the flat part.

Checks (a setting is *accepted* when it passes all of them; thresholds in :class:`Thresholds`):

1. **divergence**: no chain diverged (non-finite or exploding loss, as in :func:`slt.llc`).
2. **acceptance**: the mean MALA acceptance probability of the SGLD steps (Furman & Lau,
   arXiv:2402.03698; computed on each step's own minibatch) is at least 0.9. It measures the
   discretisation error only; it is blind to the minibatch-noise bias (see below).
2b. **noise**: the noise temperature :math:`\hat\tau` of the minibatch gradient
   (:mod:`slt.gradient`) is at most 0.03, the bound of :func:`slt.llc`'s warning: above it the
   gradient noise alone heats the chain by more than the accuracy bar allows.
3. **stationarity**: the mean loss of the second half of the draws differs from that of the
   first half by at most 3 standard errors,
   :math:`z = (\bar L_{2} - \bar L_{1}) / \sqrt{\mathrm{MCSE}_1^2 + \mathrm{MCSE}_2^2}`, pooled over
   chains, the MCSEs from the effective sample size (arviz-stats, Vehtari et al. 2021) of the
   block-averaged trace, or by at most 5% of the estimate,
   :math:`n\beta|\bar L_2 - \bar L_1| \le 0.05|\hat\lambda|`. The second clause is for the slow
   drift along flat directions that only γ bounds (the GL(H) orbit of reduced-rank regression,
   docs/validation.md): it goes on at every step size, and a longer run makes any drift
   significant. rrr(10,30,8,2) (seed 1, 4 × 4000 draws) failed z ≤ 3 alone on its plateau.
4. **R-hat** of the block-averaged loss trace across chains at most 1.1 (a short run; the full
   run should reach 1.01).
5. **below initial loss**: at most half of the block means lie below the chain's
   :math:`\hat L(w^\ast)`. More means that the chain descends from :math:`w^\ast`: it is not a local
   minimum at this temperature (train further), or the chain has not left it.

The checks use the loss trace averaged over blocks of one epoch (``n // batch_size`` steps;
shorter when the run has fewer than 40 epochs), as :func:`slt.llc` does: within an epoch the
noise of minibatches drawn without replacement cancels and the slow signal remains
(see :mod:`slt.estimators.llc`).

Selection rule. Write :math:`h(i)` for the largest grid step at most half of step
:math:`\epsilon_i`. Steps i and h(i) *agree* when both are accepted and their estimates differ by
at most 10% and, besides, by at most 2 combined MCSE or at most 3% (the bias never vanishes
exactly, so with precise estimates a 3% step counts as flat: rrr(50,50,20,10) rises by 2-4% per
step around its plateau at MCSE 0.6%). Counting from the smallest step up, the first agreeing
pair opens a *plateau*; each larger step that agrees with its half step (a plateau member)
extends it; the first that does not ends it. The recommendation is the smaller step of the
plateau's top pair. Why:

* below the plateau, :math:`\hat\lambda` rises with ε because the chains have not reached the
  typical set; above it, it rises because of the step-size bias. Where two steps a factor ≥ 2
  apart agree, both errors are below the noise; the smaller step of the top pair carries a
  bias smaller again (it grows at least linearly in ε) and has passed the mixing checks, and the
  full run is far longer than the short one, so under-mixing matters less there than bias;
* counting from below matters: the bias can level off at large steps. On rrr(5,5,3,0) with
  batch 256 (4 × 2000 draws), the estimates at ε = 1.4·10⁻³ and 3.1·10⁻³ (MALA acceptance
  0.93 and 0.92) agree within 3%, at +30% above λ; the plateau from below picks 1.4·10⁻⁴;
* the MALA acceptance alone does not do it. Measured on the reduced-rank regression suite
  (n = 10^4, nβ = 326, γ = 1; 4 chains × 2000 draws at batch 1000, × 4000 at batch 256; the
  converged values from 4 × 24000 draws): with batch 1000, the largest step with
  acceptance ≥ 0.9 read +4% to +13% above the converged value, and acceptance ≥ 0.97 was
  needed for ≤ 5%; with batch 256, the minibatch noise dominates the bias and the acceptance
  stays at 0.95-0.99 where :math:`\hat\lambda` is already +20% to +110% high.

Search. Two orders find such a pair:

* ``search="descend"`` (the default) starts with a run at the grid step nearest
  ε·nβ = 0.1, above the plateau of every case of the suite, and predicts from its noise
  temperature (τ ∝ ε) the largest step within half the noise bound; from there it runs one
  step after another downwards, each from :math:`w^\ast`, and stops at the first agreeing
  pair. The recommendation is its smaller step; without a pair (or when the ``budget`` runs
  out), the smallest accepted step. It usually needs two to four runs: the steps below the
  plateau, which cost the ascending search most of its runs, are never run. It also stops when a
  run fails R-hat or stationarity below the start, since a smaller step mixes worse. The MALA
  acceptance is recorded on one step in sixteen (``mala_every``), which costs a sixteenth of a
  gradient per step instead of one. Every run starts from :math:`w^\ast`: chains continued from
  the larger step's run carry its wider spread along the flat directions, contract slowly at
  the smaller step, and made a false plateau (rrr(3,3,6,1): 5.48 at ε = 3.1·10⁻⁴ and 5.35 at
  1.4·10⁻⁴ for λ = 4.5; from :math:`w^\ast` the smaller step reads 4.81).
* ``search="ascend"`` (and ``exhaustive=True``) counts from the smallest step up: the first
  agreeing pair opens the plateau, as above, and the search stops at its end.

When no pair agrees (estimates too noisy or not yet settled to show a plateau, or a grid too
coarse), the recommendation falls back to the accepted step whose estimate differs least from the
one at its half step (the flattest point of the curve), with a :class:`CalibrationWarning`.

Grid. By default :math:`\epsilon\,n\beta \in \{10^{-4}, 10^{-4+1/3}, \ldots, 1\}` (13 steps,
neighbours a factor 2.15 apart). The drift of an SGLD step is :math:`\tfrac{\epsilon}{2}n\beta
\nabla L`, so ε·nβ is the step in units of the loss curvature and sets the discretisation
error (docs/validation.md); the hand-tuned suite values (SGLD 0.022 and RMSProp-SGLD 1.1·10⁻³
on reduced-rank regression, 6.5·10⁻³ and 2.6·10⁻⁴ on deep linear networks) lie well inside.
``exhaustive=True`` runs every setting; the settings a search did not run are NaN in the
DataTree, whose attrs record the search, ``cost_steps`` and ``cost_gradients``.

γ and nβ. The default is γ = 1 alone. γ is part of the estimand, not only of the sampler: a
larger γ mixes better but reads lower, because it truncates the posterior along
the flat directions of a singular model (rrr(5,5,3,0): −3.8% at γ = 1, −8.9% at 3, −13.8% at 5,
docs/validation.md). Given several γ, the smallest one with a recommendation wins. nβ is part of
the estimand as well (the finite-n term of λ̂ scales like √β); given several (``nbetas``), the one
whose recommended setting has the smallest relative MCSE wins. Compare LLCs at equal γ and nβ.
"""

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import jax
import numpy as np
import xarray as xr

from slt._types import ArrayTree, Batch
from slt._version import __version__
from slt.data import BATCHINGS, check_data
from slt.diagnostics.convert import attr_value
from slt.diagnostics.verdict import MAX_NOISE_TEMPERATURE
from slt.estimators.base import mcse_mean
from slt.estimators.llc import estimate_llc
from slt.gradient import GRADIENTS, Anchor, full_loss_and_grad
from slt.posterior import LossFn
from slt.samplers.run import run_chains
from slt.tree import NOISES, tree_size
from slt.workflows.checks import (
    check_choice,
    check_int,
    check_loss_fn,
    check_params,
    check_positive,
    resolve_nbeta,
)
from slt.workflows.llc import LocalSampler, check_sampler, noise_temperature_of

__all__ = [
    "CHECKS",
    "Calibration",
    "CalibrationError",
    "CalibrationWarning",
    "SettingScore",
    "Thresholds",
    "calibrate",
    "default_step_sizes",
    "score_setting",
]

CHECKS = ("divergence", "acceptance", "noise", "stationarity", "rhat", "below_init")
"""The names of the checks, in the order they are reported."""


class CalibrationError(RuntimeError):
    """No setting of the grid passed every check: there is nothing to recommend."""


class CalibrationWarning(UserWarning):
    """The recommendation is a fallback: no two step sizes gave agreeing estimates."""


class Thresholds(NamedTuple):
    """The limits of the checks and of the agreement test (module docstring).

    Attributes
    ----------
    min_acceptance
        Lowest mean MALA acceptance (Furman & Lau, arXiv:2402.03698: about 0.9).
    max_noise_temperature
        Largest noise temperature :math:`\\hat\tau` of the minibatch gradient.
    max_rhat
        Largest R-hat of the block-averaged loss trace.
    max_drift_z, max_drift_rel
        The stationarity check fails when the difference of the half means is both beyond
        ``max_drift_z`` standard errors and beyond ``max_drift_rel`` of the estimate.
    max_frac_below
        Largest fraction of block means below the initial loss.
    agree_z, agree_rel, agree_floor
        Two accepted settings agree when their estimates differ by at most ``agree_rel``
        relative to the smaller step's estimate and, in addition, by at most ``agree_z``
        combined MCSE or at most ``agree_floor`` relative (a difference that small counts as
        flat however precise the estimates are).
    """

    min_acceptance: float = 0.9
    max_noise_temperature: float = MAX_NOISE_TEMPERATURE
    max_rhat: float = 1.1
    max_drift_z: float = 3.0
    max_drift_rel: float = 0.05
    max_frac_below: float = 0.5
    agree_z: float = 2.0
    agree_rel: float = 0.1
    agree_floor: float = 0.03


class SettingScore(NamedTuple):
    """The short run of one setting, summarised (see :func:`score_setting`).

    Attributes
    ----------
    llc, llc_mcse
        :math:`\\hat\\lambda` over the chains that did not diverge, and its MCSE.
    rhat, ess_bulk
        R-hat and bulk ESS (in blocks) of the block-averaged loss trace.
    acceptance_rate
        Mean MALA acceptance probability (NaN when not recorded).
    noise_temperature
        :math:`\\hat\tau` of the minibatch gradient (NaN when not measured).
    frac_below_init
        Fraction of block means below the chain's initial loss.
    drift_z
        Second-half minus first-half mean loss, in standard errors.
    drift_rel
        The same difference times nβ (the second-half minus the first-half estimate),
        relative to :math:`|\\hat\\lambda|`.
    num_diverged
        Chains that diverged.
    failures
        ``(check, explanation)`` for every check failed (names from :data:`CHECKS`).
    checks_run
        How many checks applied (the acceptance check needs the MALA diagnostic).
    """

    llc: float
    llc_mcse: float
    rhat: float
    ess_bulk: float
    acceptance_rate: float
    noise_temperature: float
    frac_below_init: float
    drift_z: float
    drift_rel: float
    num_diverged: int
    failures: tuple[tuple[str, str], ...]
    checks_run: int

    @property
    def accepted(self) -> bool:
        """Whether every check passed."""
        return not self.failures

    @property
    def score(self) -> float:
        """The fraction of the checks passed (1 when accepted)."""
        return 1.0 - len(self.failures) / self.checks_run


class Calibration(NamedTuple):
    """What :func:`calibrate` returns.

    Attributes
    ----------
    step_size, gamma, nbeta
        The recommended settings.
    reasons
        Why: the first line explains the choice, then one line for every setting that was
        rejected, passed over, or not run.
    datatree
        ``xarray.DataTree`` whose ``calibration`` group holds one variable per statistic over
        dims ``(step_size, gamma)``, plus ``nbeta`` when ``nbetas`` was given, and the
        recommendation in its attrs.
    sampler, sampler_options, batch_size, gradient, batching, noise
        The sampler, batch size, gradient estimator, minibatch schedule and injected noise
        calibrated for (the step size is only valid with them).
    """

    step_size: float
    gamma: float
    nbeta: float
    reasons: tuple[str, ...]
    datatree: xr.DataTree
    sampler: str
    sampler_options: dict[str, Any]
    batch_size: int
    gradient: str = "minibatch"
    batching: str = "reshuffle"
    noise: str = "gaussian"

    @property
    def llc_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`slt.llc` that reproduce the recommended setting."""
        return {
            "step_size": self.step_size,
            "gamma": self.gamma,
            "nbeta": self.nbeta,
            "sampler": self.sampler,
            "batch_size": self.batch_size,
            "gradient": self.gradient,
            "batching": self.batching,
            "noise": self.noise,
        } | ({"sampler_options": dict(self.sampler_options)} if self.sampler_options else {})


def default_step_sizes(nbetas: Sequence[float]) -> np.ndarray:
    r"""The default grid: :math:`\epsilon\,n\beta` from :math:`10^{-4}` to 1, three per decade.

    For several nβ the grid spans :math:`10^{-4}/\max n\beta` to :math:`1/\min n\beta` with the
    same spacing, so that every nβ gets the whole default range.

    Examples
    --------
    >>> grid = default_step_sizes([100.0])
    >>> len(grid), float(grid[0]), float(grid[-1])
    (13, 1e-06, 0.01)
    """
    lo = math.log10(1e-4 / max(nbetas))
    hi = math.log10(1.0 / min(nbetas))
    count = round(3 * (hi - lo)) + 1
    return 10.0 ** np.linspace(lo, hi, count)


def _block_means(trace: np.ndarray, block: int) -> np.ndarray:
    usable = trace.shape[1] // block * block
    return trace[:, :usable].reshape(trace.shape[0], -1, block).mean(axis=-1)


def score_setting(
    loss_trace: np.ndarray,
    init_loss: np.ndarray | float,
    diverging: np.ndarray,
    nbeta: float,
    *,
    block: int,
    acceptance: np.ndarray | None = None,
    noise_temperature: float | None = None,
    thresholds: Thresholds | None = None,
) -> SettingScore:
    """Score the short run of one setting by the checks of the module docstring.

    Parameters
    ----------
    loss_trace
        Minibatch losses after burn-in, shape (chain, draw).
    init_loss
        :math:`\\hat L_c(w^\\ast)`, one per chain or one for all.
    diverging
        Divergence flags, shape (chain, draw) or (chain,).
    nbeta
        :math:`n\\beta`.
    block
        Draws per block for the diagnostics; the trace needs at least 8 blocks.
    acceptance
        MALA acceptance probabilities, shape (chain, draw), or ``None`` to skip that check.
    noise_temperature
        :math:`\\hat\tau` of the run, or ``None`` to skip that check.
    thresholds
        The limits of the checks (default :class:`Thresholds`).

    Examples
    --------
    A stationary trace passes; one that keeps rising fails the stationarity and R-hat checks:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> flat = 1.0 + 0.01 * rng.normal(size=(4, 400))
    >>> ok = score_setting(flat, 0.99, np.zeros(4, bool), 100.0, block=10)
    >>> ok.accepted, round(ok.llc)
    (True, 1)
    >>> rising = flat + np.linspace(0.0, 0.05, 400)
    >>> [check for check, _ in score_setting(rising, 0.99, np.zeros(4, bool), 100.0,
    ...                                      block=10).failures]
    ['stationarity', 'rhat']
    """
    thresholds = Thresholds() if thresholds is None else thresholds
    trace = np.asarray(loss_trace, dtype=np.float64)
    if trace.ndim != 2:
        raise ValueError(f"loss_trace must have shape (chain, draw); got {trace.shape}")
    num_chains, num_draws = trace.shape
    if not (isinstance(block, int | np.integer) and 1 <= block <= num_draws // 8):
        raise ValueError(
            f"block must be an integer in [1, {num_draws // 8}] (at least 8 blocks); got {block!r}"
        )
    init = np.broadcast_to(np.asarray(init_loss, dtype=np.float64), (num_chains,))
    flags = np.asarray(diverging, bool).reshape(num_chains, -1).any(axis=1)
    flags |= ~np.isfinite(trace).all(axis=1) | ~np.isfinite(init)
    kept = ~flags
    failures: list[tuple[str, str]] = []
    checks_run = len(CHECKS) - (acceptance is None) - (noise_temperature is None)
    if flags.any():
        failures.append(("divergence", f"{int(flags.sum())} of {num_chains} chains diverged"))
    nan = math.nan
    llc = mcse = rhat = ess = below = drift = drift_rel = acc = nan
    if acceptance is not None:
        values = np.asarray(acceptance, dtype=np.float64)[kept]
        values = values[~np.isnan(values)]  # NaN where the step recorded no diagnostic
        acc = float(values.mean()) if values.size else nan
        if values.size and not acc >= thresholds.min_acceptance:
            failures.append(
                ("acceptance", f"MALA acceptance {acc:.3f} < {thresholds.min_acceptance:g}")
            )
    tau = nan if noise_temperature is None else float(noise_temperature)
    if tau > thresholds.max_noise_temperature:
        failures.append(
            (
                "noise",
                f"noise temperature {tau:.3g} > {thresholds.max_noise_temperature:g}: the "
                "minibatch gradient noise heats the chain",
            )
        )
    if kept.any():
        est = estimate_llc(trace, init, nbeta, chains_used=kept, block=block)
        llc, mcse, rhat, ess = est.llc, est.mcse, est.rhat, est.ess_bulk
        means = _block_means(trace[kept], block)
        below = float((means < init[kept, None]).mean())
        half = means.shape[1] // 2
        first, second = means[:, :half], means[:, half : 2 * half]
        diff = float(second.mean() - first.mean())
        se = math.hypot(mcse_mean(first), mcse_mean(second))
        drift = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        drift_rel = nbeta * diff / abs(llc) if llc != 0 else math.copysign(math.inf, diff)
        if abs(drift) > thresholds.max_drift_z and abs(drift_rel) > thresholds.max_drift_rel:
            failures.append(
                (
                    "stationarity",
                    f"the second-half estimate differs from the first-half one by "
                    f"{drift_rel:+.1%} of the estimate, {drift:+.1f} standard errors (both beyond "
                    f"{thresholds.max_drift_rel:.0%} and {thresholds.max_drift_z:g}): not yet "
                    "stationary",
                )
            )
        if not rhat <= thresholds.max_rhat:
            failures.append(("rhat", f"R-hat {rhat:.3f} > {thresholds.max_rhat:g}"))
        if not below <= thresholds.max_frac_below:
            failures.append(
                (
                    "below_init",
                    f"{below:.0%} of the block means lie below the initial loss (> "
                    f"{thresholds.max_frac_below:.0%}): w* is not a local minimum at this "
                    "temperature, or the chains did not leave it",
                )
            )
    return SettingScore(
        llc=float(llc),
        llc_mcse=float(mcse),
        rhat=float(rhat),
        ess_bulk=float(ess),
        acceptance_rate=acc,
        noise_temperature=tau,
        frac_below_init=below,
        drift_z=float(drift),
        drift_rel=float(drift_rel),
        num_diverged=int(flags.sum()),
        failures=tuple(failures),
        checks_run=checks_run,
    )


class _Pair(NamedTuple):
    """The comparison of step i with its half step j(i)."""

    lower: int
    jump_rel: float
    jump_z: float
    agree: bool


def _half_step(steps: np.ndarray, i: int) -> int | None:
    """The index of the largest step at most half of ``steps[i]`` (ascending grid)."""
    below = np.nonzero(steps <= steps[i] / 2 * (1 + 1e-9))[0]
    return int(below[-1]) if below.size else None


def _compare(
    steps: np.ndarray, scores: list[SettingScore | None], i: int, th: Thresholds
) -> _Pair | None:
    j = _half_step(steps, i)
    hi, lo = scores[i], (scores[j] if j is not None else None)
    if j is None or hi is None or lo is None:
        return None
    jump = hi.llc - lo.llc
    se = math.hypot(hi.llc_mcse, lo.llc_mcse)
    rel = jump / abs(lo.llc) if lo.llc != 0 else math.inf
    z = jump / se if se > 0 else (0.0 if jump == 0 else math.inf)
    close = abs(z) <= th.agree_z or abs(rel) <= th.agree_floor
    agree = hi.accepted and lo.accepted and close and abs(rel) <= th.agree_rel
    return _Pair(j, rel, z, bool(agree))


class _Plateau(NamedTuple):
    """The first run of agreeing neighbours from below (see the module docstring)."""

    members: tuple[int, ...]
    top: tuple[int, int]
    end: int | None


def _plateau(
    steps: np.ndarray, scores: list[SettingScore | None], th: Thresholds
) -> _Plateau | None:
    """The first plateau from the smallest step up: its members (ascending), its top
    agreeing pair (lower, upper) and the step whose disagreement ended it (None if open)."""
    members: list[int] = []
    top = (-1, -1)
    for i in range(len(steps)):
        if scores[i] is None:
            break
        pair = _compare(steps, scores, i, th)
        if pair is None:
            continue
        if not members:
            if pair.agree:
                members, top = [pair.lower, i], (pair.lower, i)
        elif pair.lower in members:
            if not pair.agree:
                return _Plateau(tuple(members), top, i)
            members.append(i)
            top = (pair.lower, i)
    return _Plateau(tuple(members), top, None) if members else None


HOT_STEP_NBETA = 0.1
"""The descending search starts with a run from :math:`w^\ast` at the grid step nearest
ε·nβ = 0.1: above the plateau of every reduced-rank case of the suite (ε·nβ = 0.01-0.05), so it
mixes fast, and its noise temperature, measured where its chains end, bounds the gradient noise
the smaller steps will see."""


def _descent_start(steps: np.ndarray, hot: int, tau: float, th: Thresholds) -> int:
    """The largest grid step at most ``steps[hot]`` whose noise temperature, predicted from
    the hot run's by τ ∝ ε, is within half of ``th.max_noise_temperature`` (``hot`` itself
    without a τ: SGNHT)."""
    if not np.isfinite(tau):
        return hot
    predicted = tau * steps[: hot + 1] / steps[hot]
    # Half the bound: τ̂ is noisy (rrr(3,3,6,1): 0.029 in the short run, 0.046 in the full
    # one at the same step), and the recommendation is a smaller step again.
    within = np.nonzero(predicted <= th.max_noise_temperature / 2)[0]
    return int(within[-1]) if within.size else 0


def _agreeing_pair_from_top(
    steps: np.ndarray, scores: list[SettingScore | None], th: Thresholds
) -> tuple[int, int] | None:
    """The agreeing pair (lower, upper) with the largest upper step, or None."""
    for i in range(len(steps) - 1, -1, -1):
        pair = _compare(steps, scores, i, th)
        if pair is not None and pair.agree:
            return pair.lower, i
    return None


def _choose_descending(
    steps: np.ndarray, scores: list[SettingScore | None], th: Thresholds
) -> tuple[int, int | None] | None:
    """The smaller step of the first agreeing pair from the top, else (fallback) the smallest
    accepted step: the search came down from above the plateau, so the smallest step it ran
    carries the least bias, and the full run, far longer, mixes better than the short one."""
    pair = _agreeing_pair_from_top(steps, scores, th)
    if pair is not None:
        return pair
    accepted = [k for k, s in enumerate(scores) if s is not None and s.accepted]
    return (accepted[0], None) if accepted else None


def _fallback(
    steps: np.ndarray, scores: list[SettingScore | None], th: Thresholds
) -> tuple[int, None] | None:
    """The accepted step whose estimate differs least from its half step's (or the first
    accepted one), or None when nothing was accepted."""
    accepted = [k for k, s in enumerate(scores) if s is not None and s.accepted]
    if not accepted:
        return None
    jumps = {i: _compare(steps, scores, i, th) for i in accepted}
    flat = {i: abs(p.jump_rel) for i, p in jumps.items() if p is not None}
    if flat:
        return min(flat, key=lambda i: flat[i]), None
    return accepted[0], None


def _choose(
    steps: np.ndarray, scores: list[SettingScore | None], th: Thresholds
) -> tuple[int, int | None] | None:
    """(chosen index, the larger step it agrees with, or None for the fallback), or None."""
    plateau = _plateau(steps, scores, th)
    if plateau is not None:
        return plateau.top
    return _fallback(steps, scores, th)


def _floats(name: str, values: Any, *, allow_zero: bool = False) -> tuple[float, ...]:
    """A non-empty sequence of distinct finite numbers (> 0, or >= 0), sorted ascending."""
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name} must be a non-empty sequence of numbers; got {values!r}")
    out = tuple(sorted(check_positive(name, v, allow_zero=allow_zero) for v in values))
    if not out:
        raise ValueError(f"{name} must be a non-empty sequence of numbers; got {values!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat values; got {values!r}")
    return out


def _fmt(setting: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in setting.items())


def calibrate(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    nbeta: float | None = None,
    beta: float | None = None,
    step_sizes: Sequence[float] | None = None,
    gammas: Sequence[float] = (1.0,),
    nbetas: Sequence[float] | None = None,
    sampler: Literal["sgld", "rmsprop_sgld", "sgnht"] = "sgld",
    sampler_options: dict[str, Any] | None = None,
    noise: Literal["gaussian", "rademacher"] = "gaussian",
    gradient: Literal["minibatch", "control_variate"] = "minibatch",
    anchor: Anchor | None = None,
    batch_size: int = 256,
    batching: Literal["reshuffle", "iid"] = "reshuffle",
    num_chains: int = 4,
    num_draws: int | None = None,
    num_burnin: int | None = None,
    thresholds: Thresholds | None = None,
    search: Literal["descend", "ascend"] = "descend",
    mala_every: int | None = None,
    budget: int | None = None,
    exhaustive: bool = False,
    seed: int = 0,
) -> Calibration:
    r"""Recommend the step size (and γ, nβ) of :func:`slt.llc` from short runs over a grid.

    The checks, the selection rule and the default grid, with the measurements behind them,
    are in the module docstring: the recommendation is the smaller step of the top pair of the
    first plateau of the estimate in the step size, counted from the smallest step.

    Parameters
    ----------
    loss_fn, params, data
        As in :func:`slt.llc`: the mean negative log-likelihood, :math:`w^\ast` and the dataset.
    nbeta, beta
        The inverse temperature (not both; default :math:`\beta = 1/\log n`), as in
        :func:`slt.llc`. Not with ``nbetas``.
    step_sizes
        The grid of step sizes ε; default :func:`default_step_sizes`.
    gammas
        The localization strengths γ to try (default 1 alone: γ changes the estimand).
    nbetas
        Several nβ to try (adds an ``nbeta`` dim to the DataTree).
    sampler, sampler_options
        As in :func:`slt.llc`. ``"sgnht"`` has no MALA diagnostic: its acceptance check is
        skipped.
    noise
        The law of the injected noise, as in :func:`slt.llc`.
    gradient
        The gradient estimator, as in :func:`slt.llc` (the step size is only valid with it).
    anchor
        With ``gradient="control_variate"``: :math:`(L_n(w^*), \nabla L_n(w^*))` if already
        computed (:func:`slt.gradient.full_loss_and_grad`; :func:`slt.llc` passes its own, so the
        full-data pass runs once); ``None`` computes it.
    batch_size
        Minibatch size b (clipped to n). The step size is only valid with this b: the
        minibatch-noise bias grows like ε/b.
    batching
        The minibatch schedule, as in :func:`slt.llc`. The default, ``"reshuffle"``, is the
        schedule the checks' thresholds were measured with; ``slt.llc(step_size="auto")``
        calibrates with it whatever its own ``batching``. Under ``"iid"`` with the
        control-variate trace, the short runs' R-hat exceeded 1.1 on 3 of the 10 reduced-rank
        cases (bench/calibrate_rrr.py, 2026-11-24), and no step was recommended there;
        probably the cleaner trace shows a disagreement between the chains that the
        reshuffled trace's batch noise hides.
    num_chains, num_draws, num_burnin
        The short runs: chains (≥ 2, for R-hat), kept draws (≥ 100), burn-in steps (default
        1200 draws after 400 burn-in to descend, 4000 after 1000 to ascend). Ascending from the
        smallest step, at 4 × 2000 draws after 500 rrr(10,10,5,2) (batch 256) showed no plateau.
    thresholds
        The limits of the checks (default :class:`Thresholds`).
    search
        ``"descend"`` (default): from the largest step whose predicted noise temperature is
        within bounds down to the first agreeing pair, each run continuing the chains of the
        previous one; ``"ascend"``: from the smallest step up to the end of the first plateau,
        every run from :math:`w^\ast` (module docstring).
    mala_every
        Record the MALA acceptance on every ``mala_every``-th step only (each one costs a
        second gradient); default 16 when descending, 1 when ascending.
    budget
        Most gradient evaluations (minibatch gradients, all chains; a step that records the
        MALA acceptance counts 2) the search may spend; it stops before a run that would
        exceed it and recommends from what it has (every setting's cost is
        ``num_chains * (num_burnin + num_draws)`` steps). :func:`slt.llc` with
        ``step_size="auto"`` passes 20% of its own run. ``None``: no limit.
    exhaustive
        Run every setting of the grid (ascending) instead of stopping early.
    seed
        Random seed; every setting uses the same one (common random numbers), so neighbouring
        step sizes share their noise and their estimates differ less by chance.

    Returns
    -------
    Calibration
        ``step_size``, ``gamma``, ``nbeta``, ``reasons``, ``datatree`` (and ``llc_kwargs``).

    Raises
    ------
    ValueError
        On invalid arguments, before anything is compiled.
    CalibrationError
        When no setting passes every check; it names the check that failed most.

    Warns
    -----
    CalibrationWarning
        When no two step sizes agree (no plateau) and the recommendation is a fallback.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, slt
    >>> from slt.workflows.calibrate import calibrate
    >>> x = np.random.default_rng(0).normal(size=(1000, 3))
    >>> y = x @ np.array([1.0, -2.0, 0.5]) + np.random.default_rng(1).normal(size=1000)
    >>> loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)
    >>> w_star = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0])
    >>> rec = calibrate(loss, w_star, {"x": x, "y": y}, batch_size=250, num_draws=1000,
    ...                 num_burnin=200)
    >>> res = slt.llc(loss, w_star, {"x": x, "y": y}, **rec.llc_kwargs, num_draws=4000)
    >>> abs(res.llc - 1.5) < 0.2  # a regular model: d/2 = 1.5
    True
    """
    n = check_data(data)
    if nbetas is not None:
        if nbeta is not None or beta is not None:
            raise ValueError(
                f"give nbetas or one of nbeta/beta, not both (got nbetas={nbetas!r}, "
                f"nbeta={nbeta!r}, beta={beta!r})"
            )
        nbeta_grid = _floats("nbetas", nbetas)
    else:
        nbeta_grid = (resolve_nbeta(n, nbeta, beta),)
    gamma_grid = _floats("gammas", gammas, allow_zero=True)
    steps = np.asarray(
        _floats("step_sizes", step_sizes)
        if step_sizes is not None
        else default_step_sizes(nbeta_grid)
    )
    batch_size = min(check_int("batch_size", batch_size, low=1), n)
    check_choice("batching", batching, BATCHINGS)
    if search not in ("descend", "ascend"):
        raise ValueError(f"search must be 'descend' or 'ascend'; got {search!r}")
    descend = search == "descend" and not exhaustive
    num_chains = check_int("num_chains", num_chains, low=2)
    num_draws = check_int(
        "num_draws", (1200 if descend else 4000) if num_draws is None else num_draws, low=100
    )
    num_burnin = check_int(
        "num_burnin", (400 if descend else 1000) if num_burnin is None else num_burnin, low=0
    )
    mala_every = check_int(
        "mala_every", (16 if descend else 1) if mala_every is None else mala_every, low=1
    )
    if budget is not None:
        budget = check_int("budget", budget, low=1)
    seed = check_int("seed", seed, low=0)
    th = Thresholds() if thresholds is None else thresholds
    if not isinstance(th, Thresholds):
        raise ValueError(f"thresholds must be a Thresholds; got {thresholds!r}")
    mala = sampler != "sgnht"
    check_sampler(sampler, mala=mala, options=sampler_options)
    check_choice("noise", noise, NOISES)
    check_choice("gradient", gradient, GRADIENTS)
    check_params(params)
    check_loss_fn(loss_fn, params, data, batch_size)
    if gradient != "control_variate":
        anchor = None
    elif anchor is None:
        anchor = full_loss_and_grad(loss_fn, params, data)

    options = dict(sampler_options or {})
    builder = LocalSampler(sampler, loss_fn, mala, tuple(sorted(options)), noise=noise)
    block = max(1, min(n // batch_size, num_draws // 40))
    key = jax.random.key(seed)

    cost = {"steps": 0, "gradients": 0}
    run_steps = num_chains * (num_burnin + num_draws)
    per_step = 2 if gradient == "control_variate" else 1  # a second pass at w*
    # A recorded MALA step evaluates the proposal too: one more gradient.
    run_gradients = per_step * run_steps + (-(-run_steps // mala_every) if mala else 0)

    def affordable() -> bool:
        return budget is None or cost["gradients"] + run_gradients <= budget

    def run(step: float, gamma: float, nb: float) -> SettingScore:
        trace = run_chains(
            key,
            builder,
            loss_fn,
            params,
            data,
            nbeta=nb,
            num_chains=num_chains,
            num_draws=num_draws,
            num_burnin=num_burnin,
            batch_size=batch_size,
            batching=batching,
            hyper={"gamma": gamma, "step_size": step} | options,
            anchor=anchor,
            diagnostic_every=mala_every,
        )
        cost["steps"] += run_steps
        cost["gradients"] += run_gradients
        stats = trace.sample_stats
        diverged = stats["diverging"].any(axis=1)
        tau = noise_temperature_of(trace, sampler, step, nb, diverged)
        return score_setting(
            stats["loss"],
            trace.init_loss,
            stats["diverging"],
            nb,
            block=block,
            acceptance=stats.get("acceptance_rate") if mala else None,
            noise_temperature=None if np.isnan(tau) else tau,
            thresholds=th,
        )

    def ascend(gamma: float, nb: float) -> list[SettingScore | None]:
        scores: list[SettingScore | None] = [None] * len(steps)
        for i in range(len(steps)):
            if i and not affordable():
                break
            scores[i] = run(float(steps[i]), gamma, nb)
            if not exhaustive:
                plateau = _plateau(steps, scores, th)
                if plateau is not None and plateau.end is not None:
                    break
        return scores

    def descend_from_top(gamma: float, nb: float) -> list[SettingScore | None]:
        scores: list[SettingScore | None] = [None] * len(steps)
        hot = int(np.argmin(np.abs(np.log(steps * nb / HOT_STEP_NBETA))))
        first = scores[hot] = run(float(steps[hot]), gamma, nb)
        if first.num_diverged:  # too hot to measure anything: a factor 10 down
            top = max(hot - 3, 0)
        else:
            top = _descent_start(steps, hot, first.noise_temperature, th)
        for i in range(top, -1, -1):
            score = scores[i]
            if score is None:
                if not affordable():
                    break
                score = scores[i] = run(float(steps[i]), gamma, nb)
            if _agreeing_pair_from_top(steps, scores, th) is not None:
                break
            checks = {check for check, _ in score.failures}
            if i < top and checks & {"rhat", "stationarity"}:
                break  # under-mixed: a smaller step would mix worse still
        return scores

    # One slice per (gamma, nbeta).
    slices: dict[tuple[int, int], list[SettingScore | None]] = {}
    choices: dict[tuple[int, int], tuple[int, int | None]] = {}
    for g, gamma in enumerate(gamma_grid):
        for b, nb in enumerate(nbeta_grid):
            scores = descend_from_top(gamma, nb) if descend else ascend(gamma, nb)
            slices[g, b] = scores
            choice = (
                _choose_descending(steps, scores, th) if descend else _choose(steps, scores, th)
            )
            if choice is not None:
                choices[g, b] = choice

    def setting(i: int, g: int, b: int) -> dict[str, float]:
        out = {"step_size": float(steps[i]), "gamma": gamma_grid[g]}
        return out | ({"nbeta": nbeta_grid[b]} if nbetas is not None else {})

    if not choices:
        raise CalibrationError(_no_setting_message(slices))

    def preference(gb: tuple[int, int]) -> tuple[bool, float, float]:
        i, _ = choices[gb]
        s = slices[gb][i]
        assert s is not None
        rel_mcse = s.llc_mcse / abs(s.llc) if s.llc else math.inf
        return (choices[gb][1] is None, gamma_grid[gb[0]], rel_mcse)

    best = min(choices, key=preference)
    chosen, upper = choices[best]
    g_best, b_best = best
    reasons = [
        _choice_reason(steps, slices[best], chosen, upper, setting(chosen, *best), th, descend)
    ]
    if upper is None:
        warnings.warn(reasons[0], CalibrationWarning, stacklevel=2)
    for (g, b), scores in slices.items():
        for i in range(len(steps) - 1, -1, -1):
            if (g, b) == best and i == chosen:
                continue
            if (g, b) in choices and choices[g, b][0] == i:
                reasons.append(
                    f"{_fmt(setting(i, g, b))}: the choice of its (gamma, nbeta), passed over "
                    "(preferred: a plateau over a fallback, then the smaller gamma, then the "
                    "smaller relative MCSE)"
                )
                continue
            reasons.append(_setting_reason(steps, scores, i, setting(i, g, b), th, descend))
    dt = _datatree(
        steps,
        gamma_grid,
        nbeta_grid,
        nbetas is not None,
        slices,
        (chosen, g_best, b_best),
        th,
        attrs={
            "inference_library": "slt",
            "slt_version": __version__,
            "jax_version": jax.__version__,
            "n": n,
            "num_params": tree_size(params),
        },
        settings={
            "step_size": float(steps[chosen]),
            "gamma": gamma_grid[g_best],
            "nbeta": nbeta_grid[b_best],
            "sampler": sampler,
            "gradient": gradient,
            "batch_size": batch_size,
            "batching": batching,
            "noise": noise,
            "num_chains": num_chains,
            "num_draws": num_draws,
            "num_burnin": num_burnin,
            "diagnostic_block": block,
            "seed": seed,
            "exhaustive": exhaustive,
            "search": "descend" if descend else "ascend",
            "mala_every": mala_every,
            "cost_steps": cost["steps"],
            "cost_gradients": cost["gradients"],
            "budget": budget,
            "fallback": upper is None,
            "reasons": reasons,
        }
        | {f"sampler_{k}": v for k, v in options.items()},
    )
    return Calibration(
        step_size=float(steps[chosen]),
        gamma=gamma_grid[g_best],
        nbeta=nbeta_grid[b_best],
        reasons=tuple(reasons),
        datatree=dt,
        sampler=sampler,
        sampler_options=options,
        batch_size=batch_size,
        gradient=gradient,
        batching=batching,
        noise=noise,
    )


def _choice_reason(
    steps: np.ndarray,
    scores: list[SettingScore | None],
    chosen: int,
    upper: int | None,
    setting: dict[str, float],
    th: Thresholds,
    descend: bool = False,
) -> str:
    lo = scores[chosen]
    assert lo is not None
    if upper is None:
        return (
            f"chose {_fmt(setting)} (llc {lo.llc:.4g} ± {lo.llc_mcse:.2g}, MALA acceptance "
            f"{lo.acceptance_rate:.3f}) as a FALLBACK: no two accepted step sizes a factor >= 2 "
            f"apart gave estimates within {th.agree_rel:.0%} and within {th.agree_z:g} MCSE or "
            f"{th.agree_floor:.0%} (no plateau in the step size), so the accepted step whose "
            "estimate differs least from the one at its half step is taken. Raise num_draws and "
            "num_burnin (the estimates are too noisy or not yet settled to show a plateau) or "
            "refine step_sizes."
        )
    hi = scores[upper]
    assert hi is not None
    pair = _compare(steps, scores, upper, th)
    assert pair is not None
    if descend:
        return (
            f"chose {_fmt(setting)}: the smaller step of the first agreeing pair, descending "
            f"from the largest step whose predicted noise temperature is within "
            f"{th.max_noise_temperature:g} ({steps[upper]:.3g}: llc {hi.llc:.4g} ± "
            f"{hi.llc_mcse:.2g}; {steps[chosen]:.3g}: llc {lo.llc:.4g} ± {lo.llc_mcse:.2g}; "
            f"difference {pair.jump_rel:+.1%}, {pair.jump_z:+.1f} combined MCSE): halving the "
            f"step no longer moves the estimate. Noise temperature {lo.noise_temperature:.3g}, "
            f"MALA acceptance {lo.acceptance_rate:.3f}, R-hat {lo.rhat:.3f}."
        )
    return (
        f"chose {_fmt(setting)}: the smaller step of the top pair of the first plateau of the "
        f"estimate in the step size, counted from the smallest step ({steps[upper]:.3g}: llc "
        f"{hi.llc:.4g} ± {hi.llc_mcse:.2g}; {steps[chosen]:.3g}: llc {lo.llc:.4g} ± "
        f"{lo.llc_mcse:.2g}; difference {pair.jump_rel:+.1%}, {pair.jump_z:+.1f} combined "
        f"MCSE). Below the plateau the chains under-mix, above it the step-size bias shows; "
        f"MALA acceptance {lo.acceptance_rate:.3f}, R-hat {lo.rhat:.3f}."
    )


def _setting_reason(
    steps: np.ndarray,
    scores: list[SettingScore | None],
    i: int,
    setting: dict[str, float],
    th: Thresholds,
    descend: bool = False,
) -> str:
    s = scores[i]
    if s is None:
        stop = "first agreeing pair" if descend else "end of the plateau"
        return f"{_fmt(setting)}: not run (the search stopped at the {stop} or its budget)"
    if s.failures:
        return f"{_fmt(setting)}: rejected: " + "; ".join(text for _, text in s.failures)
    head = f"{_fmt(setting)}: accepted (llc {s.llc:.4g} ± {s.llc_mcse:.2g}), passed over"
    if descend:
        top_pair = _agreeing_pair_from_top(steps, scores, th)
        if top_pair is None:
            return f"{head}: no agreeing pair; the fallback took the flattest accepted step"
        if i == top_pair[1]:
            return f"{head}: the larger step of the agreeing pair"
        return f"{head}: {'above' if i > top_pair[1] else 'below'} the agreeing pair"
    plateau = _plateau(steps, scores, th)
    if plateau is None:
        return f"{head}: no plateau; the fallback took the flattest accepted step"
    if i in plateau.members:
        return f"{head}: on the plateau, but not the smaller step of its top pair"
    if i < plateau.members[0]:
        return f"{head}: below the plateau (the estimate still rises with the step: under-mixed)"
    pair = _compare(steps, scores, i, th)
    if i == plateau.end and pair is not None:
        return (
            f"{head}: ends the plateau, {pair.jump_rel:+.1%} ({pair.jump_z:+.1f} combined MCSE) "
            f"from the estimate at {steps[pair.lower]:.3g}: step-size bias"
        )
    return f"{head}: above the plateau (step-size bias)"


def _no_setting_message(slices: dict[tuple[int, int], list[SettingScore | None]]) -> str:
    counts = dict.fromkeys(CHECKS, 0)
    ran = 0
    for scores in slices.values():
        for s in scores:
            if s is not None:
                ran += 1
                for check, _ in s.failures:
                    counts[check] += 1
    worst = max(counts, key=lambda c: counts[c])
    advice = {
        "divergence": "the steps are too large: pass smaller step_sizes or a larger batch_size",
        "acceptance": "the steps are too large: pass smaller step_sizes",
        "noise": "the gradient noise is too hot: pass a larger batch_size or smaller step_sizes",
        "stationarity": "the chains have not settled: raise num_burnin and num_draws, or pass "
        "larger step_sizes",
        "rhat": "the chains disagree: raise num_draws, or pass larger step_sizes",
        "below_init": "the loss falls below its value at w*: w* is not a local minimum (train "
        "further) or the temperature is too high",
    }[worst]
    tally = ", ".join(f"{c} {k}" for c, k in counts.items())
    return (
        f"no setting passed every check ({ran} run): failures per check: {tally}; the "
        f"{worst} check failed most: {advice}"
    )


def _datatree(
    steps: np.ndarray,
    gammas: tuple[float, ...],
    nbetas: tuple[float, ...],
    nbeta_dim: bool,
    slices: dict[tuple[int, int], list[SettingScore | None]],
    chosen: tuple[int, int, int],
    th: Thresholds,
    attrs: dict[str, Any],
    settings: dict[str, Any],
) -> xr.DataTree:
    shape = (len(steps), len(gammas), len(nbetas))
    fields = [
        "llc",
        "llc_mcse",
        "rhat",
        "ess_bulk",
        "acceptance_rate",
        "noise_temperature",
        "frac_below_init",
        "drift_z",
        "drift_rel",
        "score",
        "llc_jump",
        "llc_jump_z",
    ]
    data: dict[str, np.ndarray] = {f: np.full(shape, np.nan) for f in fields}
    flags = {f: np.zeros(shape, bool) for f in ["ran", "diverged", "accepted", "agree"]}
    flags |= {"recommended": np.zeros(shape, bool)}
    data["num_diverged"] = np.zeros(shape, np.int64)
    for (g, b), scores in slices.items():
        for i, s in enumerate(scores):
            if s is None:
                continue
            for f in fields[:9]:
                data[f][i, g, b] = getattr(s, f)
            data["score"][i, g, b] = s.score
            data["num_diverged"][i, g, b] = s.num_diverged
            flags["ran"][i, g, b] = True
            flags["diverged"][i, g, b] = s.num_diverged > 0
            flags["accepted"][i, g, b] = s.accepted
            pair = _compare(steps, scores, i, th)
            if pair is not None:
                data["llc_jump"][i, g, b] = pair.jump_rel
                data["llc_jump_z"][i, g, b] = pair.jump_z
                flags["agree"][i, g, b] = pair.agree
    flags["recommended"][chosen] = True
    dims: tuple[str, ...] = ("step_size", "gamma", "nbeta")
    coords: dict[str, Any] = {"step_size": steps, "gamma": np.asarray(gammas)}
    if nbeta_dim:
        coords["nbeta"] = np.asarray(nbetas)
        index: Any = (slice(None),) * 3
    else:
        dims = dims[:2]
        index = (slice(None), slice(None), 0)
    variables = {k: (dims, v[index]) for k, v in (data | flags).items()}
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs.update({k: attr_value(v) for k, v in settings.items()})
    ds.attrs.update({f"threshold_{k}": v for k, v in th._asdict().items()})
    tree = xr.DataTree.from_dict({"calibration": ds})
    tree.attrs.update({k: attr_value(v) for k, v in (attrs | {"estimator": "calibrate"}).items()})
    return tree
