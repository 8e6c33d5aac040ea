"""Each posterior piece on its own, then their composition, against numpy and jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.posterior import (
    Posterior,
    evaluate,
    gaussian_prior,
    localization,
    localized_posterior,
    sum_log_densities,
    tempered_likelihood,
)


def _flat(t):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(t)])


def _params(seed):
    rng = np.random.default_rng(seed)
    return {
        "a": jnp.asarray(rng.normal(size=(2, 3)), jnp.float32),
        "b": {"c": jnp.asarray(rng.normal(size=(3,)), jnp.float32)},
    }


def _loss_fn(w, batch):
    # a nonquadratic mean negative log-likelihood of a tiny model: y ~ N(tanh(x A) . c, 1)
    pred = jnp.tanh(batch["x"] @ w["a"]) @ w["b"]["c"]
    return 0.5 * jnp.mean((pred - batch["y"]) ** 2)


def _batch(seed, n=7):
    rng = np.random.default_rng(seed)
    return {
        "x": jnp.asarray(rng.normal(size=(n, 2)), jnp.float32),
        "y": jnp.asarray(rng.normal(size=(n,)), jnp.float32),
    }


def test_tempered_likelihood():
    w, batch = _params(0), _batch(1)
    lik, loss = tempered_likelihood(_loss_fn, nbeta=37.5)(w, batch)
    expected = float(_loss_fn(w, batch))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)
    np.testing.assert_allclose(float(lik), -37.5 * expected, rtol=1e-6)
    assert lik.shape == () and loss.shape == ()


def test_localization_value_and_gradient():
    center, w = _params(2), _params(3)
    gamma = 3.7
    fn = localization(center, gamma=gamma)
    val, grad = jax.value_and_grad(fn)(center)
    assert float(val) == 0.0
    np.testing.assert_array_equal(_flat(grad), 0.0)
    d = _flat(w) - _flat(center)
    np.testing.assert_allclose(float(fn(w)), -0.5 * gamma * d @ d, rtol=1e-5)
    np.testing.assert_allclose(_flat(jax.grad(fn)(w)), -gamma * d, rtol=1e-5, atol=1e-6)
    assert float(localization(center, gamma=0.0)(w)) == 0.0


def test_gaussian_prior_value():
    w, mean = _params(4), _params(5)
    sigma = 0.7
    x = _flat(w)
    np.testing.assert_allclose(
        float(gaussian_prior(scale=sigma)(w)), -(x @ x) / (2 * sigma**2), rtol=1e-5
    )
    d = x - _flat(mean)
    np.testing.assert_allclose(
        float(gaussian_prior(scale=sigma, mean=mean)(w)), -(d @ d) / (2 * sigma**2), rtol=1e-5
    )
    assert float(gaussian_prior(scale=sigma, mean=mean)(mean)) == 0.0


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_gaussian_prior_rejects_nonpositive_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        gaussian_prior(scale=scale)


def test_sum_log_densities():
    w, center = _params(6), _params(7)
    empty = sum_log_densities()
    assert float(empty(w)) == 0.0
    np.testing.assert_array_equal(_flat(jax.grad(empty)(w)), 0.0)
    loc = localization(center, gamma=2.0)
    prior = gaussian_prior(scale=1.5)
    total = sum_log_densities(loc, prior)
    np.testing.assert_allclose(float(total(w)), float(loc(w)) + float(prior(w)), rtol=1e-6)
    np.testing.assert_allclose(float(sum_log_densities(loc)(w)), float(loc(w)), rtol=1e-6)


def test_posterior_logdensity():
    w, center, batch = _params(8), _params(9), _batch(10)
    prior = sum_log_densities(localization(center, gamma=5.0), gaussian_prior(scale=2.0))
    post = Posterior(_loss_fn, 12.0, prior)
    lp, loss = post.logdensity(w, batch)
    np.testing.assert_allclose(float(loss), float(_loss_fn(w, batch)), rtol=1e-6)
    np.testing.assert_allclose(
        float(lp), -12.0 * float(_loss_fn(w, batch)) + float(prior(w)), rtol=1e-5
    )
    # localized_posterior builds the same thing
    post2 = localized_posterior(
        _loss_fn, center, nbeta=12.0, gamma=5.0, prior=gaussian_prior(scale=2.0)
    )
    np.testing.assert_allclose(float(post2.logdensity(w, batch)[0]), float(lp), rtol=1e-6)
    post3 = localized_posterior(_loss_fn, center, nbeta=12.0, gamma=5.0)
    np.testing.assert_allclose(
        float(post3.logdensity(w, batch)[0]),
        -12.0 * float(_loss_fn(w, batch)) + float(localization(center, gamma=5.0)(w)),
        rtol=1e-5,
    )


def test_evaluate_matches_jax_grad():
    w, center, batch = _params(11), _params(12), _batch(13)
    post = localized_posterior(
        _loss_fn, center, nbeta=25.0, gamma=3.0, prior=gaussian_prior(scale=1.3)
    )
    ev = jax.jit(lambda w: evaluate(post, w, batch))(w)
    loss, loss_grad = jax.value_and_grad(_loss_fn)(w, batch)
    (lp, _), lp_grad = jax.value_and_grad(post.logdensity, has_aux=True)(w, batch)
    np.testing.assert_allclose(float(ev.loss), float(loss), rtol=1e-6)
    np.testing.assert_allclose(float(ev.logdensity), float(lp), rtol=1e-5)
    assert jax.tree.structure(ev.loss_grad) == jax.tree.structure(w)
    assert jax.tree.structure(ev.logdensity_grad) == jax.tree.structure(w)
    np.testing.assert_allclose(_flat(ev.loss_grad), _flat(loss_grad), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_flat(ev.logdensity_grad), _flat(lp_grad), rtol=1e-5, atol=1e-5)
    # the identity grad log p = -nbeta grad L + grad log prior
    expected = -25.0 * _flat(loss_grad) + _flat(jax.grad(post.log_prior)(w))
    np.testing.assert_allclose(_flat(ev.logdensity_grad), expected, rtol=1e-5, atol=1e-5)
