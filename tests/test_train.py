"""slt.train: checkpoints at the right steps, the loss goes down, metrics, atomic save/load."""

import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from slt.train import Checkpoint, TrainResult, load_checkpoints, save_checkpoints, train

W_TRUE = np.array([2.0, -1.0, 0.5], np.float32)


def regression(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ W_TRUE + 0.1 * rng.normal(size=n)).astype(np.float32)
    return {"x": x, "y": y}


def loss(params, batch):
    return 0.5 * jnp.mean((batch["y"] - batch["x"] @ params["w"]) ** 2)


def evaluate(params, batch):
    return {"test_loss": loss(params, batch), "test_mae": jnp.mean(jnp.abs(batch["y"]))}


INIT = {"w": jnp.zeros(3)}


def test_checkpoints_at_the_right_steps_and_loss_decreases():
    data = regression()
    run = train(
        loss, INIT, data, num_steps=60, batch_size=32, optimizer=optax.sgd(0.1), checkpoint_every=20
    )
    assert isinstance(run, TrainResult)
    assert [c.step for c in run.checkpoints] == [0, 20, 40, 60]
    assert all(isinstance(c, Checkpoint) and c.metrics == {} for c in run.checkpoints)
    assert run.losses.shape == (60,)
    # The first checkpoint is the starting point; the last is the returned parameters.
    np.testing.assert_array_equal(run.checkpoints[0].params["w"], np.zeros(3))
    np.testing.assert_array_equal(run.checkpoints[-1].params["w"], run.params["w"])
    train_losses = [c.train_loss for c in run.checkpoints]
    assert train_losses[0] == pytest.approx(float(loss(INIT, data)), rel=1e-5)
    assert all(b < a for a, b in zip(train_losses, train_losses[1:], strict=False))
    assert train_losses[-1] < 0.01
    np.testing.assert_allclose(run.params["w"], W_TRUE, atol=0.05)
    assert run.losses[-5:].mean() < run.losses[:5].mean()


def test_default_checkpoints_and_default_optimizer():
    data = regression()
    run = train(loss, INIT, data, num_steps=200, batch_size=64)  # AdamW(1e-3)
    assert [c.step for c in run.checkpoints] == [0, 200]
    first, last = run.checkpoints
    assert np.isfinite(last.train_loss) and last.train_loss < 0.9 * first.train_loss


def test_same_seed_same_run_and_another_seed_another_order():
    data = regression()
    kwargs = dict(num_steps=10, batch_size=16, optimizer=optax.sgd(0.05))
    a = train(loss, INIT, data, seed=1, **kwargs)
    b = train(loss, INIT, data, seed=1, **kwargs)
    c = train(loss, INIT, data, seed=2, **kwargs)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)


def test_eval_metrics_recorded_at_every_checkpoint():
    data, held_out = regression(), regression(64, seed=1)
    run = train(
        loss,
        INIT,
        data,
        num_steps=20,
        batch_size=32,
        optimizer=optax.sgd(0.1),
        checkpoint_every=10,
        eval_data=held_out,
        eval_fn=evaluate,
    )
    for c in run.checkpoints:
        assert set(c.metrics) == {"test_loss", "test_mae"}
        assert all(isinstance(v, float) for v in c.metrics.values())
        assert c.metrics["test_loss"] == pytest.approx(float(loss(c.params, held_out)), rel=1e-5)
    assert run.checkpoints[-1].metrics["test_loss"] < run.checkpoints[0].metrics["test_loss"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_steps=10, checkpoint_every=3), "checkpoint_every must divide num_steps"),
        (dict(num_steps=10, checkpoint_every=20), "checkpoint_every"),
        (dict(num_steps=10, checkpoint_every=0), "checkpoint_every"),
        (dict(num_steps=0), "num_steps"),
        (dict(num_steps=10, batch_size=1000), "batch_size"),
        (dict(num_steps=10, eval_fn=evaluate), "eval_data and eval_fn together"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(loss, INIT, regression(), **({"batch_size": 32} | kwargs))


def small_run():
    return train(
        loss,
        INIT,
        regression(),
        num_steps=10,
        batch_size=32,
        optimizer=optax.sgd(0.1),
        checkpoint_every=5,
        eval_data=regression(32, seed=1),
        eval_fn=evaluate,
    )


def assert_same_checkpoints(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert isinstance(g, Checkpoint)
        assert (g.step, g.train_loss, g.metrics) == (e.step, e.train_loss, e.metrics)
        assert jax.tree.structure(g.params) == jax.tree.structure(e.params)
        for a, b in zip(jax.tree.leaves(g.params), jax.tree.leaves(e.params), strict=True):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_save_load_round_trip(tmp_path):
    run = small_run()
    path = tmp_path / "checkpoints.pkl"
    save_checkpoints(path, run.checkpoints)
    assert_same_checkpoints(load_checkpoints(path), run.checkpoints)
    save_checkpoints(str(path), run.checkpoints[:1])  # a str path; replaces the file
    assert_same_checkpoints(load_checkpoints(path), run.checkpoints[:1])
    assert os.listdir(tmp_path) == ["checkpoints.pkl"]  # no temporary file left


def test_an_interrupted_save_leaves_the_previous_file(tmp_path, monkeypatch):
    run = small_run()
    path = tmp_path / "checkpoints.pkl"
    save_checkpoints(path, run.checkpoints[:2])
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(pickle, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt, match="mid-write"):
        save_checkpoints(path, run.checkpoints)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoints.pkl"]
    monkeypatch.undo()
    assert_same_checkpoints(load_checkpoints(path), run.checkpoints[:2])
