r"""MLP, CNN, ResNet and Transformer on the digits at matched parameter counts (issue 6).

Run::

    python validation/architectures.py --quick                 # smoke check (tens of seconds)
    python validation/architectures.py --json results/architectures.json \
        --plot docs/figures/architectures.png                  # the full run (CPU: minutes)

Everything (architectures, training protocol, the shared LLC settings) is defined in
:mod:`slt.validation.architectures`; this file only parses the arguments, prints the Markdown
table and writes the JSON and the figure. Results and discussion: ``docs/architectures.md``.
"""

import argparse
import datetime
import json
import time

from slt.validation.architectures import ARCHITECTURES, run_architectures, to_markdown, write_plot
from slt.validation.runner import write_atomic


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny settings: a smoke check only")
    p.add_argument(
        "--architectures",
        default=",".join(ARCHITECTURES),
        help=f"comma-separated subset of {','.join(ARCHITECTURES)}",
    )
    p.add_argument("--json", default=None, help="write the records as JSON here")
    p.add_argument("--plot", default=None, help="write the figure (PNG) here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    """Run, print the table, write the outputs; returns the table."""
    args = parse_args(argv)
    names = [a.strip() for a in args.architectures.split(",") if a.strip()]
    start = time.perf_counter()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    for name in names:  # the JSON is rewritten after each architecture: a cut run keeps its rows
        results += run_architectures([name], quick=args.quick, echo=True)
        if args.json:
            payload = {"date": stamp, "quick": args.quick, "results": results}
            write_atomic(args.json, json.dumps(payload, indent=1) + "\n")
    table = to_markdown(results)
    print(f"\n{table}\n\n(started {stamp}; {time.perf_counter() - start:.0f} s in all)")
    if args.plot:
        write_plot(results, args.plot)
    return table


if __name__ == "__main__":
    main()
