r"""The finite-n shift of localizing at the teacher, per case of the rrr and dln suites.

Run::

    python validation/center_shift.py --suite dln     # 22 networks, about a minute
    python validation/center_shift.py --suite rrr

For each case it prints λ, the gap n(L_n(w*) − min L_n) between the teacher and the empirical
minimum over the model's realizable products (:func:`slt.validation.finite_n.linear_center_gap`),
and the shift −β·gap of the estimator's target relative to λ at β = β₀/log n for β₀ = 0.3 (the
suites' setting) and 1. For full-rank truths the shifted value λ − β·gap is the estimator's
finite-n target to within 0.3% of λ (checked against exact Gibbs on reduced-rank regression);
for rank-reduced truths it overstates the shift. Discussion: docs/validation.md.
"""

import argparse
import math

import numpy as np

from slt.models import dln
from slt.validation.finite_n import linear_center_gap
from slt.validation.suites import get_suite


def product(params: dict) -> np.ndarray:
    """The end-to-end matrix (outputs × inputs) of a reduced-rank or deep linear network."""
    if set(params) == {"A", "B"}:
        return dln.product({"W0": params["A"], "W1": params["B"]})
    return dln.product(params)


def narrowest(params: dict) -> int:
    """The largest rank the network can realize: its narrowest width."""
    return min(min(np.shape(v)) for v in params.values())


def main(argv: list[str] | None = None) -> None:
    """Print the table for ``--suite``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="dln", choices=("rrr", "dln", "dln_quick", "quick"))
    args = parser.parse_args(argv)
    print("| case | truth | λ | gap / λ | shift at β₀ = 0.3 | shift at β₀ = 1 |")
    print("|---|---|---|---|---|---|")
    for case in get_suite(args.suite):
        problem = case.make()
        x, y = (np.asarray(problem.data[k], np.float64) for k in ("x", "y"))
        truth, k = product(problem.params), narrowest(problem.params)
        gap = linear_center_gap(x, y, truth, k)
        assert problem.exact is not None  # every rrr and dln case has its exact λ
        lam, log_n = problem.exact.rlct, math.log(x.shape[0])
        kind = "full rank" if np.linalg.matrix_rank(truth) == k else "rank-reduced"
        cells = " | ".join(f"{-b0 * gap / log_n / lam:+.1%}" for b0 in (0.3, 1.0))
        print(f"| {case.name} | {kind} | {lam:g} | {gap / lam:.2f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
