"""Lanczos top-k eigenvalues and SLQ density against numpy.linalg.eigvalsh of the dense Hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from slt.geometry.hvp import linear_operator
from slt.geometry.lanczos import (
    hessian_spectral_density,
    hessian_top_eigenvalues,
    lanczos_eigenvalues,
    spectral_density,
)


@pytest.fixture(scope="module")
def problem(mlp, mlp_hessian):
    return (*mlp, mlp_hessian, np.linalg.eigvalsh(mlp_hessian))


def test_top_k_equals_eigvalsh(problem):
    loss, params, data, h, ev = problem
    res = hessian_top_eigenvalues(loss, params, data, k=5, num_iterations=26, chunk_size=10)
    assert res.eigenvalues.shape == (5,) and res.num_iterations == 26
    np.testing.assert_allclose(res.eigenvalues, ev[::-1][:5], rtol=1e-6)
    assert np.all(np.asarray(res.residuals) < 1e-8)
    assert res.eigenvectors is None


def test_fewer_iterations_converge_to_the_top(problem):
    loss, params, data, h, ev = problem
    res = hessian_top_eigenvalues(loss, params, data, k=2, num_iterations=20, seed=3)
    np.testing.assert_allclose(res.eigenvalues, ev[::-1][:2], rtol=1e-6)
    assert np.all(np.asarray(res.residuals) <= 1e-6 * abs(ev).max())


def test_which_and_ritz_vectors(problem):
    loss, params, data, h, ev = problem
    sa = hessian_top_eigenvalues(
        loss, params, data, k=3, num_iterations=26, which="SA", return_vectors=True
    )
    np.testing.assert_allclose(sa.eigenvalues, ev[:3], rtol=1e-6, atol=1e-10)
    assert sa.eigenvectors["W1"].shape == (3, 3, 4)
    y = np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(sa.eigenvectors))
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(y @ h, np.asarray(sa.eigenvalues)[:, None] * y, atol=1e-8)
    lm = hessian_top_eigenvalues(
        loss, params, data, k=4, num_iterations=26, which="LM", chunk_size=10
    )
    np.testing.assert_allclose(lm.eigenvalues, ev[np.argsort(-np.abs(ev))][:4], rtol=1e-6)


def test_krylov_exhaustion_restarts_on_a_low_rank_hessian():
    # H = A^T (X^T X / n) A with A (5, 40): rank 5, so Krylov breaks down after 6 steps.
    rng = np.random.default_rng(0)
    a, x = rng.normal(size=(5, 40)), rng.normal(size=(50, 5))
    data = jnp.asarray(x @ a)
    loss = lambda w, z: 0.5 * jnp.mean((z @ w) ** 2)
    h = np.asarray(data).T @ np.asarray(data) / 50
    ev = np.linalg.eigvalsh(h)[::-1]
    res = hessian_top_eigenvalues(loss, jnp.zeros(40), data, k=10, num_iterations=40)
    np.testing.assert_allclose(res.eigenvalues[:5], ev[:5], rtol=1e-6)
    np.testing.assert_allclose(res.eigenvalues[5:], 0.0, atol=1e-8 * ev[0])
    assert np.all(np.isfinite(res.residuals))


def test_float32_without_x64(problem):
    loss, params, data, _, ev = problem
    to32 = lambda t: jax.tree.map(lambda x: np.asarray(x, np.float32), t)
    with jax.enable_x64(False):
        res = hessian_top_eigenvalues(loss, to32(params), to32(data), k=2, num_iterations=26)
    assert res.eigenvalues.dtype == jnp.float32
    np.testing.assert_allclose(res.eigenvalues, ev[::-1][:2], rtol=1e-4)


def test_spectral_density(problem):
    loss, params, data, h, ev = problem
    sd = hessian_spectral_density(
        loss, params, data, num_iterations=26, num_probes=4, num_points=2000
    )
    assert sd.nodes.shape == sd.weights.shape == (4, 26)
    np.testing.assert_allclose(sd.weights.sum(axis=1), 1.0, rtol=1e-10)
    assert np.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-3)
    nodes = np.asarray(sd.nodes)[np.asarray(sd.weights) > 1e-12]
    assert nodes.min() >= ev[0] - 1e-8 and nodes.max() <= ev[-1] + 1e-8


def test_errors(problem):
    loss, params, data, _, _ = problem
    op = linear_operator(loss, params, data)
    with pytest.raises(ValueError, match="k must be a positive"):
        lanczos_eigenvalues(op, k=0)
    with pytest.raises(ValueError, match="k must be at most the dimension d = 26"):
        lanczos_eigenvalues(op, k=27)
    with pytest.raises(ValueError, match="num_iterations must lie in"):
        lanczos_eigenvalues(op, k=3, num_iterations=2)
    with pytest.raises(ValueError, match="num_iterations must lie in"):
        lanczos_eigenvalues(op, k=3, num_iterations=27)
    with pytest.raises(ValueError, match="which"):
        lanczos_eigenvalues(op, k=1, which="BE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_probes"):
        spectral_density(op, num_probes=0)
    with pytest.raises(ValueError, match="sigma"):
        spectral_density(op, sigma=0.0)
    with pytest.raises(ValueError, match="num_points"):
        spectral_density(op, num_points=1)
