"""Free energy by thermodynamic integration and stepping stones on a conjugate Gaussian model.

Model: prior w ~ N(0, s^2) (normalised), data x_i ~ N(w, 1), i = 1..n. With xbar the mean and
S = sum_i (x_i - xbar)^2,

    nL_n(w) = -sum_i log N(x_i; w, 1) = C + (n/2)(w - xbar)^2,   C = (n/2) log(2 pi) + S/2.

Z(t) = int N(w; 0, s^2) exp(-t nL_n(w)) dw. Writing exp(-(a/2)(w - xbar)^2) with a = t n as
sqrt(2 pi / a) N(xbar; w, 1/a), the w-integral is the convolution N(xbar; 0, s^2 + 1/a), so

    F(t) = -log Z(t) = t C + (1/2) log(1 + t n s^2) + t n xbar^2 / (2 (1 + t n s^2)),
    E^t[nL_n] = F'(t) = C + n s^2 / (2 (1 + t n s^2)) + n xbar^2 / (2 (1 + t n s^2)^2),

finite at t = 0 (the prior mean of nL_n: C + (n/2)(s^2 + xbar^2)). The tempered posterior is
Gaussian with precision 1/s^2 + t n and mean t n xbar / (1/s^2 + t n).
"""

import math

import numpy as np
import pytest

from slt.estimators import free_energy as fe
from slt.estimators.free_energy import stepping_stone, thermodynamic, ti_schedule, trapezoid_weights

N, S_PRIOR = 100, 1.0


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).normal(0.3, 1.0, N)
    xbar = x.mean()
    c = N / 2 * math.log(2 * math.pi) + 0.5 * np.sum((x - xbar) ** 2)
    return xbar, c


def exact_f(t, xbar, c):
    a = 1 + t * N * S_PRIOR**2
    return t * c + 0.5 * np.log(a) + t * N * xbar**2 / (2 * a)


def exact_energy(t, xbar, c):
    a = 1 + t * N * S_PRIOR**2
    return c + N * S_PRIOR**2 / (2 * a) + N * xbar**2 / (2 * a**2)


def tempered_energy_draws(t, xbar, c, rng, shape=(2, 500)):
    precision = 1 / S_PRIOR**2 + t * N
    w = rng.normal(t * N * xbar / precision, 1 / math.sqrt(precision), size=shape)
    return c + N / 2 * (w - xbar) ** 2


def test_schedule():
    ts = ti_schedule(50)
    assert ts.shape == (51,) and ts[0] == 0.0 and ts[-1] == 1.0
    assert ts[1] == pytest.approx(50.0**-5)
    np.testing.assert_allclose(ti_schedule(4, power=1.0), [0, 0.25, 0.5, 0.75, 1])
    assert trapezoid_weights(ts).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="num"):
        ti_schedule(0)
    with pytest.raises(ValueError, match="power"):
        ti_schedule(5, power=-1.0)


def test_energy_formula_is_the_derivative(data):
    xbar, c = data
    h = 1e-9  # forward difference at t = 0, central elsewhere
    assert exact_energy(0.0, xbar, c) == pytest.approx(exact_f(h, xbar, c) / h, rel=1e-6)
    for t in (1e-3, 0.3, 1.0):
        h = 1e-6 * t
        numeric = (exact_f(t + h, xbar, c) - exact_f(t - h, xbar, c)) / (2 * h)
        assert exact_energy(t, xbar, c) == pytest.approx(numeric, rel=1e-6)


def test_thermodynamic_exact_energies(data):
    xbar, c = data
    truth = exact_f(1.0, xbar, c)
    errors = {}
    for k in (50, 100):
        ts = ti_schedule(k)
        est = thermodynamic(ts, exact_energy(ts, xbar, c))
        assert math.isnan(est.se)
        errors[k] = est.value - truth
    # Measured: about 0.0068 at K = 50 (0.3% of F - C ~ 2.4), second order in 1/K.
    assert abs(errors[50]) < 0.01
    assert errors[50] / errors[100] == pytest.approx(4.0, rel=0.05)


def test_thermodynamic_sampled_energies(data):
    xbar, c = data
    rng = np.random.default_rng(1)
    ts = ti_schedule(50)
    draws = [tempered_energy_draws(t, xbar, c, rng) for t in ts]
    means = np.array([d.mean() for d in draws])
    ses = np.array([d.std() / math.sqrt(d.size) for d in draws])
    est = thermodynamic(ts, means, ses)
    assert est.se == pytest.approx(math.sqrt(np.sum(trapezoid_weights(ts) ** 2 * ses**2)))
    assert abs(est.value - exact_f(1.0, xbar, c)) < 5 * est.se + 0.01


def test_stepping_stone(data):
    # Stepping stones are exact for any schedule (only Monte Carlo error), so 20 stones suffice.
    xbar, c = data
    ts = ti_schedule(20)
    truth = exact_f(1.0, xbar, c)
    values, ses = [], []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        draws = [tempered_energy_draws(t, xbar, c, rng) for t in ts[:-1]]
        est = stepping_stone(ts, draws)
        values.append(est.value)
        ses.append(est.se)
    assert abs(values[0] - truth) < 5 * ses[0]
    # The reported se matches the spread over independent replicates (0.93-1.11 over seed sets).
    assert np.std(values) == pytest.approx(np.mean(ses), rel=0.25)
    assert abs(np.mean(values) - truth) < 5 * np.mean(ses) / math.sqrt(60)


def test_stepping_stone_accepts_draws_at_every_temperature(data):
    xbar, c = data
    rng = np.random.default_rng(3)
    ts = ti_schedule(10)
    draws = [tempered_energy_draws(t, xbar, c, rng) for t in ts]
    assert stepping_stone(ts, draws) == stepping_stone(ts, draws[:-1])


def test_errors():
    with pytest.raises(ValueError, match="ts must increase"):
        thermodynamic([0.0, 0.7], [1.0, 2.0])
    with pytest.raises(ValueError, match="ts must increase"):
        thermodynamic([0.0, 0.5, 0.5, 1.0], [1.0, 2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="energies"):
        thermodynamic([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="energy_se"):
        thermodynamic([0.0, 1.0], [1.0, 1.0], [-1.0, 0.0])
    with pytest.raises(ValueError, match="energies_per_t must hold"):
        stepping_stone([0.0, 0.5, 1.0], [np.ones((2, 10))])
    with pytest.raises(ValueError, match=r"energies_per_t\[1\]"):
        stepping_stone([0.0, 0.5, 1.0], [np.ones((2, 10)), np.ones(10)])


def test_geometric_schedule_spans_zero_t_min_and_one_and_rejects_bad_input():
    ts = fe.geometric_schedule(48, 1e-9)
    assert ts[0] == 0.0 and ts[1] == pytest.approx(1e-9) and ts[-1] == 1.0
    ratios = ts[2:] / ts[1:-1]
    assert np.allclose(ratios, ratios[0])  # geometric after t = 0
    with pytest.raises(ValueError, match="num must be"):
        fe.geometric_schedule(1, 1e-3)
    with pytest.raises(ValueError, match="t_min must be"):
        fe.geometric_schedule(10, 0.0)
