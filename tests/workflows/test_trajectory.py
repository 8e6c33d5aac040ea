"""slt.llc_trajectory: one DataTree over checkpoints, same settings, divergence, plot, save/load."""

import arviz_stats as azs
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import xarray as xr
from flax import nnx
from matplotlib.figure import Figure

import slt
from slt.adapters import from_nnx
from slt.io import save
from slt.nets import (
    CNN,
    MLP,
    Transformer,
    classification_loss,
    digits,
    modular_addition,
    modular_addition_loss,
    small_resnet,
)
from slt.report.figures import plot_trajectory
from slt.train import train
from slt.workflows import trajectory as trajectory_module

SETTINGS = dict(
    num_chains=2, num_draws=20, num_burnin=5, batch_size=50, step_size=1e-4, progress=False
)


def regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)).astype(np.float32)
    return {"x": x, "y": y}


def loss(params, batch):
    """Least squares plus 0.01 Σ w⁴: gentle near the solution, so steep at |w| ~ 300 that SGLD
    at step 1e-4 overshoots there and every chain blows up (one loss for every test here, so
    slt.llc compiles once)."""
    residual = batch["y"] - batch["x"] @ params["w"]
    return 0.5 * jnp.mean(residual**2) + 0.01 * jnp.sum(params["w"] ** 4)


def evaluate(params, batch):
    return {"test_loss": loss(params, batch), "test_mae": jnp.mean(jnp.abs(batch["y"]))}


DATA = regression()
W_STAR = {"w": jnp.asarray(np.linalg.lstsq(DATA["x"], DATA["y"], rcond=None)[0])}  # least squares
FAR = {"w": W_STAR["w"] + 300.0}


@pytest.fixture(scope="module")
def run():
    return train(
        loss,
        {"w": jnp.zeros(3)},
        DATA,
        num_steps=40,
        batch_size=50,
        optimizer=optax.sgd(0.1),
        checkpoint_every=20,
        eval_data=regression(50, seed=1),
        eval_fn=evaluate,
    )


@pytest.fixture(scope="module")
def tree(run):
    return slt.llc_trajectory(loss, run.checkpoints, DATA, seed=3, **SETTINGS)


def test_dims_coords_and_variables(tree, run):
    assert tree["checkpoint"].values.tolist() == [0, 20, 40]
    assert tree["checkpoint"].dtype == np.int64
    for name in [
        "llc",
        "llc_mcse",
        "rhat",
        "ess_bulk",
        "ess_tail",
        "noise_temperature",
        "noise_bias",
        "frac_below_init",
        "train_loss",
        "test_loss",
        "test_mae",
    ]:
        assert tree[name].dims == ("checkpoint",), name
        assert tree[name].dtype == np.float64, name
    assert tree["num_diverging"].values.tolist() == [0, 0, 0]
    assert tree["llc_per_chain"].dims == ("checkpoint", "chain")
    assert tree["init_loss"].shape == (3, 2)
    assert tree["verdict"].dims == ("checkpoint",) and tree["verdict"].dtype.kind == "U"
    assert set(tree["verdict"].values) <= set(slt.diagnostics.verdict.VERDICTS)
    assert np.all(np.isfinite(tree["llc"].values)) and np.all(tree["llc_mcse"].values > 0)
    np.testing.assert_allclose(tree["train_loss"], [c.train_loss for c in run.checkpoints])
    np.testing.assert_allclose(tree["test_loss"], [c.metrics["test_loss"] for c in run.checkpoints])
    stats = tree["sample_stats"]
    assert stats["loss"].dims == ("checkpoint", "chain", "draw")
    assert stats["loss"].shape == (3, 2, 20) and stats["diverging"].shape == (3, 2, 20)
    assert stats["checkpoint"].values.tolist() == [0, 20, 40]


def test_each_checkpoint_is_slt_llc_with_the_same_settings(tree, run):
    attrs = tree.attrs
    assert attrs["estimator"] == "llc_trajectory" and attrs["inference_library"] == "slt"
    assert attrs["num_checkpoints"] == 3 and attrs["seed"] == 3
    for name, value in SETTINGS.items():
        if name != "progress":
            assert attrs[name] == value, name
    assert attrs["n"] == 200 and attrs["nbeta"] == pytest.approx(200 / np.log(200))
    assert attrs["gamma"] == 1.0 and attrs["sampler"] == "sgld" and attrs["num_params"] == 3
    assert "llc" not in attrs and "verdict" not in attrs  # per-checkpoint: variables, not attrs
    last = slt.llc(loss, run.checkpoints[-1].params, DATA, seed=3, **SETTINGS)
    assert tree["llc"].values[-1] == last.llc
    assert tree["verdict"].values[-1] == last.verdict
    np.testing.assert_array_equal(
        tree["sample_stats"]["loss"].values[-1], last.datatree["sample_stats"]["loss"].values
    )


