"""WBIC, RLCT, free energy and WAIC workflows on the conjugate Gaussian-mean model.

x_i ~ N(w, 1), w ~ N(0, S²): every tempered posterior is Gaussian, so E^β[nL_n] and the free
energy F_n have closed forms, and each workflow is compared with the exact value of the same
finite-n quantity (not with the asymptotic λ = 1/2).
"""

import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import slt.estimators.free_energy
import slt.io
from slt.estimators.rlct import temperature_band
from slt.report import render_html
from slt.workflows.global_theory import free_energy, rlct, waic, wbic
from slt.workflows.tempered import sample_tempered, wbic_beta

S = 2.0
X = np.random.default_rng(0).normal(0.7, 1.0, size=200).astype(np.float32)
N = len(X)
FAST = dict(num_chains=4, num_warmup=300, num_samples=800)


def model(x):
    w = numpyro.sample("w", dist.Normal(0.0, S))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", dist.Normal(w, 1.0), obs=x)


def exact_energy(beta):
    """E^β[nL_n] = ½Σ(x−x̄)² + (n/2)[(x̄−m)² + 1/P] + (n/2)log 2π, P = 1/S² + nβ, m = βΣx/P."""
    x = X.astype(np.float64)
    xbar, P = x.mean(), 1 / S**2 + N * beta
    m = beta * x.sum() / P
    return 0.5 * np.sum((x - xbar) ** 2) + 0.5 * N * ((xbar - m) ** 2 + 1 / P + np.log(2 * np.pi))


def exact_free_energy():
    """F_n = −log ∫ N(w|0,S²) Π N(x_i|w,1) dw, the Gaussian marginal likelihood in closed form."""
    x = X.astype(np.float64)
    cov = np.eye(N) + S**2
    sign, logdet = np.linalg.slogdet(cov)
    return 0.5 * (x @ np.linalg.solve(cov, x) + logdet + N * np.log(2 * np.pi))


def test_wbic_matches_the_exact_posterior_mean(tmp_path):
    fit = sample_tempered(model, {"x": X}, beta=wbic_beta(N), **FAST)
    res = wbic(fit)
    assert abs(res.value - exact_energy(wbic_beta(N))) < 5 * res.se
    # The saved DataTree holds the estimate itself, not only the fits behind it.
    slt.io.save(res.datatree, tmp_path / "wbic.nc")
    attrs = slt.load(tmp_path / "wbic.nc").attrs
    assert (attrs["estimator"], attrs["method"], attrs["n"]) == ("wbic", "wbic", N)
    assert (attrs["value"], attrs["se"]) == (res.value, res.se)
    assert res.datatree["t0"]["sample_stats"]["loss"].shape == (4, 800)
    with pytest.raises(ValueError, match="1/log n"):
        wbic(sample_tempered(model, {"x": X}, beta=0.5, **FAST))


@pytest.mark.parametrize("reweight", [False, True])
def test_multi_temperature_slope_matches_the_exact_slope(reweight):
    betas = temperature_band(N, 4)
    exact = np.polyfit(1 / betas, [exact_energy(b) for b in betas], 1)[0]
    res = rlct(model, {"x": X}, betas=betas, reweight=reweight, **FAST)
    # 5 standard errors of the slope (propagated from the energies' MCSE); a wrong temperature
    # in the tempering handler changes the slope by a factor, far outside this band.
    assert abs(res.value - exact) < 5 * res.se, (res.value, res.se, exact)
    assert res.details["reweighted"] is reweight
    if reweight:
        assert res.details["trustworthy"]
        # One fit, and the reweighted energies the slope was fitted to, for the report's figure.
        root = res.datatree.to_dataset()
        assert root.sizes["temperature"] == 1
        np.testing.assert_array_equal(root["reweighted_beta"], betas)
        np.testing.assert_array_equal(root["reweighted_energy_mean"], res.details["energies"])
        assert '<section id="energies">' in render_html(res.datatree)


def test_two_temperature_and_variance_run_and_are_near_half():
    two = rlct(model, {"x": X}, method="two_temperature", **FAST)
    var = rlct(model, {"x": X}, method="variance", **FAST)
    for est in (two, var):
        # regular model, d = 1: λ = 1/2; finite-n prior effects are O(1/(nβS²)) < 1%.
        assert abs(est.value - 0.5) < 5 * est.se + 0.01, est


def _quadrature_of_exact_energies(ts, rule):
    fe = slt.estimators.free_energy
    return fe.thermodynamic(ts, [exact_energy(t) for t in ts], rule=rule).value


