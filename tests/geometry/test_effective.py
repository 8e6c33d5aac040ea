"""Effective dimension, near-zero counts and ranks on models of known rank."""

from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from slt.estimators.llc import LLCEstimate
from slt.geometry.effective import (
    count_near_zero,
    default_tol,
    effective_dimension,
    effective_parameters,
    hessian_eigenvalues,
    hessian_rank,
    numerical_rank,
)


def low_rank_problem(d=40, r=5, n=50):
    """Least squares on features X A, A of shape (r, d): H = A^T X^T X A / n has rank r."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, r)) @ rng.normal(size=(r, d))
    loss = lambda w, b: 0.5 * jnp.mean((b @ w) ** 2)
    return loss, jnp.asarray(rng.normal(size=d)), jnp.asarray(z), z.T @ z / n


def product_problem(n=30):
    """f = (w1 w2 + w3) x with y = 0: at w = 0, H = diag(0, 0, mean x^2), rank 1 of d = 3."""
    x = jnp.asarray(np.random.default_rng(1).normal(size=n))
    loss = lambda w, b: 0.5 * jnp.mean(((w["a"] * w["b"] + w["c"]) * b) ** 2)
    params = {"a": jnp.zeros(()), "b": jnp.zeros(()), "c": jnp.zeros(())}
    return loss, params, x, float(jnp.mean(x**2))


def test_effective_dimension_by_hand():
    # 4/(4+1) + 1/(1+1) + 0 + (clipped) 0
    assert effective_dimension([4.0, 1.0, 0.0, -0.5], z=1.0) == pytest.approx(1.3)
    assert effective_dimension(np.array([3.0, 1.0]), z=0.5) == pytest.approx(3 / 3.5 + 1 / 1.5)
    assert effective_dimension([1e6, 1e6], z=1e-3) == pytest.approx(2.0, rel=1e-8)
    for z in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="z must be"):
            effective_dimension([1.0], z=z)
    with pytest.raises(ValueError, match="eigenvalues must be a non-empty 1-D"):
        effective_dimension(np.ones((2, 2)), z=1.0)
    with pytest.raises(ValueError, match="eigenvalues must be finite"):
        effective_dimension([1.0, np.nan], z=1.0)


def test_count_near_zero_and_rank():
    lam = np.array([2.0, 1e-9, -3e-7, 0.0, -0.5])
    assert count_near_zero(lam) == 3 and numerical_rank(lam) == 2
    assert count_near_zero(lam, tol=1e-10) == 1 and numerical_rank(lam, tol=0.3) == 1
    assert count_near_zero(np.zeros(4)) == 4
    assert count_near_zero(lam.astype(np.float32)) == 3  # float32 default ~1.2e-4
    assert default_tol(np.float64) == 1e-6 and default_tol(np.float32) > 1e-4
    with pytest.raises(ValueError, match="tol must be"):
        count_near_zero(lam, tol=1.5)


def test_rank_of_the_product_model_at_zero():
    loss, params, x, m2 = product_problem()
    est = hessian_rank(loss, params, x)
    assert (est.rank, est.dim, est.method, est.lower_bound) == (1, 3, "dense", False)
    np.testing.assert_allclose(est.eigenvalues, [m2, 0.0, 0.0], atol=1e-12)


def test_rank_of_a_low_rank_hessian_dense_and_lanczos():
    loss, w, z, h = low_rank_problem()
    dense = hessian_rank(loss, w, z, chunk_size=16)
    assert (dense.rank, dense.method, dense.lower_bound) == (5, "dense", False)
    np.testing.assert_allclose(dense.eigenvalues, np.linalg.eigvalsh(h)[::-1], atol=1e-10)
    lz = hessian_rank(loss, w, z, method="lanczos", k=10, num_iterations=40, chunk_size=16)
    assert (lz.rank, lz.method, lz.lower_bound) == (5, "lanczos", False)
    short = hessian_rank(loss, w, z, method="lanczos", k=3, num_iterations=40, chunk_size=16)
    assert (short.rank, short.lower_bound) == (3, True)
    np.testing.assert_allclose(short.eigenvalues, dense.eigenvalues[:3], rtol=1e-8)
    small = hessian_eigenvalues(loss, w, z, dense_max_dim=10, k=4, num_iterations=40, chunk_size=16)
    np.testing.assert_allclose(small, dense.eigenvalues[:4], rtol=1e-8)


def test_effective_parameters_table():
    loss, params, x, m2 = product_problem()
    llc = LLCEstimate(0.75, 0.05, np.ones(2), 1.0, 100.0, 100.0, np.ones(2, bool))
    ep = effective_parameters(loss, params, x, llc=llc)
    assert (ep.dim, ep.half_dim, ep.rank, ep.half_rank) == (3, 1.5, 1, 0.5)
    assert ep.z == pytest.approx(1 / 30)  # unit-precision prior: z = 1/n
    assert ep.n_eff == pytest.approx(m2 / (m2 + 1 / 30))
    assert ep.half_n_eff == pytest.approx(ep.n_eff / 2)
    assert (ep.llc, ep.llc_mcse, ep.method, ep.lower_bound) == (0.75, 0.05, "dense", False)
    text = str(ep)
    for label in ("d/2", "rank(H)/2", "N_eff", "llc", "0.75"):
        assert label in text
    ns = effective_parameters(loss, params, x, llc=SimpleNamespace(llc=0.5, mcse=0.1), z=2.0)
    assert (ns.llc, ns.llc_mcse, ns.z) == (0.5, 0.1, 2.0)
    assert ns.n_eff == pytest.approx(m2 / (m2 + 2.0))
    none = effective_parameters(loss, params, x)
    assert np.isnan(none.llc) and np.isnan(none.llc_mcse)


def test_effective_parameters_from_lanczos_is_a_lower_bound():
    loss, w, z, h = low_rank_problem()
    full = effective_parameters(loss, w, z, z=0.1, chunk_size=16)
    part = effective_parameters(
        loss, w, z, z=0.1, method="lanczos", k=3, num_iterations=40, chunk_size=16
    )
    assert part.lower_bound and not full.lower_bound
    assert part.n_eff < full.n_eff and part.rank == 3 and full.rank == 5
    assert "lower bound" in str(part)


def test_errors():
    loss, params, x, _ = product_problem()
    with pytest.raises(ValueError, match="llc must be"):
        effective_parameters(loss, params, x, llc="big")
    with pytest.raises(ValueError, match="z must be"):
        effective_parameters(loss, params, x, z=0.0)
    with pytest.raises(ValueError, match="tol must be"):
        effective_parameters(loss, params, x, tol=-1.0)
    with pytest.raises(ValueError, match="method must be"):
        hessian_rank(loss, params, x, method="svd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be at most"):
        hessian_rank(loss, params, x, method="lanczos", k=4)
