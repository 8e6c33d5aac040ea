"""The architecture comparison (issue 6): the ``--quick`` path of ``validation/architectures.py``.

The full run takes many minutes (docs/architectures.md); here the tiny settings check that the
four architectures build, train, get an LLC trajectory and Hessian counts, and that the table,
the JSON and the figure come out.
"""

import importlib.util
import json
import pathlib

import pytest

from slt.tree import tree_size
from slt.validation import architectures
from slt.validation.architectures import ARCHITECTURES, COLUMNS, build, to_markdown

SCRIPT = pathlib.Path(__file__).parents[2] / "validation" / "architectures.py"


def _cli():
    spec = importlib.util.spec_from_file_location("validation_architectures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_shapes_the_digits_for_each_network():
    model, train, test, accuracy = build("MLP", num_train=100)
    assert tree_size(model.params) == 4810
    assert train["x"].shape == (100, 64) and test["x"].shape == (359, 64)
    assert 0.0 <= accuracy(model.params, test) <= 1.0


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("LSTM")


@pytest.mark.slow  # about a minute: four networks compiled and trained (make test-all)
def test_quick_run_gives_the_table_json_and_figure(tmp_path):
    out_json, out_png = tmp_path / "a.json", tmp_path / "a.png"
    table = _cli().main(["--quick", "--json", str(out_json), "--plot", str(out_png)])
    lines = table.splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert [r.split(" | ")[0][2:] for r in rows] == list(ARCHITECTURES)
    assert all(r.count("|") == len(COLUMNS) + 1 for r in rows)
    payload = json.loads(out_json.read_text())
    assert payload["quick"] is True
    records = payload["results"]
    assert [r["architecture"] for r in records] == list(ARCHITECTURES)
    for r in records:
        assert 4500 <= r["d"] <= 5200  # matched parameter counts
        assert r["n_eff_lower_bound"] and r["half_n_eff"] >= 0
        assert len(r["trajectory"]["step"]) == len(r["trajectory"]["llc"]) == 1
        assert r["settings"] == architectures.QUICK["llc"]
    assert to_markdown(records) == table
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
