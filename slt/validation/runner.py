"""Run a validation suite: estimate every case, compare to the exact value, tabulate."""

import json
import math
import time
from collections.abc import Iterable
from statistics import median
from typing import Any, NamedTuple

from slt.data import num_samples
from slt.errors import DivergenceError
from slt.io import write_atomic
from slt.validation.suites import (
    BETA0,
    RUN_LENGTH,
    SAMPLER_SETTINGS,
    Case,
    get_suite,
    sampler_settings,
)
from slt.workflows.llc import llc

__all__ = [
    "Row",
    "format_table",
    "run_case",
    "run_suite",
    "summary",
    "to_markdown",
    "write_json",
    "write_plot",
]


class Row(NamedTuple):
    """One line of the validation table (also the JSON record)."""

    case: str
    sampler: str
    exact: float
    estimate: float
    mcse: float
    rel_error: float
    rhat: float
    ess: float
    seconds: float
    passed: bool
    tolerance: float


def run_case(
    case: Case,
    sampler: str,
    run_length: dict[str, Any],
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    *,
    beta0: float = BETA0,
) -> Row:
    """Estimate ``case`` with ``sampler`` and the suite's settings; compare to the exact λ.

    ``settings`` are the sampler's ``slt.llc`` keyword arguments (step size, batch size, γ);
    ``None`` takes the reduced-rank ones, ``SAMPLER_SETTINGS[sampler]``. The inverse
    temperature is β = ``beta0`` / log n.
    """
    if settings is None:
        settings = SAMPLER_SETTINGS[sampler]
    problem = case.make()
    assert problem.exact is not None, f"{case.name} has no exact value"
    start = time.perf_counter()
    exact = problem.exact.rlct
    try:
        res = llc(
            problem.loss_fn,
            problem.params,
            problem.data,
            sampler=sampler,  # type: ignore[arg-type]
            seed=seed,
            beta=beta0 / math.log(num_samples(problem.data)),
            **settings,
            **run_length,
        )
    except DivergenceError:
        # Every chain diverged: a failed case, not the end of the suite.
        nan = math.nan
        seconds = time.perf_counter() - start
        return Row(case.name, sampler, exact, nan, nan, nan, nan, nan, seconds, False, case.rel_tol)
    seconds = time.perf_counter() - start
    rel = (res.llc - exact) / exact
    return Row(
        case=case.name,
        sampler=sampler,
        exact=exact,
        estimate=res.llc,
        mcse=res.mcse,
        rel_error=rel,
        rhat=res.rhat,
        ess=res.ess_bulk,
        seconds=seconds,
        passed=bool(abs(rel) <= case.rel_tol and res.num_diverging == 0),
        tolerance=case.rel_tol,
    )


def run_suite(
    name: str,
    samplers: Iterable[str] = ("sgld", "rmsprop_sgld"),
    *,
    echo: bool = False,
    beta0: float | None = None,
    settings: dict[str, Any] | None = None,
    run_length: dict[str, Any] | None = None,
    burnin_step_factor: float | None = None,
) -> list[Row]:
    """Every case of suite ``name`` with every sampler; rows in the order run.

    The suite's documented settings unless overridden, for experiments with them:

    - ``beta0``: β = ``beta0`` / log n. Every step size is rescaled by BETA0 / ``beta0`` so that
      ε·nβ, which sets the discretisation error, stays the suite's.
    - ``settings``: ``slt.llc`` keywords replacing the sampler's (``batch_size``, ``gamma``,
      ``step_size``; a ``step_size`` given here is used as it is).
    - ``run_length``: replaces entries of ``RUN_LENGTH[name]`` (``num_chains``, ``num_draws``,
      ``num_burnin``).
    - ``burnin_step_factor``: the burn-in runs at this many times the step
      (``slt.llc(..., burnin_step_size=...)``).
    """
    beta0 = BETA0 if beta0 is None else beta0
    if not (math.isfinite(beta0) and beta0 > 0):
        raise ValueError(f"beta0 must be a positive number; got {beta0!r}")
    length = RUN_LENGTH[name] | (run_length or {})
    rows = []
    for sampler in samplers:
        chosen = dict(sampler_settings(name, sampler))
        chosen["step_size"] *= BETA0 / beta0
        chosen |= settings or {}
        if burnin_step_factor is not None:
            chosen["burnin_step_size"] = burnin_step_factor * chosen["step_size"]
        for case in get_suite(name):
            rows.append(run_case(case, sampler, length, settings=chosen, beta0=beta0))
            if echo:
                print(format_table(rows[-1:], header=len(rows) == 1), flush=True)
    return rows


_COLUMNS = [  # (field, width, format)
    ("case", -32, "{}"),
    ("sampler", -13, "{}"),
    ("exact", 8, "{:.2f}"),
    ("estimate", 9, "{:.2f}"),
    ("mcse", 6, "{:.2f}"),
    ("rel_error", 9, "{:+.1%}"),
    ("rhat", 6, "{:.3f}"),
    ("ess", 7, "{:.0f}"),
    ("seconds", 8, "{:.1f}"),
    ("passed", 6, "{}"),
]


def _cell(text: str, width: int) -> str:
    return text.ljust(-width) if width < 0 else text.rjust(width)


def format_table(rows: list[Row], *, header: bool = True) -> str:
    """A fixed-width text table of ``rows``."""
    lines = []
    if header:
        lines.append(" ".join(_cell(name, width) for name, width, _ in _COLUMNS))
    for row in rows:
        cells = (_cell(fmt.format(getattr(row, n)), w) for n, w, fmt in _COLUMNS)
        lines.append(" ".join(cells))
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    """Per sampler: cases passed, median and worst absolute relative error."""
    out = []
    for sampler in dict.fromkeys(r.sampler for r in rows):
        errs = [abs(r.rel_error) for r in rows if r.sampler == sampler]
        passed = sum(r.passed for r in rows if r.sampler == sampler)
        out.append(
            f"{sampler}: {passed}/{len(errs)} passed; median |rel error| {median(errs):.1%}, "
            f"worst {max(errs):.1%}"
        )
    return "\n".join(out)


def to_markdown(rows: list[Row], title: str) -> str:
    """The table and summary as a Markdown report."""
    head = "| " + " | ".join(n for n, _, _ in _COLUMNS) + " |"
    sep = "|" + "---|" * len(_COLUMNS)
    body = [
        "| " + " | ".join(fmt.format(getattr(r, n)) for n, _, fmt in _COLUMNS) + " |" for r in rows
    ]
    return "\n".join([f"# {title}", "", head, sep, *body, "", summary(rows), ""])


def write_json(rows: list[Row], path: str) -> None:
    """Rows as a JSON list of objects (keys: case, exact, estimate, mcse, rel_error, rhat, ess,
    seconds, passed, plus sampler and tolerance)."""
    write_atomic(path, json.dumps([r._asdict() for r in rows], indent=2) + "\n")


def write_plot(rows: list[Row], path: str, *, title: str = "") -> None:
    """A log-log scatter of estimated against exact λ as a PNG at ``path`` (written atomically).

    The figure of the HTML report (:func:`slt.report.figures.validation_figure`): one colour
    per sampler, error bars of ±2 MCSE, the line y = x and the band of the largest tolerance
    shaded; failed rows are drawn as open markers.
    """
    from slt.report.figures import to_png, validation_figure

    if not rows:
        raise ValueError("write_plot needs at least one row")
    title = title or "LLC estimate against exact learning coefficient"
    figure = validation_figure([r._asdict() for r in rows], title)
    write_atomic(path, to_png(figure))
