"""The empirical NTK against an explicit Jacobian product J J^T from jax.jacobian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.geometry.ntk import empirical_ntk, ntk_spectrum


def mlp(out=2):
    """A 2-layer tanh MLP 3 -> 4 -> out on 5 inputs, with a dict of parameters."""
    k = jax.random.split(jax.random.key(0), 4)
    params = {
        "W1": jax.random.normal(k[0], (3, 4)),
        "b1": jax.random.normal(k[1], (4,)),
        "W2": jax.random.normal(k[2], (4, out)),
    }
    x = jax.random.normal(k[3], (5, 3))
    apply = lambda p, x: jnp.tanh(x @ p["W1"] + p["b1"]) @ p["W2"]
    return apply, params, x


def explicit_jacobian(apply, params, x):
    jac = jax.jacobian(apply)(params, x)  # leaves of shape (N, out, *param_shape)
    n = x.shape[0]
    return np.concatenate(
        [np.asarray(j).reshape(n * j.shape[1], -1) for j in jax.tree.leaves(jac)], axis=1
    )


def test_matches_explicit_jacobian_product():
    apply, params, x = mlp()
    j = explicit_jacobian(apply, params, x)  # (10, 26)
    theta = empirical_ntk(apply, params, x, chunk_size=3)
    assert theta.shape == (10, 10)
    np.testing.assert_allclose(theta, j @ j.T, rtol=1e-10, atol=1e-12)
    tr = empirical_ntk(apply, params, x, trace_outputs=True, chunk_size=3)
    full = (j @ j.T).reshape(5, 2, 5, 2)
    np.testing.assert_allclose(tr, np.einsum("iaja->ij", full), rtol=1e-10, atol=1e-12)


def test_spectrum_and_single_output():
    apply, params, x = mlp(out=1)
    j = explicit_jacobian(apply, params, x)
    np.testing.assert_allclose(empirical_ntk(apply, params, x), j @ j.T, rtol=1e-10)
    flat_apply = lambda p, x: apply(p, x)[:, 0]  # outputs of shape (N,)
    spec = ntk_spectrum(flat_apply, params, x)
    # J J^T and J^T J share their non-zero eigenvalues
    np.testing.assert_allclose(spec, np.linalg.eigvalsh(j.T @ j)[::-1][:5], rtol=1e-8)
    assert np.all(np.diff(np.asarray(spec)) <= 0)


def test_errors():
    apply, params, x = mlp()
    with pytest.raises(ValueError, match="leading axis N = 5"):
        empirical_ntk(lambda p, x: apply(p, x).T, params, x)
    with pytest.raises(ValueError, match="single array"):
        empirical_ntk(lambda p, x: (apply(p, x), apply(p, x)), params, x)
    with pytest.raises(ValueError, match="chunk_size"):
        empirical_ntk(apply, params, x, chunk_size=0)
