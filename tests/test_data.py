"""Dataset validation messages and the epoch-wise minibatch schedule."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.data import Batcher, batch_at, check_data, epoch_permutation, num_samples


def test_num_samples_ok():
    data = {"x": jnp.zeros((9, 3)), "y": {"z": np.zeros(9)}}
    assert num_samples(data) == 9
    assert check_data(data) == 9
    assert num_samples(jnp.zeros(4)) == 4


def test_scalar_leaf_named():
    with pytest.raises(ValueError, match=r"\['y'\]\['z'\].*scalar.*leading axis"):
        num_samples({"x": jnp.zeros((3, 2)), "y": {"z": jnp.asarray(1.0)}})


def test_mismatched_lengths_listed():
    with pytest.raises(ValueError, match="leading axis") as err:
        num_samples({"x": jnp.zeros((5, 2)), "y": jnp.zeros(7)})
    msg = str(err.value)
    assert "['x']: 5" in msg and "['y']: 7" in msg


@pytest.mark.parametrize("empty", [{}, [], None, {"a": {}}])
def test_empty_pytree(empty):
    with pytest.raises(ValueError, match="at least one array leaf"):
        num_samples(empty)


def test_zero_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        num_samples({"x": jnp.zeros((0, 3))})


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_named(bad):
    y = np.ones(6, np.float32)
    y[[1, 4]] = bad
    with pytest.raises(ValueError, match=r"\['y'\] has 2 non-finite values"):
        check_data({"x": jnp.zeros((6, 2)), "y": jnp.asarray(y)})
    # numpy leaves are checked too
    with pytest.raises(ValueError, match=r"\['y'\] has 2 non-finite"):
        check_data({"x": np.zeros((6, 2)), "y": y})


def test_non_numeric_dtype_named():
    with pytest.raises(ValueError, match=r"\['s'\] has dtype <U1.*numeric"):
        check_data({"x": np.zeros(3), "s": np.array(["a", "b", "c"])})
    # integer and boolean data are fine
    assert check_data({"i": jnp.arange(3), "m": jnp.array([True, False, True])}) == 3


@functools.partial(jax.jit, static_argnames=("batcher", "steps"))
def _collect(data, batcher, key, steps):
    """The batches of steps 0..steps-1, collected inside a jitted scan as batch_at is used."""
    perm0 = jnp.arange(batcher.n)

    def body(perm, step):
        batch, perm = batch_at(data, batcher, key, perm, step)
        return perm, batch

    return jax.lax.scan(body, perm0, jnp.arange(steps))[1]


def test_batches_disjoint_within_epoch_and_new_epoch_differs():
    n, bs = 23, 5  # 4 batches per epoch, 3 samples left out of each epoch
    batcher = Batcher(n, bs)
    assert batcher.num_batches == 4 and not batcher.full_batch
    data = {"i": jnp.arange(n), "x": jnp.arange(n) * 10.0}
    key = jax.random.key(0)
    batches = _collect(data, batcher, key, 3 * batcher.num_batches)
    idx = np.asarray(batches["i"]).reshape(3, batcher.num_batches * bs)
    # every leaf is indexed the same way
    np.testing.assert_array_equal(np.asarray(batches["x"]), np.asarray(batches["i"]) * 10.0)
    for e in range(3):
        # disjoint and covering num_batches * batch_size distinct indices
        assert len(set(idx[e].tolist())) == batcher.num_batches * bs
        assert set(idx[e].tolist()) <= set(range(n))
        # the epoch is the documented permutation, in consecutive slices
        expected = np.asarray(epoch_permutation(key, jnp.asarray(e), n))[: 4 * bs]
        np.testing.assert_array_equal(idx[e], expected)
    # a new epoch draws a new permutation
    assert not np.array_equal(idx[0], idx[1])
    assert not np.array_equal(idx[1], idx[2])
    # the same key gives the same batches; another key different ones
    np.testing.assert_array_equal(
        np.asarray(_collect(data, batcher, key, 12)["i"]), np.asarray(batches["i"])
    )
    other = _collect(data, batcher, jax.random.key(1), 12)
    assert not np.array_equal(np.asarray(other["i"]), np.asarray(batches["i"]))


def test_full_batch_returns_data_unchanged():
    data = {"i": jnp.arange(6), "x": jnp.arange(12.0).reshape(6, 2)}
    batcher = Batcher(6, 6)
    assert batcher.full_batch and batcher.num_batches == 1
    perm = jnp.arange(6)[::-1]
    for step in range(3):  # every step, including epoch starts, sees the data in order
        batch, perm_out = batch_at(data, batcher, jax.random.key(0), perm, jnp.asarray(step))
        assert jax.tree.structure(batch) == jax.tree.structure(data)
        for got, want in zip(jax.tree.leaves(batch), jax.tree.leaves(data), strict=True):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        np.testing.assert_array_equal(np.asarray(perm_out), np.asarray(perm))
    # also inside a jitted scan
    batches = _collect(data, batcher, jax.random.key(0), 3)
    np.testing.assert_array_equal(np.asarray(batches["i"]), np.tile(np.arange(6), (3, 1)))


def test_vmap_over_keys_matches_per_key():
    n, bs, steps = 12, 4, 7
    batcher = Batcher(n, bs)
    data = {"i": jnp.arange(n)}
    keys = jax.random.split(jax.random.key(5), 4)

    def run(key):
        perm0 = jnp.arange(n)

        def body(perm, step):
            batch, perm = batch_at(data, batcher, key, perm, step)
            return perm, batch["i"]

        # step is a shared (unbatched) scan index, as batch_at requires
        return jax.lax.scan(body, perm0, jnp.arange(steps))[1]

    vmapped = np.asarray(jax.jit(jax.vmap(run))(keys))
    assert vmapped.shape == (4, steps, bs)
    run_one = jax.jit(run)
    for c in range(4):
        np.testing.assert_array_equal(vmapped[c], np.asarray(run_one(keys[c])))
    # chains with different keys see different batches
    assert not np.array_equal(vmapped[0], vmapped[1])
