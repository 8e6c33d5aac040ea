"""sample_tempered against the conjugate Gaussian-mean model, where E^β[nL_n] is exact."""

import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from arviz_stats.base import array_stats

from slt.workflows.tempered import sample_tempered, wbic_beta

S = 2.0  # prior sd


def model(x):
    w = numpyro.sample("w", dist.Normal(0.0, S))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", dist.Normal(w, 1.0), obs=x)


def exact_energy(x, beta):
    """E^β[nL_n] for x_i ~ N(w, 1), w ~ N(0, S²).

    The tempered posterior is N(m, 1/P) with P = 1/S² + nβ, m = β Σx / P, and
    nL_n(w) = ½Σ(x_i − x̄)² + (n/2)(x̄ − w)² + (n/2) log 2π, so
    E^β[nL_n] = ½Σ(x_i − x̄)² + (n/2)[(x̄ − m)² + 1/P] + (n/2) log 2π.
    """
    n, xbar = len(x), x.mean()
    P = 1 / S**2 + n * beta
    m = beta * x.sum() / P
    return (
        0.5 * np.sum((x - xbar) ** 2)
        + 0.5 * n * ((xbar - m) ** 2 + 1 / P)
        + 0.5 * n * np.log(2 * np.pi)
    )


@pytest.mark.parametrize("sampler", ["nuts", "mala"])
def test_energy_matches_the_closed_form(sampler):
    x = np.random.default_rng(0).normal(0.7, 1.0, size=200).astype(np.float32)
    beta = wbic_beta(len(x))
    fit = sample_tempered(model, {"x": x}, beta=beta, sampler=sampler, num_samples=1500)
    mcse = array_stats.mcse(fit.energy, chain_axis=0, draw_axis=1, method="mean")
    # 5 MCSE: a correct sampler fails with probability ~1e-6; a wrong temperature moves the
    # mean by (n/2)·Δ(1/P) ≈ 0.5·|Δβ|/β, tens of MCSE for |Δβ|/β = 0.1.
    assert abs(fit.energy.mean() - exact_energy(x.astype(np.float64), beta)) < 5 * mcse
    stats = fit.datatree["sample_stats"]
    for name in ["lp", "diverging", "acceptance_rate", "step_size", "loss"]:
        assert stats[name].dims == ("chain", "draw")
    assert fit.datatree["log_likelihood"]["obs"].shape == (4, 1500, 200)
    assert fit.n == 200 and fit.num_divergent == 0
    np.testing.assert_allclose(stats["loss"].values * 200, fit.energy, rtol=1e-5)


def test_bad_input():
    x = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="beta"):
        sample_tempered(model, {"x": x}, beta=0.0)
    with pytest.raises(ValueError, match="sampler"):
        sample_tempered(model, {"x": x}, beta=0.5, sampler="gibbs")
    with pytest.raises(ValueError, match="n must be"):
        wbic_beta(1)
