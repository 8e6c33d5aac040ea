r"""The free energy's growth in n: thermodynamic integration against :math:`\lambda\log n`.

Watanabe (2009, Main Theorem 6.2): :math:`F_n - nL_n(w_0) = \lambda\log n - (m-1)\log\log n +
O_p(1)`. For each family (m = 1) and n on a log grid, :math:`F_n` is computed by thermodynamic
integration (:func:`slt.estimators.free_energy.thermodynamic`, K = 48 temperatures
geometric from :math:`10^{-5}/n` to 1 (:func:`slt.estimators.free_energy.geometric_schedule`;
the power schedule :math:`(k/K)^5` missed the prior-to-likelihood transition by an amount that
grew with n, -0.81 nats at n = 10^4 with K = 24 against the exact evidence of linear
regression), integrated by interval-wise :math:`a + b/t` interpolation
(:func:`slt.estimators.free_energy.hyperbolic_weights`: the trapezoid rule overestimates
:math:`F_n` by an amount that grows with n and biased the slope by +100% in a first run with
K = 16), averaged over independent replicate datasets, and
:math:`F_n - nL_n(w_0)` is regressed on :math:`\log n`: the slope must be within 10% of λ.
WBIC (one more temperature, :math:`1/\log n`) is printed beside it, with
:math:`\mathrm{WBIC} - F_n`, which Watanabe (2013) shows is :math:`O_p(\sqrt{\log n})`.

The replicates share nothing but their seed stream; the datasets at different n of one
replicate are nested prefixes of one sample of the largest size, so the :math:`O_p(1)`
fluctuations are positively correlated across n and partly cancel in the slope. The slope's
standard error comes from the spread over replicates of each replicate's own slope.
"""

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy import optimize

from slt.estimators import free_energy as fe
from slt.estimators.wbic import posterior_mean
from slt.models import linear, mixture, normal_crossing, rrr
from slt.models.problem import GlobalProblem, prefix_data, truth_energy
from slt.workflows.tempered import TemperedSampler

__all__ = ["FAMILIES", "ScalingRow", "SlopeRow", "format_scaling", "run_scaling"]

NS = (100, 316, 1000, 3162, 10_000)
REPLICATES = 10
NUM_TEMPERATURES = 48
SAMPLING: dict[str, Any] = dict(
    sampler="nuts",
    num_chains=4,
    num_warmup=300,
    num_samples=1000,
    keep_log_likelihood=False,
    max_divergent_fraction=0.05,
)

FAMILIES: dict[str, Callable[[int, int], GlobalProblem]] = {
    "linear(d=3)": lambda n, seed: linear.make(3, n=n, seed=seed),
    "w^2": lambda n, seed: normal_crossing.make([1], n=n, seed=seed),
    "w1^2 + w2^4": lambda n, seed: normal_crossing.make_sum([[1], [2]], n=n, seed=seed),
    "rrr(M=4,N=2,H=2,r=1)": lambda n, seed: rrr.make_global(4, 2, 2, 1, n=n, seed=seed),
    # The mixture family is the slowest to sample (about 10x the others per temperature).
    "mixture, regular truth": lambda n, seed: mixture.make_regular(n, seed=seed),
}
DEFAULT_FAMILIES = ("linear(d=3)", "w1^2 + w2^4", "rrr(M=4,N=2,H=2,r=1)")


class ScalingRow(NamedTuple):
    """One family at one n, averaged over replicates."""

    family: str
    n: int
    free_energy: float
    free_energy_se: float
    excess: float  # F_n - nL_n(w0)
    excess_sd: float  # over replicates
    excess_min: float  # F_n - min_w nL_n(w)
    excess_min_sd: float
    wbic_minus_f: float
    wbic_minus_f_sd: float
    sqrt_log_n: float
    num_divergent: int
    seconds: float


