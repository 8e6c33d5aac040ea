import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.exact import dln as exact_dln
from slt.models import dln


def _product(params: dict) -> np.ndarray:
    out = None
    for i in range(len(params)):
        w = np.asarray(params[f"W{i}"], dtype=np.float64)
        out = w if out is None else w @ out
    assert out is not None
    return out


def _max_abs_grad(p) -> float:
    grad = jax.grad(p.loss_fn)(p.params, p.data)
    return max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grad))


def test_shapes_dtypes_and_exact():
    widths = [5, 4, 3, 6, 2]
    p = dln.make(widths, 2, n=300, seed=0)
    assert sorted(p.params) == ["W0", "W1", "W2", "W3"]
    for i, (h_in, h_out) in enumerate(itertools.pairwise(widths)):
        assert p.params[f"W{i}"].shape == (h_out, h_in)
        assert p.params[f"W{i}"].dtype == jnp.float32
    assert p.data["x"].shape == (300, 5) and p.data["y"].shape == (300, 2)
    assert p.data["x"].dtype == jnp.float32
    assert p.exact == exact_dln(widths, 2)
    assert p.name == "dln(widths=[5, 4, 3, 6, 2],r=2)"
    x = np.asarray(p.data["x"])
    assert x.min() >= -1.0 and x.max() <= 1.0  # uniform on the cube


@pytest.mark.parametrize(
    ("widths", "r"), [([5, 4, 3, 5], 0), ([5, 4, 3, 5], 2), ([6, 7, 4, 8, 6], 4), ([4, 3], 2)]
)
def test_teacher_rank_balance_and_general_position(widths, r):
    truth = dln.teacher(widths, r, np.random.default_rng(0))  # float64
    product = _product(truth)
    assert np.linalg.matrix_rank(product) == r
    s = np.linalg.svd(product, compute_uv=False)[:r]
    assert np.all((s > 1 - 1e-9) & (s < 2 + 1e-9))
    for i in range(len(widths) - 1):
        w = truth[f"W{i}"]
        assert np.linalg.matrix_rank(w) == r  # every layer has the rank of the product
        if i + 1 < len(widths) - 1:  # balanced: W_{i+1}^T W_{i+1} = W_i W_i^T
            w_next = truth[f"W{i + 1}"]
            np.testing.assert_allclose(w_next.T @ w_next, w @ w.T, atol=1e-12)
        if r > 0:  # general position: no row or column exactly zero
            assert np.all(np.abs(w).sum(axis=0) > 1e-6) and np.all(np.abs(w).sum(axis=1) > 1e-6)
    # the float32 parameters of make() keep the rank up to round-off
    p = dln.make(widths, r, n=10, seed=0)
    assert np.linalg.matrix_rank(_product(p.params), tol=1e-4) == r


def test_loss_is_the_gaussian_nll():
    p = dln.make([3, 4, 2, 2], 1, n=50, seed=0)
    x, y = np.asarray(p.data["x"], dtype=np.float64), np.asarray(p.data["y"], dtype=np.float64)
    pred = x @ _product(p.params).T
    expected = np.mean(np.sum(0.5 * (y - pred) ** 2 + 0.5 * np.log(2 * np.pi), axis=1))
    np.testing.assert_allclose(float(p.loss_fn(p.params, p.data)), expected, rtol=1e-5)


def test_loss_at_teacher_is_the_noise_entropy():
    # At the teacher the residual is the noise: L_n = mean(½‖ε‖²) + (N/2) log 2π with
    # ‖ε‖² ~ χ²_N, whose half has variance N/2. So L_n - (N/2)(1 + log 2π) has standard
    # deviation sqrt(N / (2n)) = 0.0079 for N = 5, n = 40000; allow four of them.
    n, widths = 40_000, [3, 4, 6, 5]
    p = dln.make(widths, 2, n=n, seed=5)
    out = widths[-1]
    expected = 0.5 * out * (1 + np.log(2 * np.pi))
    sd = np.sqrt(out / (2 * n))
    assert abs(float(p.loss_fn(p.params, p.data)) - expected) < 4 * sd


