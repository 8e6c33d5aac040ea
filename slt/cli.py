"""The ``slt`` command line: argument parsing only; the work is done by the library."""

import argparse
import sys
import warnings
from collections.abc import Sequence

from slt.errors import DivergenceError

__all__ = ["main"]

SAMPLER_CHOICES = ("sgld", "rmsprop_sgld")


def _validate(args: argparse.Namespace) -> int:
    from slt.io import write_atomic
    from slt.validation.runner import run_suite, summary, to_markdown, write_json, write_plot
    from slt.validation.suites import SUITES

    if args.suite == "networks":
        if _override_flags(args):
            names = ", ".join(_flag(name) for name in _OVERRIDES)
            raise ValueError(f"{names} apply to the suites with exact values, not 'networks'")
        return _validate_networks(args)
    samplers = [s.strip() for s in args.sampler.split(",")]
    for s in samplers:
        if s not in SAMPLER_CHOICES:
            raise ValueError(f"--sampler must be a comma-separated subset of {SAMPLER_CHOICES}")
    if args.suite not in SUITES:
        raise ValueError(f"--suite must be one of {', '.join(SUITES)}; got {args.suite!r}")
    given = {name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None}
    settings = {name: given[name] for name in _SETTINGS if name in given}
    run_length = {key: given[name] for name, key in _RUN_LENGTH.items() if name in given}
    title = " ".join(["slt validate --suite", args.suite, *_override_flags(args)])
    print(f"{title}: samplers {', '.join(samplers)}", flush=True)
    rows = run_suite(
        args.suite,
        samplers,
        echo=True,
        beta0=args.beta0,
        settings=settings,
        run_length=run_length,
        burnin_step_factor=args.burnin_step_factor,
    )
    print()
    print(summary(rows))
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {args.json}")
    if args.report:
        write_atomic(args.report, to_markdown(rows, title))
        print(f"wrote {args.report}")
    if args.plot:
        write_plot(rows, args.plot, title=title)
        print(f"wrote {args.plot}")
    return 0 if all(r.passed for r in rows) else 1


# The overrides of ``slt validate`` by their argparse names: slt.llc settings, run-length entries
# (flag -> RUN_LENGTH key), and the two run_suite takes itself (beta0, burnin_step_factor).
_SETTINGS = ("batch_size", "gamma")
_RUN_LENGTH = {"chains": "num_chains", "draws": "num_draws", "burnin": "num_burnin"}
_OVERRIDES = ("beta0", *_SETTINGS, *_RUN_LENGTH, "burnin_step_factor")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _override_flags(args: argparse.Namespace) -> list[str]:
    """The override flags given to ``slt validate``, as they would be typed."""
    flags = []
    for name in _OVERRIDES:
        value = getattr(args, name)
        if value is not None:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            flags += [_flag(name), text]
    return flags