class SlopeRow(NamedTuple):
    """The slope of :math:`F_n - nL_n(w_0)` on :math:`\\log n` against the exact λ."""

    family: str
    exact: float
    slope: float
    se: float
    rel_error: float
    passed: bool
    slope_min: float = math.nan
    r"""The slope of :math:`F_n - \min_w nL_n(w)` (same limit λ, less noise)."""
    se_min: float = math.nan
    rel_error_min: float = math.nan
    passed_min: bool = False


def min_energy(problem: GlobalProblem) -> float:
    r""":math:`\min_w nL_n(w)` over the prior's support, by L-BFGS in unconstrained coordinates.

    Five starts uniform on (-2, 2) (NumPyro's initialisation box) and the true parameter's
    :math:`nL_n(w_0)` as an upper bound (a minimum on the support's boundary, e.g. w = 0 for
    the normal-crossing priors, lies at infinity in logit coordinates and is only approached).
    """
    sampler = TemperedSampler(problem.model, problem.data, n=problem.n)
    flat0, unravel = ravel_pytree(sampler.unconstrained_structure)
    energy = sampler.energy_fn()
    value_and_grad = jax.jit(jax.value_and_grad(lambda x: energy(unravel(x))))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = value_and_grad(jnp.asarray(x, flat0.dtype))
        return float(v), np.asarray(g, np.float64)

    rng = np.random.default_rng(0)
    best = truth_energy(problem) if problem.truth is not None else math.inf
    for _ in range(5):
        x0 = rng.uniform(-2.0, 2.0, flat0.shape)
        best = min(best, float(optimize.minimize(fun, x0, jac=True, method="L-BFGS-B").fun))
    return best


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def _sd(values) -> float:
    """The sample standard deviation over replicates (NaN with fewer than two)."""
    values = np.asarray(values, float)
    return float(np.std(values, ddof=1)) if values.size > 1 else math.nan


def _fit_slope(log_n: np.ndarray, excess: np.ndarray) -> tuple[float, float]:
    """The slope of the replicate-mean excess (replicate, n) on log n, and its standard error
    from the spread of the replicates' own slopes."""
    per_replicate = [_slope(log_n, e) for e in excess]
    return _slope(log_n, excess.mean(axis=0)), _sd(per_replicate) / math.sqrt(len(excess))


