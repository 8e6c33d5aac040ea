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


@pytest.fixture(scope="module")
def problem(mlp):
    loss, params, data = mlp
    with jax.enable_x64(True):
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
