import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.models import rrr


def test_teacher_has_the_requested_rank_and_balanced_factors():
    p = rrr.make(6, 5, 4, 2, n=500, seed=3)
    product = np.asarray(p.params["B"] @ p.params["A"])
    s = np.linalg.svd(product, compute_uv=False)
    assert np.sum(s > 1e-5) == 2
    assert np.all((s[:2] > 0.99) & (s[:2] < 2.01))
    A, B = np.asarray(p.params["A"]), np.asarray(p.params["B"])
    np.testing.assert_allclose(B.T @ B, A @ A.T, atol=1e-5)  # balanced: BᵀB = AAᵀ
    # general position: no factor row or column is exactly zero (H = 4 > r = 2)
    assert np.all(np.abs(A).sum(axis=1) > 1e-3) and np.all(np.abs(B).sum(axis=0) > 1e-3)
    assert p.exact.rlct == pytest.approx(rrr.exact_rrr(6, 5, 4, 2).rlct)


def test_loss_is_the_gaussian_nll():
    p = rrr.make(3, 2, 2, 1, n=50, seed=0)
    x, y = np.asarray(p.data["x"]), np.asarray(p.data["y"])
    pred = x @ np.asarray(p.params["B"] @ p.params["A"]).T
    expected = np.mean(
        -np.sum(-0.5 * (y - pred) ** 2 - 0.5 * np.log(2 * np.pi), axis=1)
    )  # -mean log N(y | pred, I)
    np.testing.assert_allclose(float(p.loss_fn(p.params, p.data)), expected, rtol=1e-5)


def test_trained_point_is_a_minimum_no_worse_than_the_teacher():
    p = rrr.make(5, 4, 2, 1, n=2000, seed=1, w_star="trained")
    q = rrr.make(5, 4, 2, 1, n=2000, seed=1, w_star="teacher")
    assert float(p.loss_fn(p.params, p.data)) <= float(q.loss_fn(q.params, q.data))
    grad = jax.grad(p.loss_fn)(p.params, p.data)
    assert (
        max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grad)) < 1e-4
    )  # float32 round-off of an exact least-squares solution


def test_bad_arguments():
    with pytest.raises(ValueError, match="w_star"):
        rrr.make(3, 3, 2, 1, w_star="best")
    with pytest.raises(ValueError, match="r"):
        rrr.make(3, 3, 1, 2)
