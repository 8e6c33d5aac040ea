"""Global RLCT estimators on constructed energies with known answers.

The Gamma family: if the "density of states" (the prior volume of {w : nL_n(w) - nL_n(w0) ~ E})
is proportional to E^(k-1), the tempered posterior energy E = nL_n - nL_n(w0) is Gamma(shape k,
rate beta), so E^beta[nL_n] = nL_n(w0) + k/beta and beta^2 Var^beta[nL_n] = k exactly: the
local-energy picture of a model with RLCT lambda = k and multiplicity m = 1 (Watanabe 2009, the
state density v(t) ~ t^(lambda-1) (log t)^(m-1)).
"""

import math

import numpy as np
import pytest

from slt.estimators.rlct import (
    ReweightingWarning,
    multi_temperature,
    multi_temperature_reweighted,
    reweight,
    temperature_band,
    two_temperature,
    variance_rlct,
)

N_DATA = 1000
BETA = 1 / math.log(N_DATA)
OFFSET = 700.0  # nL_n(w0)


def gamma_energy(k, beta, shape=(4, 5000), seed=0):
    return OFFSET + np.random.default_rng(seed).gamma(k, 1 / beta, size=shape)


def test_temperature_band_n1000():
    band = temperature_band(N_DATA)
    log_n = math.log(N_DATA)
    half = 1 / math.sqrt(2 * log_n)
    assert band.shape == (8,)
    assert band[0] == pytest.approx((1 - half) / log_n)
    assert band[-1] == pytest.approx((1 + half) / log_n)
    assert band.mean() == pytest.approx(1 / log_n)
    assert temperature_band(N_DATA, 9)[4] == pytest.approx(1 / log_n)
    assert np.allclose(np.diff(band), np.diff(band)[0])
    with pytest.raises(ValueError, match="n must"):
        temperature_band(1)
    with pytest.raises(ValueError, match="num must"):
        temperature_band(N_DATA, 1)


def test_multi_temperature_exact_line():
    betas = temperature_band(N_DATA)
    energies = 812.5 + 6.5 / betas
    for se in (None, np.full(8, 0.3)):
        est = multi_temperature(betas, energies, se)
        assert est.rlct == pytest.approx(6.5, abs=1e-10)
        assert est.intercept == pytest.approx(812.5, abs=1e-10)
        assert est.method == "multi_temperature"
        assert not est.reweighted and math.isnan(est.max_shift)


def test_multi_temperature_se_matches_spread():
    rng = np.random.default_rng(0)
    betas = temperature_band(N_DATA)
    sigma = np.linspace(0.2, 0.6, 8)
    truth = 300.0 + 4.0 / betas
    fits = [
        multi_temperature(betas, truth + sigma * rng.normal(size=8), sigma) for _ in range(2000)
    ]
    slopes = np.array([f.rlct for f in fits])
    ses = np.array([f.se for f in fits])
    propagated = 1 / math.sqrt(
        np.sum(sigma**-2 * (1 / betas - np.average(1 / betas, weights=sigma**-2)) ** 2)
    )
    # The reported se is max(propagated, residual-based): never below the propagated one, and its
    # median is the propagated one (P[chi2_6 / 6 < 1] > 1/2).
    assert np.all(ses >= propagated * (1 - 1e-12))
    assert np.median(ses) == pytest.approx(propagated)
    assert slopes.std() == pytest.approx(propagated, rel=0.1)
    assert slopes.mean() == pytest.approx(4.0, abs=4 * propagated / math.sqrt(2000))


def test_multi_temperature_unweighted_se_is_residual_based():
    rng = np.random.default_rng(1)
    betas = np.linspace(0.1, 0.2, 10)
    slopes, ses = [], []
    for _ in range(2000):
        fit = multi_temperature(betas, 3.0 / betas + 0.5 * rng.normal(size=10))
        slopes.append(fit.rlct)
        ses.append(fit.se)
    assert np.sqrt(np.mean(np.square(ses))) == pytest.approx(np.std(slopes), rel=0.1)
    assert math.isnan(multi_temperature([0.1, 0.2], [30.0, 15.0]).se)


def test_multi_temperature_errors():
    with pytest.raises(ValueError, match="betas.*distinct"):
        multi_temperature([0.1, 0.1], [1.0, 2.0])
    with pytest.raises(ValueError, match="betas.*> 0"):
        multi_temperature([-0.1, 0.1], [1.0, 2.0])
    with pytest.raises(ValueError, match="betas.*at least 2"):
        multi_temperature([0.1], [1.0])
    with pytest.raises(ValueError, match="energies"):
        multi_temperature([0.1, 0.2], [1.0, np.nan])
    with pytest.raises(ValueError, match="energy_se"):
        multi_temperature([0.1, 0.2], [1.0, 2.0], [0.0, 1.0])


