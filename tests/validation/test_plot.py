"""The validation scatter plot (``slt validate --plot``), drawn from constructed rows."""

import time

import matplotlib.image
import numpy as np

from slt.cli import main
from slt.validation.runner import Row, write_plot


def _row(case: str, sampler: str, exact: float, estimate: float, passed: bool = True) -> Row:
    rel = (estimate - exact) / exact
    return Row(case, sampler, exact, estimate, 0.01 * exact, rel, 1.0, 500.0, 1.0, passed, 0.15)


def test_write_plot_writes_a_png(tmp_path):
    rows = [
        _row("a", "sgld", 85.0, 83.0),
        _row("b", "sgld", 2030.5, 2090.0),
        _row("c", "sgld", 9342.5, 11500.0, passed=False),
        _row("a", "rmsprop_sgld", 85.0, 86.0),
        _row("b", "rmsprop_sgld", 2030.5, 1990.0),
    ]
    out = tmp_path / "scatter.png"
    start = time.perf_counter()
    write_plot(rows, str(out), title="test")
    assert time.perf_counter() - start < 5.0
    image = matplotlib.image.imread(str(out))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["scatter.png"]  # no temporary left behind


def test_cli_writes_the_plot(tmp_path, monkeypatch):
    from slt.validation import runner

    fake = runner.Row("c", "sgld", 85.0, 86.0, 1.0, 0.012, 1.0, 1000.0, 0.1, True, 0.15)
    monkeypatch.setattr(runner, "run_case", lambda *a, **k: fake)
    out = tmp_path / "dln.png"
    assert main(["validate", "--suite", "dln_quick", "--sampler", "sgld", "--plot", str(out)]) == 0
    assert matplotlib.image.imread(str(out)).ndim == 3


def test_a_case_whose_chains_all_diverge_is_a_failed_row_not_a_crash(monkeypatch):
    import math

    import slt
    from slt.validation import runner
    from slt.validation.suites import get_suite

    def diverge(*args, **kwargs):
        raise slt.DivergenceError("all 4 chains diverged")

    monkeypatch.setattr(runner, "llc", diverge)
    case = get_suite("quick")[0]
    row = runner.run_case(case, "sgld", {"num_chains": 4, "num_draws": 10})
    assert row.passed is False and math.isnan(row.estimate) and row.exact > 0
