"""slt.adapters.from_equinox: round trips, what is sampled, inference mode, the optional import."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.adapters import EquinoxModel, from_equinox

eqx = pytest.importorskip("equinox")


class Net(eqx.Module):
    """Linear -> tanh -> Dropout -> Linear, with an integer buffer that must not be sampled."""

    first: eqx.nn.Linear
    dropout: eqx.nn.Dropout
    last: eqx.nn.Linear
    counts: jax.Array

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.first = eqx.nn.Linear(3, 4, key=k1)
        self.dropout = eqx.nn.Dropout(0.5)
        self.last = eqx.nn.Linear(4, 2, key=k2)
        self.counts = jnp.arange(3)

    def __call__(self, x, key=None):
        return self.last(self.dropout(jnp.tanh(self.first(x)), key=key))


def loss(model, batch):
    pred = jax.vmap(model)(batch["x"])
    return 0.5 * jnp.mean((pred - batch["y"]) ** 2)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=(5, 3)).astype(np.float32),
        "y": rng.normal(size=(5, 2)).astype(np.float32),
    }


def test_round_trip_and_inference_mode(key, batch):
    net = Net(key)
    model = from_equinox(net, loss)
    assert isinstance(model, EquinoxModel)
    merged = model.merge(model.params)
    assert merged.dropout.inference and not net.dropout.inference
    reference = eqx.nn.inference_mode(net)
    np.testing.assert_allclose(jax.vmap(merged)(batch["x"]), jax.vmap(reference)(batch["x"]))
    np.testing.assert_allclose(model.loss_fn(model.params, batch), loss(reference, batch))
    # Dropout off: no key needed, and the output does not vary.
    np.testing.assert_array_equal(merged(batch["x"][0]), merged(batch["x"][0]))


def test_params_hold_only_float_arrays(key):
    model = from_equinox(Net(key), loss)
    leaves = jax.tree.leaves(model.params)
    assert [leaf.shape for leaf in leaves] == [(4, 3), (4,), (2, 4), (2,)]
    assert model.params.counts is None
    np.testing.assert_array_equal(model.rest.counts, [0, 1, 2])


def test_grad_and_vmap_over_stacked_params(key, batch):
    model = from_equinox(Net(key), loss)
    grads = jax.jit(jax.grad(model.loss_fn))(model.params, batch)
    assert jax.tree.structure(grads) == jax.tree.structure(model.params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    shifted = jax.tree.map(lambda w: w + 0.1, model.params)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), model.params, shifted)
    losses = jax.vmap(model.loss_fn, in_axes=(0, None))(stacked, batch)
    expected = [model.loss_fn(model.params, batch), model.loss_fn(shifted, batch)]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)


def test_missing_equinox_gives_a_clear_import_error(monkeypatch, key):
    monkeypatch.setitem(sys.modules, "equinox", None)
    with pytest.raises(ImportError, match="pip install equinox"):
        from_equinox(object(), loss)