def test_two_temperature():
    est = two_temperature(0.1, 500 + 3 / 0.1, 0.3, 0.2, 500 + 3 / 0.2, 0.4)
    assert est.rlct == pytest.approx(3.0)
    assert est.intercept == pytest.approx(500.0)
    assert est.se == pytest.approx(0.5 / 5.0)
    assert est.method == "two_temperature"
    # It is the J = 2 regression.
    reg = multi_temperature([0.1, 0.2], [530.0, 515.0], [0.3, 0.4])
    assert reg.rlct == pytest.approx(est.rlct) and reg.se == pytest.approx(est.se)
    with pytest.raises(ValueError, match="beta1, beta2"):
        two_temperature(0.1, 1.0, 0.1, 0.1, 2.0, 0.1)
    with pytest.raises(ValueError, match="se1 and se2"):
        two_temperature(0.1, 1.0, -0.1, 0.2, 2.0, 0.1)


def test_reweight_gamma_family():
    k = 4.0
    energy = gamma_energy(k, BETA)
    targets = temperature_band(N_DATA, 5)
    means, ses, shifts = reweight(energy, BETA, targets)
    assert means.shape == ses.shape == shifts.shape == (5,)
    z = (means - (OFFSET + k / targets)) / ses
    assert np.all(np.abs(z) < 5)
    np.testing.assert_allclose(shifts, np.abs(targets - BETA) * energy.std(ddof=1))
    # At the sampled temperature: the plain mean, with its iid error (the draws are iid).
    m0, s0, sh0 = reweight(energy, BETA, BETA)
    assert m0.shape == () and float(sh0) == 0.0
    assert float(m0) == pytest.approx(energy.mean())
    assert float(s0) == pytest.approx(energy.std() / math.sqrt(energy.size), rel=0.05)


def test_reweight_se_matches_spread():
    k, target = 4.0, BETA * 1.2
    means = []
    for seed in range(200):
        m, s, _ = reweight(gamma_energy(k, BETA, (2, 500), seed), BETA, target)
        means.append(float(m))
        if seed == 0:
            se0 = float(s)
    assert np.std(means) == pytest.approx(se0, rel=0.25)
    assert np.mean(means) == pytest.approx(OFFSET + k / target, abs=3 * se0 / math.sqrt(50))


def test_reweight_errors():
    with pytest.raises(ValueError, match="energy"):
        reweight(np.ones(10), BETA, BETA)
    with pytest.raises(ValueError, match="beta_from"):
        reweight(np.ones((2, 10)), 0.0, BETA)
    with pytest.raises(ValueError, match="beta_to"):
        reweight(np.ones((2, 10)), BETA, [BETA, np.inf])


def test_multi_temperature_reweighted_gamma_family():
    k = 4.0  # shift = half-band * sqrt(k) = 0.27 * 2 = 0.54 < 1
    ests = [
        multi_temperature_reweighted(
            gamma_energy(k, BETA, (2, 1000), s), BETA, temperature_band(N_DATA)
        )
        for s in range(300)
    ]
    est = ests[0]
    assert est.reweighted and est.trustworthy and est.method == "multi_temperature_reweighted"
    assert est.max_shift == pytest.approx(0.54, abs=0.05)
    assert abs(est.rlct - k) < 5 * est.se
    assert est.intercept == pytest.approx(OFFSET, abs=5 * est.se / BETA)
    # The joint (correlated) delta-method se matches the spread over replicates (0.93-1.09 over
    # seed sets; propagating the per-temperature errors as if independent would not).
    rlcts = np.array([e.rlct for e in ests])
    assert rlcts.std() == pytest.approx(np.mean([e.se for e in ests]), rel=0.2)
    # Close to the specific-heat estimator on the same draws.
    energy = gamma_energy(k, BETA, (2, 1000), 0)
    assert est.rlct == pytest.approx(variance_rlct(energy, BETA).value, rel=0.1)


def test_wide_shift_warns():
    energy = gamma_energy(50.0, BETA, (2, 500))  # shift ~ 0.27 * sqrt(50) = 1.9
    with pytest.warns(ReweightingWarning, match="narrow the temperature band"):
        est = multi_temperature_reweighted(energy, BETA, temperature_band(N_DATA))
    assert not est.trustworthy
    assert est.max_shift > 1.5


def test_variance_rlct_gamma_family():
    # Gamma(k, rate beta) energies: beta^2 Var = beta^2 k / beta^2 = k, the RLCT of a model whose
    # density of states is ~ E^(k-1) (lambda = k, m = 1).
    for k in (0.5, 3.0, 8.0):
        est = variance_rlct(gamma_energy(k, BETA, (4, 5000), seed=int(k * 10)), BETA)
        assert abs(est.value - k) < 5 * est.se
        assert est.se < 0.1 * k


def test_variance_rlct_se_matches_spread():
    vals, ses = [], []
    for seed in range(300):
        est = variance_rlct(gamma_energy(2.0, BETA, (2, 500), seed), BETA)
        vals.append(est.value)
        ses.append(est.se)
    assert np.std(vals) == pytest.approx(np.mean(ses), rel=0.15)


def test_variance_rlct_errors():
    with pytest.raises(ValueError, match="beta"):
        variance_rlct(np.ones((2, 10)), -1.0)
    with pytest.raises(ValueError, match="energy"):
        variance_rlct(np.ones((2, 10, 3)), BETA)