def _validate_networks(args: argparse.Namespace) -> int:
    import json

    from slt.io import write_atomic
    from slt.validation.networks import run_networks, to_markdown, write_rescaling_plot

    print("slt validate: suite 'networks' (no exact value; docs/networks.md)", flush=True)
    results = run_networks(echo=True)
    if args.json:
        write_atomic(args.json, json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.report:
        write_atomic(args.report, to_markdown(results) + "\n")
        print(f"wrote {args.report}")
    if args.plot:
        write_rescaling_plot(results[0], args.plot)
        print(f"wrote {args.plot}")
    return 0 if all(r["passed"] for r in results) else 1


def _validate_global(args: argparse.Namespace) -> int:
    import json

    from slt.io import write_atomic
    from slt.validation.global_suite import (
        format_global_table,
        global_summary,
        run_global_suite,
    )

    rows = run_global_suite(args.suite, echo=True)
    print()
    print(global_summary(rows))
    if args.json:
        write_atomic(args.json, json.dumps([r._asdict() for r in rows], indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.report:
        text = f"# slt validate-global --suite {args.suite}\n\n```\n"
        text += format_global_table(rows) + "\n```\n\n" + global_summary(rows) + "\n"
        write_atomic(args.report, text)
        print(f"wrote {args.report}")
    ok = all(r.passed for r in rows if not r.slow)
    if args.llc_agreement:
        from slt.validation.global_suite import run_llc_agreement

        print("\nLLC at the truth against the global posterior (5 datasets per rrr case):")
        for a in run_llc_agreement():
            print(
                f"{a.case:24s} exact {a.exact:6.3f}  LLC {a.llc_mean:6.3f}  slope "
                f"{a.global_mean:6.3f} ({a.difference:+.3f}±{a.difference_se:.3f})  same β "
                f"{a.same_beta_mean:6.3f} ({a.same_beta_difference:+.3f}"
                f"±{a.same_beta_difference_se:.3f})  exact {a.exact_mean:6.3f} (LLC bias "
                f"{a.llc_bias:+.3f}±{a.llc_bias_se:.3f})  agrees={a.agrees}",
                flush=True,
            )
            ok = ok and a.agrees
    return 0 if ok else 1


def _validate_ti(args: argparse.Namespace) -> int:
    import json

    from slt.io import write_atomic
    from slt.validation.ti_scaling import format_scaling, run_scaling

    rows, slopes = run_scaling(echo=True)
    print()
    print(format_scaling(rows, slopes))
    if args.json:
        payload = {"rows": [r._asdict() for r in rows], "slopes": [s._asdict() for s in slopes]}
        write_atomic(args.json, json.dumps(payload, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(s.passed for s in slopes) else 1


def _report(args: argparse.Namespace) -> int:
    import os

    from slt.report import load_input, write_report

    result = load_input(args.result)
    out = args.output or os.path.splitext(args.result)[0] + ".html"
    write_report(result, out, title=args.title)
    print(f"wrote {out}")
    return 0


def _problem(args: argparse.Namespace):
    """The built-in model named on the command line, with its data and w*."""
    if args.model == "rrr":
        from slt.models import rrr

        M, N, H, r = args.M, args.N, args.H, args.r
        return rrr.make(M, N, H, r, n=args.n, seed=args.data_seed, w_star=args.w_star)
    from slt.models import dln

    widths = _int_list("--widths", args.widths)
    return dln.make(widths, args.rank, n=args.n, seed=args.data_seed, w_star=args.w_star)


def _int_list(flag: str, text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"{flag} must be comma-separated integers, e.g. 4,6,3; got {text!r}"
        ) from None


def _step_size(text: str) -> float | str:
    """``--step-size``: a number, or a rule name that :func:`slt.llc` checks."""
    try:
        return float(text)
    except ValueError:
        return text


def _llc_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of slt.llc given by the sampler flags."""
    options = {
        k: getattr(args, k)
        for k in ("beta2", "eps", "adapt_steps", "diffusion")
        if getattr(args, k) is not None
    }
    return dict(
        sampler=args.sampler,
        step_size=args.step_size,
        burnin_step_size="auto" if args.burnin_step_size is None else args.burnin_step_size,
        num_hot_burnin=args.hot_burnin,
        batching=args.batching,
        gradient=args.gradient,
        trace=args.trace,
        noise_correction=False if args.no_noise_correction else None,
        noise=args.noise,
        nbeta=args.nbeta,
        beta=args.beta,
        gamma=args.gamma,
        num_chains=args.chains,
        num_draws=args.draws,
        num_burnin=args.burnin,
        steps_per_draw=args.steps_per_draw,
        batch_size=args.batch_size,
        prior_scale=args.prior_scale,
        mala_diagnostic=args.mala,
        seed=args.seed,
        shard=not args.no_shard,
        sampler_options=options or None,
    )


def _estimate(args: argparse.Namespace) -> int:
    import slt

    problem = _problem(args)
    res = slt.llc(problem.loss_fn, problem.params, problem.data, **_llc_settings(args))
    print(f"{problem.name}: {res!r}")
    if problem.exact is not None:
        exact = problem.exact.rlct
        print(f"exact λ = {exact:g}; relative error {(res.llc - exact) / exact:+.1%}")
        res.datatree.attrs["exact_rlct"] = exact
    for reason in res.diagnostics.reasons:
        print(f"  {reason}")
    if args.output:
        res.save(args.output)
        print(f"wrote {args.output}")
    if args.report:
        from slt.report import write_report

        write_report(res, args.report, title=problem.name)
        print(f"wrote {args.report}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import slt
    from slt.workflows.calibrate import CalibrationWarning

    problem = _problem(args)
    settings = _llc_settings(args)
    with warnings.catch_warnings():
        # A fallback's warning is the first reason, printed below with the others.
        warnings.simplefilter("ignore", CalibrationWarning)
        rec = slt.calibrate(
            problem.loss_fn,
            problem.params,
            problem.data,
            nbeta=settings["nbeta"],
            beta=settings["beta"],
            gammas=(settings["gamma"],),
            sampler=settings["sampler"],
            sampler_options=settings["sampler_options"],
            noise=settings["noise"],
            batch_size=settings["batch_size"],
            num_chains=settings["num_chains"],
            seed=settings["seed"],
        )
    print(
        f"{problem.name}: recommended step size {rec.step_size:.3g} (gamma {rec.gamma:g}, "
        f"nbeta {rec.nbeta:.4g}, batch {rec.batch_size})"
    )
    for reason in rec.reasons:
        print(f"  {reason}")
    if args.output:
        from slt.io import save

        save(rec.datatree, args.output)
        print(f"wrote {args.output}")
    if args.report:
        from slt.report import write_report

        write_report(rec.datatree, args.report, title=f"calibration: {problem.name}")
        print(f"wrote {args.report}")
    return 0


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    rrr = models.add_parser(
        "rrr",
        help="reduced-rank regression y = BAx + noise (exact λ: Aoyagi & Watanabe 2005)",
        description="Reduced-rank regression with A (H x M), B (N x H) and a rank-r teacher.",
    )
    for name, text in (
        ("M", "input dimension"),
        ("N", "output dimension"),
        ("H", "model rank (inner width)"),
        ("r", "true rank, 0 <= r <= min(M, N, H)"),
    ):
        rrr.add_argument(name, type=int, help=text)
    dln = models.add_parser(
        "dln",
        help="deep linear network (exact λ: Aoyagi 2024)",
        description="A deep linear network with a balanced rank-r teacher.",
    )
    dln.add_argument(
        "--widths", required=True, help="layer widths, input first, e.g. 10,8,6,4 (3 layers)"
    )
    dln.add_argument("--rank", type=int, required=True, help="rank of the teacher's product")
    for sub in (rrr, dln):
        _add_run_arguments(sub)


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data and point")
    data.add_argument("--n", type=int, default=10_000, help="number of samples (default 10000)")
    data.add_argument("--data-seed", type=int, default=0, help="seed of teacher and data")
    data.add_argument(
        "--w-star",
        choices=("teacher", "trained"),
        default="teacher",
        help="where to measure: the true parameter or the trained minimum (default teacher)",
    )
    run = p.add_argument_group("sampler (see slt.llc)")
    run.add_argument("--sampler", choices=("sgld", "rmsprop_sgld", "sgnht"), default="sgld")
    run.add_argument(
        "--step-size",
        type=_step_size,
        default=1e-4,
        help="ε (default 1e-4), or 'auto' (calibrated, or the noise rule for short runs) or "
        "'noise' (sgld: from the minibatch gradient's noise at w*)",
    )
    run.add_argument(
        "--burnin-step-size",
        type=float,
        help="ε of the hot burn-in steps (default: 10 ε for sgld when the burn-in is shorter "
        "than the climb time 1/(ε sqrt(nβ)), else ε)",
    )
    run.add_argument(
        "--hot-burnin",
        type=int,
        help="burn-in steps at --burnin-step-size (default: half the burn-in when the step is "
        "the default, all of it when given)",
    )
    run.add_argument(
        "--batching",
        choices=("iid", "reshuffle"),
        default="iid",
        help="minibatches with replacement or reshuffled each epoch (default iid)",
    )
    run.add_argument(
        "--gradient",
        choices=("minibatch", "control_variate"),
        default="minibatch",
        help="gradient estimator (default minibatch)",
    )
    run.add_argument(
        "--trace",
        choices=("control_variate", "minibatch"),
        default="control_variate",
        help="loss recorded for the estimate (default control_variate)",
    )
    run.add_argument(
        "--no-noise-correction",
        action="store_true",
        help="report λ̂ without subtracting the minibatch-noise bias (d/2)τ̂ (subtracted by "
        "default for sgld with iid batches)",
    )
    run.add_argument(
        "--noise",
        choices=("gaussian", "rademacher"),
        default="gaussian",
        help="injected noise: normals or random signs (default gaussian)",
    )
    temp = run.add_mutually_exclusive_group()
    temp.add_argument("--nbeta", type=float, help="nβ (default n / log n)")
    temp.add_argument("--beta", type=float, help="β (default 1 / log n)")
    run.add_argument("--gamma", type=float, default=1.0, help="localization γ (default 1)")
    run.add_argument("--chains", type=int, default=8, help="number of chains (default 8)")
    run.add_argument("--draws", type=int, default=2000, help="draws per chain (default 2000)")
    run.add_argument("--burnin", type=int, default=500, help="burn-in steps (default 500)")
    run.add_argument("--steps-per-draw", type=int, default=1, help="thinning (default 1)")
    run.add_argument("--batch-size", type=int, default=256, help="minibatch size (default 256)")
    run.add_argument("--prior-scale", type=float, help="sd of a Gaussian prior at 0 (none)")
    run.add_argument("--mala", action="store_true", help="record the MALA acceptance rate")
    run.add_argument("--beta2", type=float, help="RMSProp-SGLD: second-moment decay")
    run.add_argument("--eps", type=float, help="RMSProp-SGLD: preconditioner floor")
    run.add_argument(
        "--adapt-steps", type=int, help="RMSProp-SGLD: freeze the preconditioner after this step"
    )
    run.add_argument("--diffusion", type=float, help="SGNHT: diffusion constant")
    run.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    run.add_argument("--no-shard", action="store_true", help="keep all chains on one device")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="PATH", help="save the result (netCDF) to PATH")
    out.add_argument("--report", metavar="PATH", help="write an HTML report to PATH")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``slt`` command."""
    parser = argparse.ArgumentParser(
        prog="slt",
        description="Learning coefficients (LLC, RLCT) from singular learning theory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    est = sub.add_parser(
        "estimate",
        help="estimate the LLC of a built-in model whose λ is known exactly",
        description=(
            "Estimate the local learning coefficient of a built-in model (reduced-rank "
            "regression or a deep linear network) at the teacher or the trained minimum, with "
            "every setting of slt.llc as a flag; print λ̂ ± MCSE, the diagnostics, the verdict "
            "and the exact λ. Example: slt estimate rrr 5 5 3 1 --step-size 6.7e-5 "
            "--batch-size 1000 --beta 0.0326 -o run.nc --report run.html"
        ),
    )
    _add_model_arguments(est)
    est.set_defaults(func=_estimate)

    cal = sub.add_parser(
        "calibrate",
        help="choose the step size for a built-in model (slt.calibrate)",
        description=(
            "Run short chains at a few step sizes at the given gamma, nβ, sampler and batch "
            "size, from a hot step down (its noise temperature predicts where to start), check "
            "each (divergence, MALA acceptance, noise temperature, stationarity, R-hat, draws "
            "below the initial loss) and recommend the step where the estimate stops "
            "depending on it, with the reasons. The run flags (--draws, --step-size, ...) are "
            "ignored: calibrate sets them. Example: slt calibrate rrr 5 5 3 1 --batch-size 1000"
        ),
    )
    _add_model_arguments(cal)
    cal.set_defaults(func=_calibrate)

    val = sub.add_parser(
        "validate",
        help="estimate LLCs of models whose learning coefficient is known exactly",
        description=(
            "Run a validation suite: estimate the LLC of each model with the documented settings, "
            "compare to its exact learning coefficient, print a table and exit non-zero if any "
            "case misses its tolerance. Suites: 'quick' (2 reduced-rank cases, about a minute), "
            "'rrr' (10 reduced-rank cases spanning all four Aoyagi-Watanabe cases), 'dln' (22 "
            "random deep linear networks of 10^3 to 10^5 parameters; hours on a CPU) and "
            "'dln_quick' (its 2 smallest networks). 'networks' has no exact values: ReLU "
            "rescaling invariance of the LLC, a digits CNN and a modular-addition Transformer "
            "(docs/networks.md; --sampler is ignored, --plot draws LLC and Hessian trace "
            "against the rescaling)."
        ),
    )
    val.add_argument(
        "--suite",
        default="quick",
        help="suite name: quick, rrr, dln, dln_quick or networks (default quick)",
    )
    val.add_argument(
        "--sampler",
        default="sgld,rmsprop_sgld",
        help="comma-separated samplers (default: sgld,rmsprop_sgld)",
    )
    over = val.add_argument_group(
        "overrides",
        "change the suite's documented settings (for experiments; the report names them)",
    )
    over.add_argument(
        "--beta0",
        type=float,
        help="β = BETA0 / log n (default 0.3); the step sizes are rescaled to keep ε·nβ",
    )
    over.add_argument("--batch-size", type=int, help="minibatch size")
    over.add_argument("--gamma", type=float, help="localization γ")
    over.add_argument("--chains", type=int, help="number of chains")
    over.add_argument("--draws", type=int, help="draws per chain")
    over.add_argument("--burnin", type=int, help="burn-in steps")
    over.add_argument(
        "--burnin-step-factor", type=float, help="run the burn-in at this many times the step"
    )
    val.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    val.add_argument("--report", metavar="PATH", help="write a Markdown report to PATH")
    val.add_argument(
        "--plot",
        metavar="PATH",
        help="write a log-log scatter of estimated against exact λ (PNG) to PATH",
    )
    val.set_defaults(func=_validate)

    glo = sub.add_parser(
        "validate-global",
        help="estimate global RLCTs (NumPyro, NUTS) of models whose RLCT is known exactly",
        description=(
            "Sample each model's tempered posterior at six temperatures and compare the "
            "multi-temperature, two-temperature and variance estimates of the RLCT with the "
            "exact value (docs/global.md). Suites: 'global' (20 cases over every exact "
            "family; about two hours on 2 cores), 'global_quick' (2 cases). Exit 1 if a case "
            "expected to pass misses 10%."
        ),
    )
    glo.add_argument("--suite", default="global_quick", help="global or global_quick")
    glo.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    glo.add_argument("--report", metavar="PATH", help="write a Markdown report to PATH")
    glo.add_argument(
        "--llc-agreement",
        action="store_true",
        help="also compare the LLC at the truth with the global posterior on the rrr cases "
        "(5 datasets each; about 25 minutes)",
    )
    glo.set_defaults(func=_validate_global)

    ti = sub.add_parser(
        "validate-ti",
        help="free energy by thermodynamic integration against lambda log n",
        description=(
            "Thermodynamic integration of F_n for n from 10^2 to 10^4 on three families; the "
            "slope of F_n - nL_n(w0) on log n must be within 10% of the exact RLCT; WBIC - F_n "
            "is printed beside it (docs/global.md). 10 replicate datasets per n; about an hour and "
            "a half on 2 cores."
        ),
    )
    ti.add_argument("--json", metavar="PATH", help="write the rows and slopes as JSON to PATH")
    ti.set_defaults(func=_validate_ti)

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a saved result or a validation run",
        description=(
            "Write one self-contained HTML file (figures embedded, no external files) about "
            "RESULT: a saved LLC result (netCDF) gets its summary, settings, loss traces, rank "
            "plots, running LLC and calibration heat map; a validation JSON file (slt validate "
            "--json) gets its table against the exact values and a log-log plot."
        ),
    )
    rep.add_argument("result", metavar="RESULT", help="a saved result (.nc) or validation JSON")
    rep.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="the HTML file to write (default: RESULT with the extension .html)",
    )
    rep.add_argument("--title", help="the page title")
    rep.set_defaults(func=_report)
    return parser


# The output flags of every command, by their argparse names.
_OUTPUTS = {"output": "-o/--output", "json": "--json", "report": "--report", "plot": "--plot"}


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written before the run, not after it (a suite runs
    for minutes to hours)."""
    from slt.io import check_writable

    for name, flag in _OUTPUTS.items():
        path = getattr(args, name, None)
        if path is not None:
            check_writable(path, flag)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line of the command's output, without the library's source line."""
    print(
        f"slt: warning: {message} ({category.__name__})", file=sys.stderr if file is None else file
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slt`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # restores warnings.showwarning on the way out
        warnings.showwarning = _show_warning
        try:
            _check_outputs(args)
            return args.func(args)
        except (ValueError, OSError) as err:
            print(f"slt: error: {err}", file=sys.stderr)
            return 2
        except DivergenceError as err:
            print(f"slt: diverged: {err}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
