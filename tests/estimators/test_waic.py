"""WAIC on constructed log-likelihoods."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from slt.estimators.waic import waic


def test_constant_over_draws_has_no_functional_variance():
    per_obs = -np.array([0.5, 1.0, 2.0, 3.5])
    ll = np.broadcast_to(per_obs, (3, 7, 4))
    res = waic(ll, beta=0.7)
    assert res.functional_variance == pytest.approx(0.0, abs=1e-12)
    assert res.singular_fluctuation == pytest.approx(0.0, abs=1e-12)
    assert res.training_loss == pytest.approx(-per_obs.mean())
    assert res.waic == pytest.approx(res.training_loss)
    assert res.elpd_waic == pytest.approx(per_obs.sum())
    assert res.se == pytest.approx(math.sqrt(4 * np.var(per_obs)))


def test_against_a_direct_loop():
    rng = np.random.default_rng(0)
    ll = rng.normal(-1.0, 0.5, size=(2, 50, 6)) + rng.normal(size=6)
    beta = 0.4
    samples = ll.reshape(-1, 6)
    s, n = samples.shape
    lppd = [math.log(sum(math.exp(v) for v in samples[:, i]) / s) for i in range(n)]
    var = [float(np.mean((samples[:, i] - samples[:, i].mean()) ** 2)) for i in range(n)]
    t_n = -sum(lppd) / n
    v_n = sum(var)
    res = waic(ll, beta=beta)
    assert res.training_loss == pytest.approx(t_n)
    assert res.functional_variance == pytest.approx(v_n)
    assert res.waic == pytest.approx(t_n + beta / n * v_n)
    assert res.singular_fluctuation == pytest.approx(beta / 2 * v_n)
    assert res.elpd_waic == pytest.approx(-n * (t_n + beta / n * v_n))
    assert res.p_waic == pytest.approx(v_n)
    pointwise = -np.array(lppd) + beta * np.array(var)
    assert res.se == pytest.approx(math.sqrt(n * np.var(pointwise)))


def test_arviz_convention_at_beta_one():
    # elpd_waic = lppd - p_waic at beta = 1 (Vehtari, Gelman & Gabry 2017, Statistics and
    # Computing 27:1413); arviz-stats 1.x has no waic function to compare with, so the identity
    # is checked directly.
    ll = np.random.default_rng(1).normal(-2.0, 0.3, size=(4, 100, 20))
    flat = ll.reshape(-1, 20)
    lppd = float(np.sum(logsumexp(flat, axis=0) - math.log(flat.shape[0])))
    res = waic(ll)
    assert res.elpd_waic == pytest.approx(lppd - res.p_waic)


def test_regular_model_singular_fluctuation_is_about_d_over_2():
    # Gaussian mean, unit variance, flat-ish prior, exact posterior N(xbar, 1/n): nu -> d/2 = 1/2.
    rng = np.random.default_rng(2)
    n = 200
    z = rng.normal(size=n)
    w = rng.normal(z.mean(), 1 / math.sqrt(n), size=(4, 2000))
    ll = -0.5 * (z[None, None, :] - w[..., None]) ** 2 - 0.5 * math.log(2 * math.pi)
    assert waic(ll).singular_fluctuation == pytest.approx(0.5, rel=0.2)


def test_errors():
    with pytest.raises(ValueError, match="log_lik.*shape"):
        waic(np.ones((3, 4)))
    with pytest.raises(ValueError, match="log_lik.*2 draws"):
        waic(np.ones((1, 1, 4)))
    with pytest.raises(ValueError, match="log_lik.*finite"):
        waic(np.full((2, 3, 4), -np.inf))
    with pytest.raises(ValueError, match="beta"):
        waic(np.ones((2, 3, 4)), beta=0.0)
