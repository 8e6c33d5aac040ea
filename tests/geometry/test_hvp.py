"""Hessian-vector products against a dense jax.hessian, chunked and unchunked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from slt.geometry.hvp import chunk_mean, dense_hessian, hvp, linear_operator, operator_to_dense


@pytest.fixture(scope="module")
def problem(mlp, mlp_hessian):
    """The MLP problem (conftest) and its dense Hessian from jax.hessian."""
    return (*mlp, mlp_hessian)


@pytest.mark.parametrize("chunk_size", [8, 1024])  # 37 = 4 * 8 + 5, and one chunk
def test_hvp_matches_dense_hessian(problem, chunk_size):
    loss, params, data, h = problem
    v = jax.tree.map(lambda x: jnp.cos(jnp.arange(x.size, dtype=x.dtype)).reshape(x.shape), params)
    hv = hvp(loss, params, data, v, chunk_size=chunk_size)
    assert jax.tree.structure(hv) == jax.tree.structure(params)
    np.testing.assert_allclose(ravel_pytree(hv)[0], h @ ravel_pytree(v)[0], rtol=1e-10, atol=1e-12)


def test_dense_hessian_and_operator(problem):
    loss, params, data, h = problem
    dense = dense_hessian(loss, params, data, chunk_size=8, basis_chunk=5)  # 26 = 5 * 5 + 1
    np.testing.assert_allclose(dense, h, atol=1e-12)
    op = linear_operator(loss, params, data, chunk_size=8)
    assert op.dim == 26 and op.dtype == jnp.float64
    np.testing.assert_allclose(operator_to_dense(op, basis_chunk=5), dense, atol=0)
    assert op.unravel(jnp.arange(26.0))["W1"].shape == (3, 4)


def test_hvp_under_jit_and_vmap(problem):
    loss, params, data, h = problem
    _, unravel = ravel_pytree(params)
    basis = jax.vmap(unravel)(jnp.eye(26)[:3])

    @jax.jit
    def columns(p, d, b):
        return jax.vmap(lambda u: ravel_pytree(hvp(loss, p, d, u, chunk_size=8))[0])(b)

    np.testing.assert_allclose(columns(params, data, basis), h[:3], atol=1e-12)


def test_chunk_mean_weights_the_remainder():
    x = jnp.arange(10.0)
    out = chunk_mean(lambda b: {"m": jnp.mean(b), "s": jnp.mean(b**2)}, x, chunk_size=4)
    assert float(out["m"]) == pytest.approx(4.5)
    assert float(out["s"]) == pytest.approx(28.5)
    assert float(chunk_mean(jnp.mean, x, chunk_size=5)) == pytest.approx(4.5)
    assert float(chunk_mean(jnp.mean, x, chunk_size=1)) == pytest.approx(4.5)


def test_errors(problem):
    loss, params, data, _ = problem
    v = jax.tree.map(jnp.ones_like, params)
    with pytest.raises(ValueError, match="chunk_size"):
        hvp(loss, params, data, v, chunk_size=0)
    with pytest.raises(ValueError, match="v must have the pytree structure"):
        hvp(loss, params, data, {"W1": v["W1"]})
    with pytest.raises(ValueError, match="v must have the leaf shapes"):
        hvp(loss, params, data, {**v, "b2": jnp.ones(3)})
    with pytest.raises(ValueError, match="params must hold"):
        linear_operator(loss, {}, data)
    with pytest.raises(ValueError, match="leading axis"):
        linear_operator(loss, params, {"x": data["x"], "y": data["y"][:5]})
