"""Pytree arithmetic on a nested dict with mixed leaf shapes, checked against numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.tree import (
    tree_add_scaled,
    tree_dot,
    tree_isfinite,
    tree_noise_like,
    tree_normal_like,
    tree_rademacher_like,
    tree_size,
    tree_sq_norm,
    tree_sub,
)


def _tree(seed):
    rng = np.random.default_rng(seed)
    return {
        "w": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32),
        "b": jnp.asarray(rng.normal(size=(2,)), jnp.float32),
        "inner": {
            "s": jnp.asarray(rng.normal(), jnp.float32),
            "t": jnp.asarray(rng.normal(size=(2, 1, 4)), jnp.float32),
        },
    }


def _flat(t):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(t)])


def _assert_same_structure(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape
        assert x.dtype == y.dtype


def test_tree_sub_and_add_scaled():
    a, b = _tree(0), _tree(1)
    diff = tree_sub(a, b)
    _assert_same_structure(diff, a)
    np.testing.assert_allclose(_flat(diff), _flat(a) - _flat(b), rtol=1e-6, atol=1e-6)
    out = tree_add_scaled(a, b, -2.5)
    _assert_same_structure(out, a)
    np.testing.assert_allclose(_flat(out), _flat(a) - 2.5 * _flat(b), rtol=1e-6, atol=1e-6)
    # a traced (array) scale works too, e.g. inside jit
    out_jit = jax.jit(tree_add_scaled)(a, b, jnp.asarray(0.5))
    np.testing.assert_allclose(_flat(out_jit), _flat(a) + 0.5 * _flat(b), rtol=1e-6, atol=1e-6)


def test_tree_dot_sq_norm_size():
    a, b = _tree(2), _tree(3)
    np.testing.assert_allclose(float(tree_dot(a, b)), _flat(a) @ _flat(b), rtol=1e-5)
    np.testing.assert_allclose(float(tree_sq_norm(a)), _flat(a) @ _flat(a), rtol=1e-5)
    assert tree_dot(a, b).shape == ()
    assert tree_size(a) == 6 + 2 + 1 + 8
    assert isinstance(tree_size(a), int)
    assert tree_size({}) == 0
    assert float(tree_sq_norm({})) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_tree_isfinite(bad):
    a = _tree(4)
    assert bool(tree_isfinite(a))
    a["inner"]["t"] = a["inner"]["t"].at[1, 0, 2].set(bad)
    assert not bool(tree_isfinite(a))
    # also when the offending leaf is a scalar
    b = _tree(4)
    b["inner"]["s"] = jnp.asarray(bad, jnp.float32)
    assert not bool(tree_isfinite(b))
    assert bool(tree_isfinite({}))


@pytest.mark.parametrize("draw", [tree_normal_like, tree_rademacher_like])
def test_noise_has_the_shapes_and_dtypes_and_follows_the_key(draw):
    a = _tree(5)
    a["b"] = a["b"].astype(jnp.bfloat16)
    key = jax.random.key(11)
    z = draw(key, a)
    _assert_same_structure(z, a)
    # same key, same noise
    z2 = draw(key, a)
    for x, y in zip(jax.tree.leaves(z), jax.tree.leaves(z2), strict=True):
        np.testing.assert_array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32))
    # different key, different noise
    z3 = draw(jax.random.key(12), a)
    assert not np.allclose(_flat(z), _flat(z3))
    assert draw(key, {}) == {}


def test_tree_normal_like_leaves_get_independent_noise():
    # Identical leaves must not receive identical noise (one key per leaf).
    same = {"a": jnp.zeros((50,)), "b": jnp.zeros((50,)), "c": {"d": jnp.zeros((50,))}}
    z = tree_normal_like(jax.random.key(3), same)
    leaves = [np.asarray(x) for x in jax.tree.leaves(z)]
    for i in range(len(leaves)):
        for j in range(i + 1, len(leaves)):
            assert not np.allclose(leaves[i], leaves[j])
    # Many draws are standard normal: 4000 samples, mean SE 1/sqrt(4000) = 0.016, var SE
    # sqrt(2/4000) = 0.022; tolerances are ~5 SE.
    big = tree_normal_like(jax.random.key(4), {"x": jnp.zeros((40, 50)), "y": jnp.zeros((2000,))})
    flat = _flat(big)
    assert abs(flat.mean()) < 0.08
    assert abs(flat.var() - 1.0) < 0.11
    # the two leaves are uncorrelated: corr SE ~ 1/sqrt(2000) = 0.022
    x, y = np.ravel(np.asarray(big["x"])), np.asarray(big["y"])
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.11


def test_tree_rademacher_like_is_signs():
    a = _tree(5)
    a["b"] = a["b"].astype(jnp.bfloat16)
    key = jax.random.key(11)
    assert set(np.unique(_flat(tree_rademacher_like(key, a)))) <= {-1.0, 1.0}
    # leaves that share a word get different signs from it, and the dispatcher routes by name
    same = {"a": jnp.zeros((50,)), "b": jnp.zeros((50,))}
    z = tree_noise_like(jax.random.key(3), same, "rademacher")
    assert not np.array_equal(np.asarray(z["a"]), np.asarray(z["b"]))
    with pytest.raises(ValueError, match="noise must be one of 'gaussian', 'rademacher'"):
        tree_noise_like(key, same, "uniform")


def test_tree_rademacher_like_signs_are_fair_and_uncorrelated():
    # 32 signs come from each random word: check the balance and the correlation of neighbours
    # in a word (lag 1), across words (lag 32) and far apart. 2^20 signs: the SE of a mean or a
    # correlation is 1/1024 ~ 0.001; tolerances are 5 SE.
    z = np.asarray(tree_rademacher_like(jax.random.key(0), jnp.zeros(2**20)), np.float64)
    assert abs(z.mean()) < 5e-3
    for lag in (1, 31, 32, 33, 1000):
        assert abs(np.mean(z[lag:] * z[:-lag])) < 5e-3, lag
    # every bit position of the word is fair (SE 1/sqrt(2^15) ~ 0.0055 per position)
    per_bit = z.reshape(-1, 32).mean(axis=0)
    assert np.abs(per_bit).max() < 0.03


def test_reductions_of_low_precision_leaves_are_float32():
    # The module docstring: "reduces in float32 or wider". 1000 * bf16(1.01)^2 = 1015.686...;
    # rounded to bfloat16 (8 significant bits) it would be 1016.
    x = {"a": jnp.full((1000,), 1.01, jnp.bfloat16)}
    exact = 1000 * float(jnp.asarray(1.01, jnp.bfloat16)) ** 2
    assert tree_sq_norm(x).dtype == jnp.float32
    np.testing.assert_allclose(float(tree_sq_norm(x)), exact, rtol=1e-5)
