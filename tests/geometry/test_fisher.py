"""The empirical Fisher operator against the explicit sum of per-sample gradient outer products."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from slt.geometry.fisher import (
    fisher_operator,
    fisher_top_eigenvalues,
    fisher_trace,
    fisher_vp,
    per_sample_losses,
)


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def mlp_problem(n=37, dtype=jnp.float64):
    """A 2-layer tanh MLP, 3 -> 4 -> 2 (26 parameters), squared loss on n samples."""
    k = jax.random.split(jax.random.key(0), 5)
    params = {
        "W1": jax.random.normal(k[0], (3, 4), dtype),
        "b1": 0.1 * jax.random.normal(k[1], (4,), dtype),
        "W2": jax.random.normal(k[2], (4, 2), dtype),
        "b2": jnp.zeros(2, dtype),
    }
    data = {
        "x": jax.random.normal(k[3], (n, 3), dtype),
        "y": jax.random.normal(k[4], (n, 2), dtype),
    }

    def loss(p, b):
        out = jnp.tanh(b["x"] @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return 0.5 * jnp.mean(jnp.sum((out - b["y"]) ** 2, axis=-1))

    return loss, params, data


@pytest.fixture(scope="module")
def problem():
    with jax.enable_x64(True):
        loss, params, data = mlp_problem()
        grad = jax.jit(jax.grad(loss))
        n = data["x"].shape[0]
        rows = [
            ravel_pytree(grad(params, jax.tree.map(lambda a, i=i: a[i : i + 1], data)))[0]
            for i in range(n)
        ]
        g = np.stack([np.asarray(r) for r in rows])  # (n, d) per-sample gradients
    return loss, params, data, g, g.T @ g / n


def test_fisher_vp_matches_explicit_outer_products(problem):
    loss, params, data, _, f = problem
    v = jax.tree.map(lambda x: jnp.sin(jnp.arange(x.size, dtype=x.dtype)).reshape(x.shape), params)
    fv = fisher_vp(loss, params, data, v, chunk_size=8)  # 37 = 4 * 8 + 5
    assert jax.tree.structure(fv) == jax.tree.structure(params)
    np.testing.assert_allclose(ravel_pytree(fv)[0], f @ ravel_pytree(v)[0], rtol=1e-10, atol=1e-12)
    fv_all = fisher_vp(loss, params, data, v, chunk_size=100)
    np.testing.assert_allclose(ravel_pytree(fv_all)[0], ravel_pytree(fv)[0], rtol=1e-10, atol=1e-12)


def test_operator_trace_and_top_eigenvalues(problem):
    loss, params, data, g, f = problem
    op = fisher_operator(loss, params, data, chunk_size=8)
    assert op.dim == 26
    u = jnp.cos(jnp.arange(26.0))
    np.testing.assert_allclose(op.matvec(u), f @ np.asarray(u), rtol=1e-10, atol=1e-12)
    tr = fisher_trace(loss, params, data, chunk_size=8)
    assert tr == pytest.approx(np.trace(f), rel=1e-10)
    assert tr == pytest.approx(np.mean(np.sum(g**2, axis=1)), rel=1e-10)
    res = fisher_top_eigenvalues(
        loss, params, data, k=3, num_iterations=26, chunk_size=8, return_vectors=True
    )
    np.testing.assert_allclose(res.eigenvalues, np.linalg.eigvalsh(f)[::-1][:3], rtol=1e-6)
    assert res.eigenvectors["W2"].shape == (3, 4, 2)


def test_per_sample_losses(problem):
    loss, params, data, _, _ = problem
    losses = per_sample_losses(loss, params, data)
    assert losses.shape == (37,)
    assert float(losses[4]) == pytest.approx(
        float(loss(params, jax.tree.map(lambda a: a[4:5], data)))
    )
    assert float(jnp.mean(losses)) == pytest.approx(float(loss(params, data)))


def test_errors(problem):
    loss, params, data, _, _ = problem
    with pytest.raises(ValueError, match="chunk_size"):
        fisher_trace(loss, params, data, chunk_size=0)
    with pytest.raises(ValueError, match="v must have the pytree structure"):
        fisher_vp(loss, params, data, [1.0])
    with pytest.raises(ValueError, match="k must be at most"):
        fisher_top_eigenvalues(loss, params, data, k=30)
    with pytest.raises(ValueError, match="params must hold"):
        fisher_operator(loss, {}, data)
