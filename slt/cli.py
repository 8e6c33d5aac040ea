"""The ``slt`` command line: argument parsing only; the work is done by the library."""

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

SAMPLER_CHOICES = ("sgld", "rmsprop_sgld")


def _validate(args: argparse.Namespace) -> int:
    from slt.validation.runner import (
        run_suite,
        summary,
        to_markdown,
        write_atomic,
        write_json,
        write_plot,
    )
    from slt.validation.suites import SUITES

    samplers = [s.strip() for s in args.sampler.split(",")]
    for s in samplers:
        if s not in SAMPLER_CHOICES:
            raise ValueError(f"--sampler must be a comma-separated subset of {SAMPLER_CHOICES}")
    if args.suite not in SUITES:
        raise ValueError(f"--suite must be one of {', '.join(SUITES)}; got {args.suite!r}")
    print(f"slt validate: suite {args.suite!r}, samplers {', '.join(samplers)}", flush=True)
    rows = run_suite(args.suite, samplers, echo=True)
    print()
    print(summary(rows))
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {args.json}")
    if args.report:
        write_atomic(args.report, to_markdown(rows, f"slt validate --suite {args.suite}"))
        print(f"wrote {args.report}")
    if args.plot:
        write_plot(rows, args.plot, title=f"slt validate --suite {args.suite}")
        print(f"wrote {args.plot}")
    return 0 if all(r.passed for r in rows) else 1


def _validate_global(args: argparse.Namespace) -> int:
    import json

    from slt.validation.global_suite import (
        format_global_table,
        global_summary,
        run_global_suite,
    )
    from slt.validation.runner import write_atomic

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
    return 0 if all(r.passed for r in rows if not r.slow) else 1


def _validate_ti(args: argparse.Namespace) -> int:
    import json

    from slt.validation.runner import write_atomic
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``slt`` command."""
    parser = argparse.ArgumentParser(
        prog="slt",
        description="Learning coefficients (LLC, RLCT) from singular learning theory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    val = sub.add_parser(
        "validate",
        help="estimate LLCs of models whose learning coefficient is known exactly",
        description=(
            "Run a validation suite: estimate the LLC of each model with the documented settings, "
            "compare to its exact learning coefficient, print a table and exit non-zero if any "
            "case misses its tolerance. Suites: 'quick' (2 reduced-rank cases, about a minute), "
            "'rrr' (10 reduced-rank cases spanning all four Aoyagi-Watanabe cases), 'dln' (22 "
            "random deep linear networks of 10^3 to 10^5 parameters; hours on a CPU) and "
            "'dln_quick' (its 2 smallest networks)."
        ),
    )
    val.add_argument(
        "--suite", default="quick", help="suite name: quick, rrr, dln or dln_quick (default quick)"
    )
    val.add_argument(
        "--sampler",
        default="sgld,rmsprop_sgld",
        help="comma-separated samplers (default: sgld,rmsprop_sgld)",
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
            "exact value (docs/global.md). Suites: 'global' (17 cases over every exact "
            "family; about an hour on 2 cores), 'global_quick' (2 cases). Exit 1 if a case "
            "expected to pass misses 10%."
        ),
    )
    glo.add_argument("--suite", default="global_quick", help="global or global_quick")
    glo.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    glo.add_argument("--report", metavar="PATH", help="write a Markdown report to PATH")
    glo.set_defaults(func=_validate_global)

    ti = sub.add_parser(
        "validate-ti",
        help="free energy by thermodynamic integration against lambda log n",
        description=(
            "Thermodynamic integration of F_n for n from 10^2 to 10^4 on three families; the "
            "slope of F_n - nL_n(w0) on log n must be within 10% of the exact RLCT; WBIC - F_n "
            "is printed beside it (docs/global.md). About 20 minutes on 2 cores."
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slt`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"slt: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