@pytest.mark.parametrize(("widths", "r"), [([5, 4, 3, 5], 2), ([4, 6, 5, 3, 4], 3), ([4, 3], 1)])
def test_trained_is_lower_and_nearly_stationary(widths, r):
    teacher = dln.make(widths, r, n=2000, seed=1)
    trained = dln.make(widths, r, n=2000, seed=1, w_star="trained")
    np.testing.assert_array_equal(np.asarray(teacher.data["y"]), np.asarray(trained.data["y"]))
    assert float(trained.loss_fn(trained.params, trained.data)) < float(
        teacher.loss_fn(teacher.params, teacher.data)
    )
    g_teacher, g_trained = _max_abs_grad(teacher), _max_abs_grad(trained)
    assert g_teacher > 1e-3  # O(n^-1/2) at the teacher
    assert g_trained < 1e-5  # gradient descent reaches float32 round-off
    assert trained.params["W0"].dtype == jnp.float32


def test_trained_from_zero_teacher_stays_at_the_critical_point():
    p = dln.make([4, 3, 4], 0, n=200, seed=0, w_star="trained")
    assert all(float(jnp.max(jnp.abs(w))) == 0.0 for w in p.params.values())


def test_random_widths_ranges():
    rng = np.random.default_rng(0)
    draws = [dln.random_widths(rng, num_layers=(2, 4), width=(3, 6)) for _ in range(200)]
    assert {len(w) - 1 for w in draws} == {2, 3, 4}
    assert {h for w in draws for h in w} == {3, 4, 5, 6}
    assert all(type(h) is int for w in draws for h in w)
    assert dln.random_widths(rng, num_layers=(1, 1), width=(7, 7)) == [7, 7]


def test_random_network_reproducible_and_consistent():
    a = dln.random_network(11, n=50)
    b = dln.random_network(11, n=50)
    assert a.name == b.name and a.exact == b.exact
    for k in a.params:
        np.testing.assert_array_equal(np.asarray(a.params[k]), np.asarray(b.params[k]))
    np.testing.assert_array_equal(np.asarray(a.data["y"]), np.asarray(b.data["y"]))
    names = {dln.random_network(s, n=5).name for s in range(12)}
    assert len(names) > 6
    # the stated rank is the rank of the teacher product, and the exact value matches it
    for s in range(12):
        p = dln.random_network(s, n=5, num_layers=(1, 4), width=(1, 6))
        widths = [p.params["W0"].shape[1]] + [
            p.params[f"W{i}"].shape[0] for i in range(len(p.params))
        ]
        r = np.linalg.matrix_rank(_product(p.params), tol=1e-4)
        assert p.name == f"dln(widths={widths},r={r})"
        assert p.exact == exact_dln(widths, r)


def test_random_network_draws_reduced_ranks():
    # Each layer is rank-reduced with probability 1/2, so r < min(widths) is common.
    ranks = []
    for s in range(40):
        p = dln.random_network(s, n=1, num_layers=(3, 3), width=(4, 4))
        ranks.append(int(p.name.rsplit("r=", 1)[1].rstrip(")")))
    assert 4 in ranks and min(ranks) < 4
    assert 0.5 < np.mean(np.array(ranks) < 4) < 1.0  # P(some of 3 layers reduced) = 7/8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": [3, 3, 3], "r": 1, "w_star": "best"}, "w_star"),
        ({"widths": [3, 2, 3], "r": 3}, r"^r must be an integer with 0 <= r <= 2"),
        ({"widths": [3], "r": 0}, "^widths"),
        ({"widths": [3, 0, 3], "r": 0}, r"^widths\[1\]"),
        ({"widths": [3, 3], "r": 1, "n": 0}, "^n must be"),
        ({"widths": [3, 3], "r": 1, "seed": -1}, "^seed must be"),
        ({"widths": [3, 3], "r": 1, "steps": -1, "w_star": "trained"}, "^steps must be"),
    ],
)
def test_make_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dln.make(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_layers": (0, 2)}, r"^num_layers\[0\]"),
        ({"num_layers": (3, 2)}, r"^num_layers\[1\] must be an integer with 3 <= "),
        ({"num_layers": 3}, "^num_layers must be a pair"),
        ({"width": (0, 4)}, r"^width\[0\]"),
        ({"width": (2.0, 4)}, r"^width\[0\]"),
    ],
)
def test_random_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dln.random_widths(np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match=match):
        dln.random_network(0, n=5, **kwargs)
