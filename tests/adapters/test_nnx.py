"""slt.adapters.from_nnx: round trips, what is sampled, inference mode, JAX transforms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from slt.adapters import NNXModel, from_nnx
from slt.tree import tree_size


class Net(nnx.Module):
    """Linear -> BatchNorm -> relu -> Dropout -> Linear: every kind of non-trainable state."""

    def __init__(self, rngs):
        self.linear = nnx.Linear(3, 4, rngs=rngs)
        self.bn = nnx.BatchNorm(4, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)
        self.out = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x):
        return self.out(self.dropout(jax.nn.relu(self.bn(self.linear(x)))))


def loss(model, batch):
    return 0.5 * jnp.mean((model(batch["x"]) - batch["y"]) ** 2)


@pytest.fixture(scope="module")
def net():
    net = Net(nnx.Rngs(0, dropout=1))
    # Non-trivial running statistics, so inference mode is visible in the outputs.
    net.bn.mean[...] = jnp.array([0.1, -0.2, 0.3, 0.0])
    net.bn.var[...] = jnp.array([2.0, 0.5, 1.0, 3.0])
    return net


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=(6, 3)).astype(np.float32),
        "y": rng.normal(size=(6, 2)).astype(np.float32),
    }


def test_round_trip_and_loss_agree_with_the_module(net, batch):
    model = from_nnx(net, loss)
    assert isinstance(model, NNXModel)
    reference = nnx.clone(net)
    reference.eval()
    np.testing.assert_allclose(model.merge(model.params)(batch["x"]), reference(batch["x"]))
    np.testing.assert_allclose(model.loss_fn(model.params, batch), loss(reference, batch))
    # The merged module is a new object in inference mode; the argument is left as it was.
    merged = model.merge(model.params)
    assert isinstance(merged, Net) and merged is not net
    assert merged.bn.use_running_average and merged.dropout.deterministic
    assert not net.bn.use_running_average and not net.dropout.deterministic


def test_params_hold_only_trainable_leaves(net):
    model = from_nnx(net, loss)
    assert isinstance(model.params, dict)
    paths = {
        jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(model.params)[0]
    }
    assert paths == {
        "['bn']['bias']",
        "['bn']['scale']",
        "['linear']['bias']",
        "['linear']['kernel']",
        "['out']['bias']",
        "['out']['kernel']",
    }
    assert tree_size(model.params) == (3 * 4 + 4) + 2 * 4 + (4 * 2 + 2)
    rest = nnx.to_pure_dict(model.rest)
    assert set(rest["bn"]) == {"mean", "var"}
    assert "rngs" in rest["dropout"]
    np.testing.assert_allclose(rest["bn"]["var"], [2.0, 0.5, 1.0, 3.0])


def test_trainable_filter_moves_other_params_to_rest(net, batch):
    model = from_nnx(net, loss, trainable=nnx.All(nnx.Param, nnx.PathContains("out")))
    assert set(model.params) == {"out"}
    assert set(nnx.to_pure_dict(model.rest)["bn"]) == {"bias", "mean", "scale", "var"}
    reference = nnx.clone(net)
    reference.eval()
    np.testing.assert_allclose(model.loss_fn(model.params, batch), loss(reference, batch))


def test_batchnorm_loss_does_not_depend_on_batch_composition(net, batch):
    model = from_nnx(net, loss)
    out = model.merge(model.params)
    full = out(batch["x"])
    # Each example's output is the same alone, in a smaller batch, and on a repeated call
    # (running statistics, no dropout noise).
    # Another batch shape may sum in another order: an output near 0 (-0.034 among O(1)
    # values) keeps an absolute float32 error of a few ulps of the O(1) terms.
    np.testing.assert_allclose(out(batch["x"][:1]), full[:1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out(batch["x"][2:5]), full[2:5], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out(batch["x"]), full)
    halves = [{k: v[:3] for k, v in batch.items()}, {k: v[3:] for k, v in batch.items()}]
    mean_of_halves = 0.5 * sum(model.loss_fn(model.params, h) for h in halves)
    np.testing.assert_allclose(model.loss_fn(model.params, batch), mean_of_halves, rtol=1e-6)
    # The check has teeth: in training mode the first example's output changes with the batch.
    train = nnx.clone(net)
    train.dropout.deterministic = True
    assert not np.allclose(train(batch["x"][:2])[:1], train(batch["x"])[:1])


def test_grad_jit_and_vmap_over_stacked_params(net, batch):
    model = from_nnx(net, loss)
    grads = jax.jit(jax.grad(model.loss_fn))(model.params, batch)
    assert jax.tree.structure(grads) == jax.tree.structure(model.params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert float(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads))) > 0
    shifted = jax.tree.map(lambda w: w + 0.1, model.params)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), model.params, shifted)
    losses = jax.vmap(model.loss_fn, in_axes=(0, None))(stacked, batch)
    expected = [model.loss_fn(model.params, batch), model.loss_fn(shifted, batch)]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)