def test_thermodynamic_integration_matches_the_same_quadrature_of_exact_energies():
    # Sampling error only: the same quadrature on the exact E^t[nL_n] is the reference (the
    # quadrature error is a property of the schedule, tested on exact energies below). The
    # default grid: 0, then geometric from 1e-5/n to 1.
    res = free_energy(model, {"x": X}, num_temperatures=3, **FAST)
    ts = np.array([0.0, 1e-5 / N, np.sqrt(1e-5 / N), 1.0])
    np.testing.assert_allclose(res.details["ts"], ts, rtol=1e-12)
    assert res.details["rule"] == "hyperbolic"
    assert abs(res.value - _quadrature_of_exact_energies(ts, "hyperbolic")) < 5 * res.se


def test_the_power_schedule_and_trapezoid_rule_on_request():
    res = free_energy(
        model, {"x": X}, num_temperatures=2, schedule="power", power=2.0, rule="trapezoid", **FAST
    )
    ts = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(res.details["ts"], ts)
    assert abs(res.value - _quadrature_of_exact_energies(ts, "trapezoid")) < 5 * res.se


def test_the_hyperbolic_rule_beats_the_trapezoid_on_exact_energies():
    # E^t[nL_n] of the conjugate model in closed form; the exact F_n is its marginal likelihood.
    fe = slt.estimators.free_energy
    for num in (8, 16):
        ts = fe.ti_schedule(num)
        errors = {
            rule: abs(_quadrature_of_exact_energies(ts, rule) - exact_free_energy())
            for rule in ("trapezoid", "hyperbolic")
        }
        assert errors["hyperbolic"] < 0.5 * errors["trapezoid"], errors


def test_the_default_schedule_integrates_exact_energies_to_a_hundredth():
    # 48 temperatures geometric from 1e-5/n with the a + b/t rule (slt.free_energy's defaults)
    # against 24 power-5 temperatures with the trapezoid (its defaults before 2026-11-25).
    fe = slt.estimators.free_energy
    default = _quadrature_of_exact_energies(fe.geometric_schedule(48, 1e-5 / N), "hyperbolic")
    old = _quadrature_of_exact_energies(fe.ti_schedule(24, 5.0), "trapezoid")
    assert abs(default - exact_free_energy()) < 0.01  # measured -0.005
    assert abs(old - exact_free_energy()) > 0.05  # measured +0.08


@pytest.mark.slow
def test_thermodynamic_integration_matches_the_marginal_likelihood():
    res = free_energy(model, {"x": X}, **FAST)  # the defaults: 48 geometric temperatures
    disc = abs(_quadrature_of_exact_energies(res.details["ts"], "hyperbolic") - exact_free_energy())
    assert disc < 0.01
    assert abs(res.value - exact_free_energy()) < 5 * res.se + disc


def test_waic_is_consistent_with_its_parts():
    fit = sample_tempered(model, {"x": X}, beta=1.0, **FAST)
    res = waic(fit)
    d = res.details
    np.testing.assert_allclose(res.value, d["training_loss"] + d["functional_variance"] / N)
    # The se is in the units of the value, W_n per observation: sd over observations of the
    # pointwise -log E_w p(x_i|w) + Var_w log p(x_i|w), over sqrt(n).
    ll = np.asarray(fit.datatree["log_likelihood"]["obs"]).reshape(-1, N)
    lppd = np.log(np.mean(np.exp(ll), axis=0))
    pointwise = -lppd + np.var(ll, axis=0)
    np.testing.assert_allclose(res.se, np.std(pointwise) / np.sqrt(N), rtol=1e-6)
    assert res.se < 0.2 * res.value  # not nW_n's se, n = 200 times larger
    # regular model at β = 1: ν = V_n/2 → d/2 = 1/2 (Watanabe 2010); sd of the plug-in is
    # about 0.1 at n = 200.
    assert abs(d["singular_fluctuation"] - 0.5) < 0.3


def test_bad_methods():
    with pytest.raises(ValueError, match="method"):
        rlct(model, {"x": X}, method="bic")
    with pytest.raises(ValueError, match="betas"):
        rlct(model, {"x": X}, betas=[0.1])
    with pytest.raises(ValueError, match="method"):
        free_energy(model, {"x": X}, method="harmonic")
    with pytest.raises(
        TypeError, match=r"rlct\(\) got unexpected keyword argument\(s\) 'num_temps'"
    ):
        rlct(model, {"x": X}, num_temps=3)  # a typo of num_temperatures
    with pytest.raises(TypeError, match=r"free_energy\(\) .* 'warmup'; .* num_warmup"):
        free_energy(model, {"x": X}, warmup=100)
    with pytest.raises(ValueError, match="schedule"):
        free_energy(model, {"x": X}, schedule="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="power sets schedule='power'"):
        free_energy(model, {"x": X}, power=3.0)
    with pytest.raises(ValueError, match="t_min sets schedule='geometric'"):
        free_energy(model, {"x": X}, schedule="power", t_min=1e-6)
    with pytest.raises(ValueError, match="t_min"):
        free_energy(model, {"x": X}, t_min=2.0)
