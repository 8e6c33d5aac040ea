"""``slt.calibrate`` on the reduced-rank regression suite: does ``step_size="auto"`` hold up?

For every case: calibrate with no hand-set sampler hyperparameter (default grid, γ = 1, the
calibration's default run length and batch size unless given), then run :func:`slt.llc` at
the recommended settings with the suite's full run length (``RUN_LENGTH["rrr"]``: 4 × 24000
draws after 2000 burn-in) and compare with the exact λ. The estimate runs as
``slt.llc(step_size="auto")`` runs it: the calibration with reshuffled batches (its default),
the estimate with ``--batching`` (default ``slt.llc``'s, iid) and ``slt.llc``'s other
defaults. β is the suite's β₀/log n (part of the estimand, not a tuning knob). Prints one
row per case as it goes, then the summary against the issue-2 targets (every case within 10%,
median within 5%).

    python bench/calibrate_rrr.py                       # the four cheapest cases
    python bench/calibrate_rrr.py --cases 0 1 2 3 4 5   # indices into suites.RRR_CASES
    python bench/calibrate_rrr.py --batch-size 1000     # the suite's batch size
    python bench/calibrate_rrr.py --exhaustive          # run the whole grid, print it per case
    python bench/calibrate_rrr.py --warm-timing         # wall times with the programs compiled
"""

import argparse
import math
import statistics
import time
import warnings
from typing import Any

import numpy as np

from slt.models import rrr
from slt.validation.suites import BETA0, N_SAMPLES, RRR_CASES, RUN_LENGTH
from slt.workflows.calibrate import CalibrationError, CalibrationWarning, calibrate
from slt.workflows.llc import llc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-draws", type=int, help="calibration draws (default: calibrate's)")
    parser.add_argument("--num-burnin", type=int, help="calibration burn-in (default: calibrate's)")
    parser.add_argument("--exhaustive", action="store_true")
    parser.add_argument("--search", choices=["descend", "ascend"], default="descend")
    parser.add_argument(
        "--warm-timing",
        action="store_true",
        help="time a second calibration and estimate, with their programs compiled",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=0.2,
        help="calibration budget as a fraction of the estimate's gradients (0: none)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--batching", choices=["iid", "reshuffle"], default="iid", help="the estimate's batches"
    )
    args = parser.parse_args()

    beta = BETA0 / math.log(N_SAMPLES)
    estimate: dict[str, Any] = RUN_LENGTH["rrr"]
    estimate_grads = estimate["num_chains"] * (estimate["num_burnin"] + estimate["num_draws"])
    budget = int(args.budget * estimate_grads) if args.budget else None
    header = (
        f"{'case':<24} {'exact':>7} {'llc':>8} {'mcse':>6} {'rel_err':>8} {'rhat':>6} "
        f"{'step':>9} {'gamma':>5} {'short':>8} {'fallback':>8} {'cal_s':>6} {'llc_s':>6} "
        f"{'runs':>4} {'grads':>7}"
    )
    run_length = {
        k: v for k, v in [("num_draws", args.num_draws), ("num_burnin", args.num_burnin)] if v
    }
    print(
        f"batch_size={args.batch_size} beta={beta:.4g} calibration run length {run_length} "
        f"search={args.search} budget={budget} gradient evaluations"
    )
    print(header, flush=True)
    errors = []
    ratios: list[tuple[float, float]] = []
    for index in args.cases:
        M, N, H, r = RRR_CASES[index]
        problem = rrr.make(M, N, H, r, n=N_SAMPLES, seed=0, w_star="teacher")
        assert problem.exact is not None  # rrr.make always sets it
        exact = problem.exact.rlct
        name = f"rrr({M},{N},{H},{r})"

        def do_calibrate(problem=problem):
            return calibrate(
                problem.loss_fn,
                problem.params,
                problem.data,
                beta=beta,
                batch_size=args.batch_size,
                **run_length,
                exhaustive=args.exhaustive,
                search=args.search,
                budget=budget,
                seed=args.seed,
            )

        def do_llc(rec, problem=problem):
            return llc(
                problem.loss_fn,
                problem.params,
                problem.data,
                **(rec.llc_kwargs | {"batching": args.batching}),
                **estimate,
                seed=args.seed,
            )

        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalibrationWarning)
            try:
                rec = do_calibrate()
            except CalibrationError as err:
                print(f"{name:<24} calibration failed: {err}", flush=True)
                continue
        cal_s = time.perf_counter() - start
        fallback = any(issubclass(w.category, CalibrationWarning) for w in caught)
        cal = rec.datatree["calibration"]
        short = float(cal["llc"].sel(step_size=rec.step_size, gamma=rec.gamma))
        start = time.perf_counter()
        res = do_llc(rec)
        llc_s = time.perf_counter() - start
        if args.warm_timing:  # again, with every program compiled: the steady-state times
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CalibrationWarning)
                start = time.perf_counter()
                do_calibrate()
                cal_s = time.perf_counter() - start
            start = time.perf_counter()
            do_llc(rec)
            llc_s = time.perf_counter() - start
        grad_ratio = cal.attrs["cost_gradients"] / estimate_grads
        rel = (res.llc - exact) / exact
        errors.append(rel)
        print(
            f"{name:<24} {exact:7.2f} {res.llc:8.3f} {res.mcse:6.3f} {rel:+8.1%} {res.rhat:6.3f} "
            f"{rec.step_size:9.3g} {rec.gamma:5.3g} {short:8.3f} {fallback!s:>8} {cal_s:6.0f} "
            f"{llc_s:6.0f} {int(cal['ran'].sum()):4d} {grad_ratio:7.1%}",
            flush=True,
        )
        ratios.append((grad_ratio, cal_s / llc_s))
        if args.exhaustive:
            names = ["llc", "llc_mcse", "acceptance_rate", "rhat", "drift_z", "drift_rel"]
            table = cal.to_dataset()[names + ["llc_jump", "accepted", "agree"]].isel(gamma=0)
            print(table.to_dataframe().drop(columns="gamma").to_string(), flush=True)
        print("   ", rec.reasons[0], flush=True)
    if errors:
        worst = max(errors, key=abs)
        median = statistics.median(np.abs(errors))
        within = sum(abs(e) <= 0.10 for e in errors)
        print(
            f"summary: {within}/{len(errors)} within 10%, median |error| {median:.1%}, "
            f"worst {worst:+.1%} (targets: all within 10%, median within 5%)"
        )
        grads = [g for g, _ in ratios]
        walls = [w for _, w in ratios]
        print(
            f"calibration cost / estimate cost: gradient evaluations median "
            f"{statistics.median(grads):.0%} (max {max(grads):.0%}), wall time median "
            f"{statistics.median(walls):.0%} (max {max(walls):.0%}; "
            f"{'compiled' if args.warm_timing else 'includes compilation'}) "
            "(target: at most 20%)"
        )


if __name__ == "__main__":
    main()
