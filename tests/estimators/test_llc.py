"""The estimator's arithmetic on constructed traces."""

import numpy as np
import pytest
from arviz_stats.base import array_stats

from slt.estimators.llc import estimate_llc


def test_constant_offset_trace_gives_the_formula():
    # loss = init + c on every draw: llc = nbeta * c exactly, whatever the chains.
    init = np.array([1.0, 2.0, 3.0])
    trace = init[:, None] + 0.25 + np.zeros((3, 50))
    trace += np.random.default_rng(0).normal(size=(3, 50)) * 1e-12
    est = estimate_llc(trace, init, nbeta=8.0)
    np.testing.assert_allclose(est.llc, 2.0, rtol=1e-9)
    np.testing.assert_allclose(est.llc_per_chain, [2.0, 2.0, 2.0], rtol=1e-9)


def test_per_chain_values_and_mean():
    rng = np.random.default_rng(1)
    trace = rng.normal(size=(4, 200)) + np.array([[0.0], [1.0], [2.0], [3.0]])
    est = estimate_llc(trace, 0.5, nbeta=2.0)
    expected = 2.0 * (trace.mean(axis=1) - 0.5)
    np.testing.assert_allclose(est.llc_per_chain, expected)
    np.testing.assert_allclose(est.llc, expected.mean())


def test_mcse_uses_ess_not_chain_spread():
    # AR(1) chains with strong autocorrelation: the MCSE must exceed the iid sd/sqrt(N) and match
    # nbeta times arviz-stats' MCSE of the mean; an iid formula would be far too small.
    rng = np.random.default_rng(2)
    phi, chains, draws = 0.95, 4, 4000
    x = np.zeros((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=chains)
    est = estimate_llc(x, 0.0, nbeta=3.0)
    iid = 3.0 * x.std() / np.sqrt(x.size)
    assert est.mcse > 3 * iid  # integrated autocorrelation time of AR(1) is (1+phi)/(1-phi) = 39
    np.testing.assert_allclose(
        est.mcse, 3.0 * array_stats.mcse(x, chain_axis=0, draw_axis=1, method="mean")
    )
    # Independent check against the AR(1) asymptotic variance of the mean: sd^2 (1+phi)/(1-phi) / N.
    theory = 3.0 * np.sqrt((1 / (1 - phi**2)) * (1 + phi) / (1 - phi) / x.size)
    assert abs(est.mcse / theory - 1) < 0.3


def test_excluded_chains_are_left_out():
    trace = np.ones((3, 10))
    trace[1] = 100.0
    est = estimate_llc(trace, 0.0, nbeta=1.0, chains_used=np.array([True, False, True]))
    assert est.llc == pytest.approx(1.0)
    assert np.isnan(est.llc_per_chain[1])
    assert est.chains_used.tolist() == [True, False, True]


def test_errors():
    with pytest.raises(ValueError, match="loss_trace"):
        estimate_llc(np.ones(5), 0.0, nbeta=1.0)
    with pytest.raises(ValueError, match="chains_used"):
        estimate_llc(np.ones((2, 5)), 0.0, nbeta=1.0, chains_used=np.array([False, False]))


def test_block_averaging_exposes_a_slow_component_hidden_by_fast_noise():
    # A slow AR(1) signal (phi = 0.999, sd 0.1) under iid noise of sd 3: the raw-trace ESS is
    # near the draw count (the noise dominates the autocorrelation estimate), so the MCSE is
    # optimistic. Block means over 50 draws remove most of the noise and reveal the slow part.
    rng = np.random.default_rng(3)
    chains, draws, phi = 4, 20000, 0.999
    slow = np.zeros((chains, draws))
    for t in range(1, draws):
        slow[:, t] = phi * slow[:, t - 1] + rng.normal(size=chains) * 0.1 * np.sqrt(1 - phi**2)
    trace = slow + rng.normal(size=(chains, draws)) * 3.0
    raw = estimate_llc(trace, 0.0, nbeta=1.0)
    blocked = estimate_llc(trace, 0.0, nbeta=1.0, block=50)
    # true MCSE of the mean: sqrt(var_slow * (1+phi)/(1-phi) + var_noise) / sqrt(N)
    truth = np.sqrt(0.01 * (1 + phi) / (1 - phi) + 9.0) / np.sqrt(trace.size)
    assert raw.mcse < 0.8 * truth  # the raw trace under-reports
    assert abs(blocked.mcse / truth - 1) < 0.5
    assert blocked.llc == raw.llc
    with pytest.raises(ValueError, match="block"):
        estimate_llc(trace, 0.0, nbeta=1.0, block=0)
