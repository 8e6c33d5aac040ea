"""The network validation cases: the ReLU rescaling construction, the tables, the CLI wiring.

The estimates themselves (minutes) are run by ``slt validate --suite networks``; here only the
construction and the rendering are checked, on a tiny MLP.
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from slt.adapters import from_nnx
from slt.cli import main
from slt.geometry import hessian_trace
from slt.nets import MLP, classification_loss
from slt.validation import networks
from slt.validation.networks import rescale_relu, to_markdown


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    data = {
        "x": rng.normal(size=(64, 6)).astype(np.float32),
        "y": rng.integers(0, 3, size=64).astype(np.int32),
    }
    model = from_nnx(MLP(6, [5], 3, rngs=nnx.Rngs(0)), classification_loss)
    return model, jax.tree.map(jnp.asarray, model.params), data


@pytest.mark.parametrize("alpha", [1e-2, 0.5, 1e2])
def test_rescaling_leaves_the_function_unchanged(tiny, alpha):
    model, params, data = tiny
    scaled = rescale_relu(params, alpha)
    before = model.merge(params)(data["x"])
    after = model.merge(scaled)(data["x"])
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    assert float(model.loss_fn(scaled, data)) == pytest.approx(
        float(model.loss_fn(params, data)), rel=1e-5
    )
    # The inputs are untouched and the layer-2 bias is not rescaled.
    assert params["layers"][0]["kernel"] is not scaled["layers"][0]["kernel"]
    np.testing.assert_array_equal(scaled["layers"][1]["bias"], params["layers"][1]["bias"])


def test_rescaling_changes_the_hessian_trace_by_orders_of_magnitude(tiny):
    model, params, data = tiny
    traces = {
        a: hessian_trace(
            model.loss_fn, rescale_relu(params, a), data, num_samples=40, probe_batch=20
        ).estimate
        for a in (1e-2, 1.0, 1e2)
    }
    # At alpha = 1e-2 the layer-1 block grows as 1/alpha^2, at 1e2 the layer-2 block as alpha^2.
    assert traces[1e-2] > 100 * traces[1.0]
    assert traces[1e2] > 100 * traces[1.0]


def test_rescaling_rejects_a_non_positive_alpha(tiny):
    _, params, _ = tiny
    with pytest.raises(ValueError, match="positive"):
        rescale_relu(params, -1.0)


def _fake_results():
    row = dict(
        loss=0.03,
        hessian_trace=9.5,
        hessian_trace_se=0.4,
        llc=40.0,
        mcse=0.5,
        rhat=1.002,
        ess=400.0,
        noise_temperature=0.0,
        verdict="trustworthy",
    )
    rows = [
        {**row, "alpha": 1.0, "rel_diff": 0.0},
        {**row, "alpha": 10.0, "llc": 48.0, "hessian_trace": 950.0, "rel_diff": 0.2},
    ]
    rescaling = dict(
        case="relu_rescaling",
        model="MLP 64-32-10 (ReLU), digits",
        num_params=2410,
        rows=rows,
        tolerance=0.05,
        settings={"sampler": "rmsprop_sgld", "sampler_options": {"eps": 1e-4}},
        passed=False,
    )
    net = dict(
        case="digits_cnn",
        model="CNN",
        num_params=1234,
        n=1438,
        train_loss=0.01,
        train_accuracy=1.0,
        test_loss=0.1,
        test_accuracy=0.97,
        llc=12.0,
        mcse=math.nan,
        rhat=1.0,
        ess=300.0,
        noise_temperature=0.01,
        verdict="trustworthy",
        settings={"sampler": "sgld"},
        passed=True,
    )
    return [rescaling, net]


def test_markdown_has_every_row_and_the_pass_fail_summary():
    text = to_markdown(_fake_results())
    assert "| 10 | 0.03 | 950 (± 0.4) | 48.00 ± 0.50 |" in text
    assert "+20.0%" in text
    assert "| digits_cnn | 1234 | 1438 |" in text and "12.00 ± nan" in text
    assert text.splitlines()[-2:] == [
        "| relu_rescaling | MLP 64-32-10 (ReLU), digits | FAILED |",
        "| digits_cnn | CNN | passed |",
    ]


def test_cli_networks_suite_writes_json_and_report(tmp_path, monkeypatch):
    monkeypatch.setattr(networks, "run_networks", lambda echo=False: _fake_results())
    out, report = tmp_path / "n.json", tmp_path / "n.md"
    code = main(["validate", "--suite", "networks", "--json", str(out), "--report", str(report)])
    assert code == 1  # one case failed
    rows = json.loads(out.read_text())
    assert [r["case"] for r in rows] == ["relu_rescaling", "digits_cnn"]
    assert report.read_text().startswith("# slt validate --suite networks")


def test_rescaling_plot_is_a_png(tmp_path):
    path = tmp_path / "rescale.png"
    networks.write_rescaling_plot(_fake_results()[0], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