def run_scaling(
    families: list[str] | None = None,
    *,
    ns: tuple[int, ...] = NS,
    replicates: int = REPLICATES,
    num_temperatures: int = NUM_TEMPERATURES,
    sampling: dict[str, Any] | None = None,
    echo: bool = False,
    first_seed: int = 1000,
) -> tuple[list[ScalingRow], list[SlopeRow]]:
    """TI free energies over ``ns`` for each family; the slopes on log n.

    Replicate r uses the dataset seed ``first_seed + r``, so runs with disjoint seed ranges can
    be pooled.
    """
    names = list(DEFAULT_FAMILIES) if families is None else families
    for name in names:
        if name not in FAMILIES:
            raise ValueError(
                f"family must be one of {', '.join(map(repr, FAMILIES))}; got {name!r}"
            )
    kw = dict(SAMPLING, **(sampling or {}))
    rows: list[ScalingRow] = []
    slopes: list[SlopeRow] = []
    for name in names:
        full = [FAMILIES[name](max(ns), first_seed + r) for r in range(replicates)]
        exact = full[0].exact
        assert exact is not None and exact.multiplicity == 1
        excess = np.empty((replicates, len(ns)))
        excess_min = np.empty((replicates, len(ns)))
        for j, n in enumerate(ns):
            start = time.perf_counter()
            datasets = [prefix_data(p, n) for p in full]
            sampler = TemperedSampler(full[0].model, datasets[0], n=n, **kw)
            f_values, f_ses, gaps, num_div = [], [], [], 0
            # Geometric from 1e-5/n: a few decades below the prior-to-likelihood transition
            # at t ~ 1/(n sigma^2) for every family here (fe.geometric_schedule).
            ts = fe.geometric_schedule(num_temperatures, 1e-5 / n)
            for r, data in enumerate(datasets):
                fits = [sampler.fit(float(t), 7 * r + k, data=data) for k, t in enumerate(ts)]
                means = [posterior_mean(f.energy) for f in fits]
                est = fe.thermodynamic(
                    ts, [m.value for m in means], [m.se for m in means], rule="hyperbolic"
                )
                wbic_fit = sampler.fit(1.0 / math.log(n), 7 * r + 999, data=data)
                wbic = posterior_mean(wbic_fit.energy).value
                problem = full[r]._replace(data=data, n=n)
                excess[r, j] = est.value - truth_energy(problem)
                excess_min[r, j] = est.value - min_energy(problem)
                f_values.append(est.value)
                f_ses.append(est.se)
                gaps.append(wbic - est.value)
                num_div += sum(f.num_divergent for f in fits) + wbic_fit.num_divergent
            row = ScalingRow(
                family=name,
                n=n,
                free_energy=float(np.mean(f_values)),
                free_energy_se=float(np.sqrt(np.mean(np.square(f_ses)))),
                excess=float(np.mean(excess[:, j])),
                excess_sd=_sd(excess[:, j]),
                excess_min=float(np.mean(excess_min[:, j])),
                excess_min_sd=_sd(excess_min[:, j]),
                wbic_minus_f=float(np.mean(gaps)),
                wbic_minus_f_sd=_sd(gaps),
                sqrt_log_n=math.sqrt(math.log(n)),
                num_divergent=num_div,
                seconds=time.perf_counter() - start,
            )
            rows.append(row)
            if echo:
                print(format_scaling([row], [], header=not j and name == names[0]), flush=True)
        log_n = np.log(np.asarray(ns, float))
        slope, se = _fit_slope(log_n, excess)
        slope_min, se_min = _fit_slope(log_n, excess_min)
        rel = (slope - exact.rlct) / exact.rlct
        rel_min = (slope_min - exact.rlct) / exact.rlct
        slopes.append(
            SlopeRow(
                name,
                exact.rlct,
                slope,
                se,
                rel,
                bool(abs(rel) <= 0.10),
                slope_min,
                se_min,
                rel_min,
                bool(abs(rel_min) <= 0.10),
            )
        )
        if echo:
            print(format_scaling([], slopes[-1:], header=False), flush=True)
    return rows, slopes


def format_scaling(rows: list[ScalingRow], slopes: list[SlopeRow], *, header: bool = True) -> str:
    """The per-n table (F_n, F_n - nL_n(w0), WBIC - F_n, sqrt(log n)) and the slope lines."""
    lines = []
    if header and rows:
        lines.append(
            f"{'family':26s} {'n':>6s} {'F_n':>10s} {'F_n-nL_n(w0)':>14s} "
            f"{'F_n-min nL_n':>14s} {'WBIC-F_n':>13s} {'sqrt(log n)':>11s} {'div':>4s} "
            f"{'sec':>6s}"
        )
    for r in rows:
        lines.append(
            f"{r.family:26s} {r.n:6d} {r.free_energy:10.2f} {r.excess:7.2f}±{r.excess_sd:<6.2f} "
            f"{r.excess_min:7.2f}±{r.excess_min_sd:<6.2f} "
            f"{r.wbic_minus_f:6.2f}±{r.wbic_minus_f_sd:<6.2f} {r.sqrt_log_n:11.2f} "
            f"{r.num_divergent:4d} {r.seconds:6.1f}"
        )
    for s in slopes:
        lines.append(
            f"  slope of F_n - nL_n(w0) on log n, {s.family}: {s.slope:.3f} ± {s.se:.3f} "
            f"(exact λ = {s.exact:g}, {s.rel_error:+.1%}) passed={s.passed}; of F_n - min nL_n: "
            f"{s.slope_min:.3f} ± {s.se_min:.3f} ({s.rel_error_min:+.1%}) passed={s.passed_min}"
        )
    return "\n".join(lines)
