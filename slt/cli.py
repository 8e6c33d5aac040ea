"""The ``slt`` command line: argument parsing only; the work is done by the library."""

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

SAMPLER_CHOICES = ("sgld", "rmsprop_sgld")


def _validate(args: argparse.Namespace) -> int:
    from slt.validation.runner import run_suite, summary, to_markdown, write_atomic, write_json
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
    return 0 if all(r.passed for r in rows) else 1


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
            "'rrr' (10 reduced-rank cases spanning all four Aoyagi-Watanabe cases)."
        ),
    )
    val.add_argument("--suite", default="quick", help="suite name: quick or rrr (default quick)")
    val.add_argument(
        "--sampler",
        default="sgld,rmsprop_sgld",
        help="comma-separated samplers (default: sgld,rmsprop_sgld)",
    )
    val.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    val.add_argument("--report", metavar="PATH", help="write a Markdown report to PATH")
    val.set_defaults(func=_validate)
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
