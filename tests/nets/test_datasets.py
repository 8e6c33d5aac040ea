"""Data sets and losses of slt.nets: shapes, dtypes, ranges, labels, determinism."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.nets import cross_entropy, digits, in_context_regression, modular_addition, mse


def test_digits_shapes_ranges_and_split():
    train, test = digits(test_fraction=0.2, seed=0)
    assert train["x"].shape == (1438, 8, 8, 1) and test["x"].shape == (359, 8, 8, 1)
    assert train["x"].dtype == np.float32 and train["y"].dtype == np.int32
    for part in (train, test):
        assert part["x"].min() >= 0.0 and part["x"].max() <= 1.0
        assert set(np.unique(part["y"])) == set(range(10))
    assert train["x"].max() == 1.0  # the brightest pixel, 16, scales to 1
    flat_train, _ = digits(flat=True, seed=0)
    np.testing.assert_array_equal(flat_train["x"], train["x"].reshape(-1, 64))
    # Train and test together are the whole data set, each image once.
    both = np.concatenate([train["x"].reshape(-1, 64), test["x"].reshape(-1, 64)])
    assert both.shape == (1797, 64)
    np.testing.assert_array_equal(np.sort(np.concatenate([train["y"], test["y"]])), np.sort(
        np.concatenate([digits(seed=3)[0]["y"], digits(seed=3)[1]["y"]])
    ))  # fmt: skip


def test_digits_determinism():
    a, _ = digits(seed=1)
    b, _ = digits(seed=1)
    c, _ = digits(seed=2)
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["y"], b["y"])
    assert not np.array_equal(a["y"], c["y"])
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.0)


def test_modular_addition_labels_and_coverage():
    p = 7
    train, test = modular_addition(p, train_fraction=0.3, seed=0)
    assert train["x"].shape == (15, 3) and test["x"].shape == (34, 3)
    for part in (train, test):
        assert part["x"].dtype == np.int32 and part["y"].dtype == np.int32
        np.testing.assert_array_equal(part["x"][:, 2], p)
        np.testing.assert_array_equal(part["y"], (part["x"][:, 0] + part["x"][:, 1]) % p)
    pairs = np.concatenate([train["x"][:, :2], test["x"][:, :2]])
    assert len({tuple(row) for row in pairs}) == p * p
    again, _ = modular_addition(p, train_fraction=0.3, seed=0)
    other, _ = modular_addition(p, train_fraction=0.3, seed=1)
    np.testing.assert_array_equal(train["x"], again["x"])
    assert not np.array_equal(train["x"], other["x"])


def test_in_context_regression_layout():
    k, d = 5, 3
    data = in_context_regression(4, num_points=k, dim=d, noise=0.0, seed=0)
    x, y, w = data["x"], data["y"], data["w"]
    assert x.shape == (4, 2 * k, d + 1) and y.shape == (4, k) and w.shape == (4, d)
    assert x.dtype == y.dtype == np.float32
    x_tokens, y_tokens = x[:, 0::2], x[:, 1::2]
    np.testing.assert_array_equal(x_tokens[..., d], 0.0)
    np.testing.assert_array_equal(y_tokens[..., :d], 0.0)
    np.testing.assert_array_equal(y_tokens[..., d], y)
    # Without noise, y = w·x exactly.
    np.testing.assert_allclose(y, np.einsum("npd,nd->np", x_tokens[..., :d], w), rtol=1e-5)
    noisy = in_context_regression(4, num_points=k, dim=d, noise=0.5, seed=0)
    np.testing.assert_array_equal(noisy["x"][:, 0::2], x_tokens)
    assert not np.allclose(noisy["y"], y)
    np.testing.assert_array_equal(
        in_context_regression(4, num_points=k, dim=d, seed=9)["x"],
        in_context_regression(4, num_points=k, dim=d, seed=9)["x"],
    )


def test_in_context_regression_task_scale():
    data = in_context_regression(2000, num_points=2, dim=8, noise=0.0, seed=0)
    # w ~ N(0, I/d) and x ~ N(0, I): w·x has unit variance whatever d.
    assert abs(float(np.var(data["y"])) - 1.0) < 0.1


def test_losses():
    logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = jnp.array([0, 2])
    manual = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(2), labels])
    np.testing.assert_allclose(cross_entropy(logits, labels), manual, rtol=1e-6)
    pred, target = jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]])
    np.testing.assert_allclose(mse(pred, target), 0.5 * (1.0 + 4.0) / 2)
