"""The exact Gibbs referee against quadrature: noise-free posteriors and a scalar one with data."""

import math

import numpy as np
import pytest

from slt.validation.finite_n import rrr_zero_truth_g
from slt.validation.gibbs import rrr_gibbs


def _population(M, N, H, n):
    # K(w) at n observations: gram = n I, coef = 0 (the truth BA = 0), no residual noise.
    return {
        "gram": n * np.eye(M),
        "coef": np.zeros((N, M)),
        "rss": np.asarray(0.0),
        "n_obs": np.asarray(float(n)),
    }


@pytest.mark.parametrize(("M", "N", "H"), [(3, 2, 1), (3, 3, 2)])
def test_noise_free_zero_truth_matches_the_eigenvalue_quadrature(M, N, H):
    n, beta = 10_000, 0.3 / math.log(10_000)
    truth = {"A": np.zeros((H, M)), "B": np.zeros((N, H))}
    run = rrr_gibbs(_population(M, N, H, n), beta, truth=truth, num_draws=4000, num_burnin=400)
    expected = rrr_zero_truth_g(M, N, H, np.array([n * beta]))[0]
    assert run.energy.shape == (8, 4000)
    # 4 standard errors of the chains' own MCSE (about 0.005 at H = 1, 0.01 at H = 2)
    assert abs(run.statistic.value - expected) < 4 * run.statistic.se
    assert run.statistic.se < 0.02


def test_scalar_model_with_data_and_a_shifted_prior_matches_2d_quadrature():
    # M = N = H = 1: n beta L_n = (beta/2) g (ab - c)^2 + const, prior a ~ N(1, 1), b ~ N(0.5, 1).
    g, c, beta = 50.0, 0.8, 0.5
    stats = {
        "gram": np.array([[g]]),
        "coef": np.array([[c]]),
        "rss": np.asarray(3.0),
        "n_obs": np.asarray(50.0),
    }
    truth = {"A": np.array([[1.0]]), "B": np.array([[0.8]])}
    center = {"A": np.array([[1.0]]), "B": np.array([[0.5]])}
    run = rrr_gibbs(stats, beta, truth=truth, center=center, num_draws=6000, num_burnin=500)

    # trapezoid rule on a 3001^2 grid over [-9, 9]^2: the ridge ab = c is about 0.2 wide
    # across, resolved by the 0.006 spacing
    x = np.linspace(-9.0, 9.0, 3001)
    aa, bb = np.meshgrid(x, x, indexing="ij")
    kk = 0.5 * g * (aa * bb - c) ** 2
    w = np.exp(-beta * kk - 0.5 * (aa - 1.0) ** 2 - 0.5 * (bb - 0.5) ** 2)
    k_true = 0.5 * g * (1.0 * 0.8 - c) ** 2
    expected = beta * (np.sum(w * kk) / np.sum(w) - k_true)
    assert abs(run.statistic.value - expected) < 4 * run.statistic.se


def test_bad_arguments_raise():
    stats = _population(2, 2, 1, 10)
    truth = {"A": np.zeros((1, 2)), "B": np.zeros((2, 1))}
    with pytest.raises(ValueError, match="beta must be"):
        rrr_gibbs(stats, 0.0, truth=truth)
    with pytest.raises(ValueError, match="num_draws"):
        rrr_gibbs(stats, 1.0, truth=truth, num_draws=1)
    with pytest.raises(ValueError, match="shapes disagree"):
        rrr_gibbs(stats, 1.0, truth={"A": np.zeros((1, 3)), "B": np.zeros((2, 1))})
