"""Shared by the geometry tests: float64 throughout, and one small model with its dense Hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def mlp():
    """A 2-layer tanh MLP, 3 -> 4 -> 2 (26 parameters), squared loss on 37 samples (float64):
    ``(loss, params, data)``."""
    with jax.enable_x64(True):
        k = jax.random.split(jax.random.key(0), 5)
        params = {
            "W1": jax.random.normal(k[0], (3, 4), jnp.float64),
            "b1": 0.1 * jax.random.normal(k[1], (4,), jnp.float64),
            "W2": jax.random.normal(k[2], (4, 2), jnp.float64),
            "b2": jnp.zeros(2, jnp.float64),
        }
        data = {
            "x": jax.random.normal(k[3], (37, 3), jnp.float64),
            "y": jax.random.normal(k[4], (37, 2), jnp.float64),
        }

    def loss(p, b):
        out = jnp.tanh(b["x"] @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return 0.5 * jnp.mean(jnp.sum((out - b["y"]) ** 2, axis=-1))

    return loss, params, data


@pytest.fixture(scope="module")
def mlp_hessian(mlp):
    """The dense Hessian of ``mlp``'s full-data loss, from ``jax.hessian`` on the flat
    parameters: the independent reference."""
    loss, params, data = mlp
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(params)
        return np.asarray(jax.jit(jax.hessian(lambda f, d: loss(unravel(f), d)))(flat, data))