def test_every_call_gets_the_same_settings_and_progress(monkeypatch, run):
    calls = []
    real = trajectory_module.llc

    def spy(loss_fn, params, data, **kwargs):
        calls.append(kwargs)
        return real(loss_fn, params, data, **(kwargs | {"progress": False}))  # compiled already

    monkeypatch.setattr(trajectory_module, "llc", spy)
    settings = SETTINGS | {"progress": True}
    slt.llc_trajectory(loss, run.checkpoints[1:], DATA, **settings)
    assert calls == [settings, settings]


def test_arviz_reads_one_value_per_checkpoint(tree):
    ess = azs.ess(tree, group="sample_stats", var_names=["loss"])
    assert ess["loss"].dims == ("checkpoint",)


def test_parameter_pytrees_with_steps():
    data = DATA
    points = [W_STAR, {"w": W_STAR["w"] + 0.1}]
    out = slt.llc_trajectory(loss, points, data, steps=[5, 7], **SETTINGS)
    assert out["checkpoint"].values.tolist() == [5, 7]
    assert [str(v) for v in out.data_vars if "test" in str(v)] == []
    np.testing.assert_allclose(out["train_loss"], [float(loss(p, data)) for p in points], rtol=1e-5)


@pytest.mark.parametrize(
    ("checkpoints", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "empty"),
        ([W_STAR], {}, ValueError, "steps: required"),
        ([W_STAR, W_STAR], {"steps": [1]}, ValueError, "1 entries for 2"),
        ([W_STAR, W_STAR], {"steps": [1, 1]}, ValueError, "distinct"),
        ([W_STAR], {"steps": [-1]}, ValueError, "steps"),
        ([W_STAR], {"steps": [0], "step_size": "auto"}, ValueError, "calibrate once"),
        ([W_STAR], {"steps": [0], "params_every": 5}, ValueError, "params_every"),
        ([W_STAR], {"steps": [0], "num_chain": 2}, TypeError, "num_chain"),
    ],
)
def test_bad_arguments(checkpoints, kwargs, error, match):
    with pytest.raises(error, match=match):
        slt.llc_trajectory(loss, checkpoints, DATA, **kwargs)


def test_checkpoint_arguments_are_checked(run):
    with pytest.raises(ValueError, match="steps: give it only"):
        slt.llc_trajectory(loss, run.checkpoints, DATA, steps=[0, 1, 2])
    with pytest.raises(ValueError, match="mixes"):
        slt.llc_trajectory(loss, [run.checkpoints[0], W_STAR], DATA)
    clash = [run.checkpoints[0]._replace(metrics={"llc": 1.0})]
    with pytest.raises(ValueError, match="clash"):
        slt.llc_trajectory(loss, clash, DATA)


@pytest.fixture(scope="module")
def diverged():
    with pytest.warns(slt.DivergenceWarning, match="diverged at the checkpoint of step 100"):
        return slt.llc_trajectory(loss, [W_STAR, FAR], DATA, steps=[0, 100], **SETTINGS)


def test_a_checkpoint_where_every_chain_diverges_is_recorded(diverged):
    assert diverged["checkpoint"].values.tolist() == [0, 100]
    assert diverged["verdict"].values[1] == "diverged" != diverged["verdict"].values[0]
    assert np.isfinite(diverged["llc"].values[0]) and np.isnan(diverged["llc"].values[1])
    assert np.isnan(diverged["llc_mcse"].values[1]) and np.isnan(diverged["rhat"].values[1])
    assert diverged["num_diverging"].values.tolist() == [0, 2]
    restarted = diverged["num_restarted"].values
    assert restarted[0] == 0 and np.isnan(restarted[1])
    assert np.all(np.isnan(diverged["llc_per_chain"].values[1]))
    assert np.isfinite(diverged["train_loss"].values).all()  # the loss at the point itself
    stats = diverged["sample_stats"]
    assert np.all(np.isnan(stats["loss"].values[1])) and np.all(stats["diverging"].values[1])
    assert not stats["diverging"].values[0].any()
    assert np.isfinite(stats["loss"].values[0]).all()


