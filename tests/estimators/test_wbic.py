"""WBIC and the posterior mean on constructed traces."""

import math

import numpy as np
import pytest
from arviz_stats.base import array_stats

from slt.estimators.base import Estimate
from slt.estimators.wbic import posterior_mean, wbic, wbic_beta


def test_wbic_beta():
    assert wbic_beta(1000) == pytest.approx(1 / math.log(1000))
    assert wbic_beta(2) == pytest.approx(1 / math.log(2))
    with pytest.raises(ValueError, match="n must"):
        wbic_beta(1)


def test_posterior_mean_and_mcse_match_arviz_stats():
    rng = np.random.default_rng(0)
    phi, x = 0.9, np.zeros((4, 2000))
    for t in range(1, x.shape[1]):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=4)
    energy = 50.0 + x
    est = posterior_mean(energy)
    assert isinstance(est, Estimate)
    assert est.value == pytest.approx(energy.mean())
    assert est.se == pytest.approx(array_stats.mcse(energy, chain_axis=0, draw_axis=1))
    assert est.se > 2 * energy.std() / math.sqrt(energy.size)  # autocorrelation counts


def test_wbic_is_the_mean_energy():
    # Gamma(k, rate beta) is the tempered energy of a density of states ~ E^(k-1): mean k/beta.
    n, k = 1000, 3.0
    beta = wbic_beta(n)
    energy = np.random.default_rng(1).gamma(k, 1 / beta, size=(4, 2500))
    est = wbic(energy)
    assert abs(est.value - k / beta) < 5 * est.se
    assert est == posterior_mean(energy)


@pytest.mark.parametrize(
    "bad, match",
    [(np.ones(10), "shape"), (np.ones((2, 2)), "draws"), (np.full((2, 5), np.nan), "finite")],
)
def test_errors(bad, match):
    with pytest.raises(ValueError, match=f"energy.*{match}"):
        wbic(bad)
