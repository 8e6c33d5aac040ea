"""Hutchinson's trace estimate against the trace of the dense Hessian."""

import jax.numpy as jnp
import numpy as np
import pytest

from slt.geometry.hutchinson import hessian_trace, hutchinson_trace
from slt.geometry.hvp import linear_operator


def test_within_four_standard_errors_and_se_shrinks(mlp, mlp_hessian):
    loss, params, data = mlp
    h = mlp_hessian
    exact = np.trace(h)
    small = hessian_trace(loss, params, data, num_samples=25, seed=1, probe_batch=25)
    big = hessian_trace(loss, params, data, num_samples=400, seed=1, probe_batch=25)
    assert big.samples.shape == (400,)
    for est in (small, big):
        assert abs(est.estimate - exact) < 4 * est.se
    # the standard error scales as 1/sqrt(num_samples): 4x smaller here, give or take its noise
    assert big.se < 0.5 * small.se
    # the variance of a Rademacher probe is 2 sum_{i != j} H_ij^2
    var = 2 * (np.sum(h**2) - np.sum(np.diag(h) ** 2))
    assert big.samples.var(ddof=1) == pytest.approx(var, rel=0.3)


def test_probe_batch_does_not_change_the_probes(mlp):
    loss, params, data = mlp
    op = linear_operator(loss, params, data)
    a = hutchinson_trace(op, num_samples=6, seed=2, probe_batch=25)  # one padded block
    b = hutchinson_trace(op, num_samples=6, seed=2, probe_batch=4)  # 4 + 2, padded
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-12)


def test_diagonal_hessian_is_exact_and_one_probe_has_no_se():
    c = jnp.array([1.0, -2.0, 5.0])
    loss = lambda w, x: jnp.mean(x) * 0.5 * jnp.sum(c * w**2)
    est = hessian_trace(loss, jnp.ones(3), jnp.ones((4, 1)), num_samples=5)
    assert est.estimate == pytest.approx(4.0) and est.se == pytest.approx(0.0, abs=1e-12)
    one = hessian_trace(loss, jnp.ones(3), jnp.ones((4, 1)), num_samples=1)
    assert one.estimate == pytest.approx(4.0) and np.isnan(one.se)


def test_errors():
    loss = lambda w, x: jnp.mean(x) * jnp.sum(w**2)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        hessian_trace(loss, jnp.ones(3), jnp.ones(4), num_samples=0)
    with pytest.raises(ValueError, match="probe_batch"):
        hessian_trace(loss, jnp.ones(3), jnp.ones(4), probe_batch=0)
    with pytest.raises(ValueError, match="chunk_size"):
        hessian_trace(loss, jnp.ones(3), jnp.ones(4), chunk_size=-1)
    with pytest.raises(ValueError, match="non-finite"):
        hessian_trace(loss, jnp.ones(3), jnp.array([1.0, jnp.nan]))