def test_every_checkpoint_diverging_still_gives_a_tree():
    with pytest.warns(slt.DivergenceWarning) as record:
        out = slt.llc_trajectory(loss, [FAR], DATA, steps=[9], **SETTINGS)
    assert [str(w.message).count("step 9") for w in record] == [1]
    assert out["verdict"].values.tolist() == ["diverged"]
    assert out["sample_stats"]["loss"].shape == (1, 2, 20)
    assert out.attrs["step_size"] == 1e-4 and out.attrs["num_draws"] == 20


def test_save_load_round_trip(tree, diverged, tmp_path):
    for i, original in enumerate([tree, diverged]):
        path = save(original, tmp_path / f"trajectory{i}.nc")
        back = slt.load(path)
        assert isinstance(back, xr.DataTree)  # not an LLCResult: estimator is llc_trajectory
        xr.testing.assert_identical(back, original)


def test_plot_trajectory(tree, diverged):
    fig = plot_trajectory(tree)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    assert "LLC" in left.get_ylabel() and right.get_ylabel() == "loss"
    assert left.get_xlabel() == "training step" and left.get_xscale() == "linear"
    assert [line.get_label() for line in right.get_lines()] == ["train loss", "test loss"]
    legend = [t.get_text() for t in right.get_legend().get_texts()]
    assert legend == ["LLC ± 2 MCSE", "train loss", "test loss"]
    assert plot_trajectory(tree, logx=True).axes[0].get_xscale() == "symlog"  # step 0 is there
    positive = tree.isel(checkpoint=slice(1, None))
    assert plot_trajectory(positive, logx=True).axes[0].get_xscale() == "log"
    # On given axes: drawn there, that figure returned; a diverged checkpoint gets a line.
    host = Figure()
    ax = host.add_subplot()
    assert plot_trajectory(diverged, ax=ax) is host
    legend = [t.get_text() for t in host.axes[1].get_legend().get_texts()]
    assert legend == ["LLC ± 2 MCSE", "all chains diverged", "train loss"]
    assert [line.get_label() for line in host.axes[1].get_lines()] == ["train loss"]
    with pytest.raises(ValueError, match="not an LLC trajectory"):
        plot_trajectory(xr.DataTree())


# Two-step training-and-LLC smoke test per reference architecture: train two checkpoints of a
# few steps, then the trajectory over them. Tiny widths keep the compiles short.
@pytest.fixture(scope="module")
def digits_small():
    train_set, _ = digits(seed=0)
    return {k: v[:256] for k, v in train_set.items()}


ARCHITECTURES = {
    "mlp": lambda: MLP(64, [8], 10, rngs=nnx.Rngs(0)),
    "cnn": lambda: CNN(10, channels=(4,), rngs=nnx.Rngs(0)),
    "small_resnet": lambda: small_resnet(depths=(1,), widths=(4,), groups=2, rngs=nnx.Rngs(0)),
    "transformer": lambda: Transformer(
        vocab_size=8,
        max_len=3,
        d_model=4,
        num_heads=1,
        num_layers=1,
        d_mlp=8,
        out_features=7,
        rngs=nnx.Rngs(0),
    ),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_train_then_trajectory_smoke(name, request):
    if name == "transformer":
        data, _ = modular_addition(7, train_fraction=0.8)  # 39 of the 49 pairs
        model = from_nnx(ARCHITECTURES[name](), modular_addition_loss)
    else:
        data = request.getfixturevalue("digits_small")
        model = from_nnx(ARCHITECTURES[name](), classification_loss)
    run = train(
        model.loss_fn,
        model.params,
        data,
        num_steps=4,
        batch_size=32,
        optimizer=optax.adam(1e-2),
        checkpoint_every=2,
    )
    out = slt.llc_trajectory(
        model.loss_fn,
        run.checkpoints[1:],
        data,
        num_chains=2,
        num_draws=20,
        num_burnin=5,
        step_size=1e-5,
        batch_size=32,
        progress=False,
    )
    assert out["checkpoint"].values.tolist() == [2, 4]
    assert out["sample_stats"]["loss"].shape == (2, 2, 20)
    assert np.all(np.isfinite(out["llc"].values)), out["llc"].values
    assert out["num_diverging"].values.tolist() == [0, 0]
