"""Tests for the NumPyro models with known global RLCTs (slt.models.{normal_crossing, mixture,
tanh, linear}): structure, log-likelihood against numpy, and the shape of K."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.handlers import seed, trace
from numpyro.infer.util import log_likelihood
from scipy import stats

from slt.exact import (
    mixture_regular,
    mixture_singular,
    mixture_two_means,
    normal_crossing,
    regular,
    tanh_network,
)
from slt.models import linear, mixture, tanh
from slt.models import normal_crossing as nc
from slt.models.problem import GlobalProblem

LOG_2PI = math.log(2 * math.pi)


def _normal_logpdf(x, mean=0.0):
    return -0.5 * (np.asarray(x, np.float64) - mean) ** 2 - 0.5 * LOG_2PI


def _loglik(problem: GlobalProblem, params: dict) -> np.ndarray:
    """Per-observation log-likelihood (summed over observed sites) at one parameter value."""
    ll = log_likelihood(
        problem.model,
        {k: np.asarray(v, np.float32)[None] for k, v in params.items()},
        **problem.data,
    )
    return np.sum([np.asarray(v[0], np.float64) for v in ll.values()], axis=0)


PROBLEMS = {
    "nc": lambda n: nc.make([1, 2], n=n, seed=1),
    "nc_h": lambda n: nc.make([1, 1], [1.0, 0.0], n=n, seed=1),
    "nc_sum": lambda n: nc.make_sum([[1], [2]], n=n, seed=1),
    "mix_singular": lambda n: mixture.make_singular(n, seed=1),
    "mix_regular": lambda n: mixture.make_regular(n, seed=1),
    "mix_two_means": lambda n: mixture.make_two_means(n, seed=1),
    "tanh": lambda n: tanh.make(3, n=n, seed=1),
    "linear": lambda n: linear.make(3, n=n, seed=1),
}


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_structure(name: str) -> None:
    n = 37
    p = PROBLEMS[name](n)
    assert isinstance(p, GlobalProblem) and p.n == n and str(n) in p.name
    assert p.exact is not None and p.exact.rlct > 0
    tr = trace(seed(p.model, 0)).get_trace(**p.data)
    observed = {k: s for k, s in tr.items() if s["type"] == "sample" and s["is_observed"]}
    latent = {k: s for k, s in tr.items() if s["type"] == "sample" and not s["is_observed"]}
    assert observed and latent
    for s in observed.values():
        frames = [(f.name, f.size) for f in s["cond_indep_stack"]]
        assert ("data", n) in frames
        assert tuple(s["fn"].batch_shape) == (n,)
    for s in latent.values():  # the prior lies outside the data plate
        assert not any(f.name == "data" for f in s["cond_indep_stack"])
        assert np.all(np.isfinite(np.asarray(s["fn"].log_prob(s["value"]))))


def test_exact_values_are_the_oracles() -> None:
    assert nc.make([1, 2], n=5).exact == normal_crossing([1, 2])
    assert nc.make([1, 1], n=5).exact[:2] == (0.5, 2)
    assert nc.make([1], [1.0], n=5).exact[:2] == (1.0, 1)
    assert nc.make_sum([[1], [2]], n=5).exact[:2] == (0.75, 1)
    assert nc.make_sum([[1, 1], ([1], [1.0])], n=5).exact[:2] == (1.5, 2)
    assert mixture.make_singular(5).exact == mixture_singular()
    assert mixture.make_regular(5).exact == mixture_regular()
    assert mixture.make_two_means(5).exact == mixture_two_means()
    assert tanh.make(4, n=5).exact == tanh_network(4)
    assert linear.make(4, n=5).exact == regular(4)


def test_data_are_reproducible_and_typed() -> None:
    a, b = mixture.make_regular(50, seed=3), mixture.make_regular(50, seed=3)
    np.testing.assert_array_equal(a.data["x"], b.data["x"])
    assert a.data["x"].dtype == np.float32
    assert mixture.make_singular(5, dtype="float64").data["x"].dtype == np.float64
    assert not np.array_equal(a.data["x"], mixture.make_regular(50, seed=4).data["x"])


def test_normal_crossing_prior_is_beta_h_plus_1_1() -> None:
    hs = (1.0, 0.0, 2.5, -0.5)
    prior = nc._prior(hs, "float32")
    w = np.array([0.3, 0.6, 0.9, 0.2])
    expected = sum(stats.beta(h + 1, 1).logpdf(x) for h, x in zip(hs, w, strict=True))
    assert float(prior.log_prob(w)) == pytest.approx(expected, rel=1e-5)
    draws = np.asarray(prior.sample(jax.random.key(0), (20_000,)), np.float64)
    assert np.all((draws > 0) & (draws < 1))
    # Beta(h+1, 1) has mean (h+1)/(h+2) and sd < 0.3: 5 standard errors < 0.011
    np.testing.assert_allclose(draws.mean(0), [(h + 1) / (h + 2) for h in hs], atol=0.011)
    # finite gradient at w = 0 when h = 0 (the true set is at the boundary)
    grad = jax.grad(lambda v: prior.log_prob(v))(jnp.array([0.3, 0.0, 0.9, 0.2]))
    assert np.all(np.isfinite(np.asarray(grad)))


# ------------------------------------------------------ log-likelihood against numpy


def test_normal_crossing_loglik() -> None:
    p = nc.make([1, 2], n=200, seed=2)
    y = p.data["y"]
    for w in ([0.0, 0.7], [0.6, 0.0], [0.0, 0.0]):  # true parameters: f = 0
        np.testing.assert_allclose(_loglik(p, {"w": w}), _normal_logpdf(y), rtol=1e-6)
    f = math.sqrt(2) * 0.6 * 0.7**2
    np.testing.assert_allclose(
        _loglik(p, {"w": [0.6, 0.7]}), _normal_logpdf(y, f), rtol=1e-5, atol=1e-6
    )
    s = nc.make_sum([[1], [1, 1]], n=200, seed=2)
    y = s.data["y"]
    ll = _loglik(s, {"w_0": [0.5], "w_1": [0.3, 0.0]})
    expected = _normal_logpdf(y[:, 0], math.sqrt(2) * 0.5) + _normal_logpdf(y[:, 1])
    np.testing.assert_allclose(ll, expected, rtol=1e-5, atol=1e-6)


def _mixture_logpdf(x, a, mu0, mu1):
    x = np.asarray(x, np.float64)
    return np.logaddexp(np.log1p(-a) + _normal_logpdf(x, mu0), np.log(a) + _normal_logpdf(x, mu1))


def test_mixture_loglik() -> None:
    p = mixture.make_singular(300, seed=2)
    x = p.data["x"]
    for a, b in [(0.3, 0.0), (0.0, 1.5), (0.0, 0.0)]:  # true parameters
        np.testing.assert_allclose(_loglik(p, {"a": a, "b": b}), _normal_logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(
        _loglik(p, {"a": 0.3, "b": 1.5}), _mixture_logpdf(x, 0.3, 0.0, 1.5), rtol=1e-5
    )
    r = mixture.make_regular(300, seed=2, a0=0.3, b0=-1.5)
    np.testing.assert_allclose(
        _loglik(r, {"a": 0.3, "b": -1.5}), _mixture_logpdf(r.data["x"], 0.3, 0.0, -1.5), rtol=1e-5
    )
    t = mixture.make_two_means(300, seed=2)
    x = t.data["x"]
    for a, b, c in [(0.4, 0.0, 0.0), (0.0, 0.0, 2.0), (1.0, -1.0, 0.0)]:  # true parameters
        np.testing.assert_allclose(
            _loglik(t, {"a": a, "b": b, "c": c}), _normal_logpdf(x), rtol=1e-5
        )
    np.testing.assert_allclose(
        _loglik(t, {"a": 0.4, "b": -0.5, "c": 1.0}),
        _mixture_logpdf(x, 0.4, -0.5, 1.0),
        rtol=1e-5,
    )


def test_regular_mixture_data_come_from_the_truth() -> None:
    x = mixture.make_regular(100_000, seed=0, a0=0.3, b0=2.0).data["x"].astype(np.float64)
    # mean a0 b0 = 0.6, variance 1 + a0 (1 - a0) b0^2 = 1.84; 5 standard errors.
    assert abs(x.mean() - 0.6) < 5 * math.sqrt(1.84 / x.size)
    assert abs(x.var() - 1.84) < 0.05


def test_tanh_loglik() -> None:
    p = tanh.make(2, n=200, seed=2)
    x, y = p.data["x"], p.data["y"]
    assert np.all(np.abs(x) <= tanh.INPUT_BOUND)
    # True parameters: a = 0, b = 0, and the cancelling pair a_1 = -a_2, b_1 = b_2.
    for a, b in [([0.0, 0.0], [0.4, -1.0]), ([0.7, -0.3], [0.0, 0.0]), ([0.5, -0.5], [0.8, 0.8])]:
        np.testing.assert_allclose(_loglik(p, {"a": a, "b": b}), _normal_logpdf(y), rtol=1e-5)
    f = 0.5 * np.tanh(0.8 * x.astype(np.float64)) - 0.2 * np.tanh(-1.1 * x.astype(np.float64))
    np.testing.assert_allclose(
        _loglik(p, {"a": [0.5, -0.2], "b": [0.8, -1.1]}), _normal_logpdf(y, f), rtol=1e-5
    )


def test_tanh_output_prior_scale() -> None:
    # log N(a; 0, s^2) summed over H = 2 units, restated from the normal density.
    from numpyro.infer.util import log_density

    p = tanh.make(2, n=20, seed=3, output_scale=10.0)
    assert p.data["output_scale"] == 10.0 and tanh.make(2, n=20).data["output_scale"] == 10.0
    a, b = np.array([3.0, -4.0]), np.array([0.5, 0.2])
    _, trace = log_density(p.model, (), p.data, {"a": a, "b": b})
    expected = np.sum(-0.5 * (a / 10.0) ** 2 - math.log(10.0 * math.sqrt(2 * math.pi)))
    assert float(trace["a"]["fn"].log_prob(trace["a"]["value"])) == pytest.approx(expected)
    with pytest.raises(ValueError, match="^output_scale must"):
        tanh.make(2, output_scale=0.0)


def test_linear_loglik() -> None:
    p = linear.make(3, n=200, seed=2)
    w0 = linear.truth(3, seed=2)
    x, y = p.data["x"].astype(np.float64), p.data["y"]
    np.testing.assert_allclose(_loglik(p, {"w": w0}), _normal_logpdf(y, x @ w0), rtol=1e-5)
    # the residuals at the truth are the N(0, 1) noise
    resid = y - x @ w0
    assert abs(resid.std() - 1.0) < 0.2


# --------------------------------------------------------------------- the shape of K
# With n = 1e5 observations, L_n(w) - L_n(w0) = K(w) + (a mean of n i.i.d. centred terms); the
# fluctuation has standard deviation sd(term)/sqrt(n), estimated from the data. The tolerance
# is 5 of those (a two-sided 5-sigma event has probability 6e-7; the seeds are fixed anyway)
# plus 1e-5 for float32 round-off in the log-likelihoods.

N_BIG = 100_000


def _delta_loss(p: GlobalProblem, w: dict, w0: dict) -> tuple[float, float]:
    """L_n(w) - L_n(w0) and its 5-sigma sampling tolerance."""
    diff = _loglik(p, w0) - _loglik(p, w)
    return float(diff.mean()), 5 * float(diff.std()) / math.sqrt(diff.size) + 1e-5


@pytest.mark.parametrize(
    ("k", "w"), [([1], [0.4]), ([1, 2], [0.5, 0.8]), ([1, 1], [0.9, 0.3]), ([3], [0.9])]
)
def test_normal_crossing_K(k, w) -> None:
    p = nc.make(k, n=N_BIG, seed=5)
    delta, tol = _delta_loss(p, {"w": w}, {"w": [0.0] * len(k)})
    K = float(np.prod(np.asarray(w) ** (2 * np.asarray(k))))
    assert abs(delta - K) < tol
    assert tol < 0.1 * K  # the check has teeth
    # Exactly: delta = K - f * mean(y), f = sqrt(2) prod w^k.
    f = math.sqrt(2) * math.sqrt(K)
    assert delta == pytest.approx(K - f * float(np.mean(p.data["y"], dtype=np.float64)), abs=1e-5)


def test_normal_crossing_sum_K() -> None:
    p = nc.make_sum([[1], [2]], n=N_BIG, seed=5)
    delta, tol = _delta_loss(p, {"w_0": [0.5], "w_1": [0.7]}, {"w_0": [0.0], "w_1": [0.0]})
    K = 0.5**2 + 0.7**4  # K = w1^2 + w2^4
    assert abs(delta - K) < tol < 0.1 * K


def _gauss_expectation(fn) -> float:
    """E_{N(0,1)}[fn(x)] by the trapezoid rule on [-12, 12] (spectrally accurate here)."""
    x = np.linspace(-12.0, 12.0, 48_001)
    return float(np.trapezoid(fn(x) * np.exp(_normal_logpdf(x)), x))


def _K_mixture(a: float, mu0: float, mu1: float) -> float:
    """K = E_{N(0,1)} log[N(x) / ((1-a)N(x-mu0) + aN(x-mu1))], computed stably."""

    def log_ratio(x):
        ratio_m1 = (1 - a) * np.expm1(mu0 * x - mu0**2 / 2) + a * np.expm1(mu1 * x - mu1**2 / 2)
        return -np.log1p(ratio_m1)

    return _gauss_expectation(log_ratio)


def test_singular_mixture_K_is_second_order_in_a() -> None:
    # K(a, b) = -E log(1 + g), g = a(e^{bx - b^2/2} - 1), E g = 0, E g^2 = a^2 (e^{b^2} - 1):
    # K = a^2 (e^{b^2} - 1)/2 - E g^3/3 + O(a^4), E g^3 = a^3 (e^{3b^2} - 3 e^{b^2} + 2).
    b = 0.5
    K2 = lambda a: 0.5 * a**2 * math.expm1(b**2)
    c3 = -(math.exp(3 * b**2) - 3 * math.exp(b**2) + 2) / 3
    for a in (0.1, 0.05, 0.02):
        K = _K_mixture(a, 0.0, b)
        assert K == pytest.approx(K2(a), rel=3 * a)  # second order in a
        assert (K - K2(a)) / a**3 == pytest.approx(c3, rel=2 * a)  # the next term
    # and for small b, K ~ a^2 b^2 / 2: the normal crossing a^2 b^2 behind lambda = 1/2, m = 2
    for b in (0.1, 0.05):
        assert _K_mixture(0.01, 0.0, b) / (0.5 * 0.01**2 * b**2) == pytest.approx(1, rel=2 * b**2)


def test_singular_mixture_empirical_K() -> None:
    p = mixture.make_singular(N_BIG, seed=5)
    for a, b in [(0.3, 1.0), (0.5, -0.8)]:
        delta, tol = _delta_loss(p, {"a": a, "b": b}, {"a": 0.0, "b": 0.0})
        K = _K_mixture(a, 0.0, b)
        assert abs(delta - K) < tol < 0.2 * K


def test_two_means_K_is_quartic_along_the_true_set() -> None:
    # Mixing moments m_k = (1-a) b^k + a c^k; K ~ sum_k m_k^2 / (2 k!). On m_1 = 0
    # (b = -a c/(1-a)), m_2 = a c^2/(1-a) and K ~ m_2^2/4 = O(c^4): halving c divides K by 16.
    # Off it (c = 0), K ~ (1-a)^2 b^2 / 2 is quadratic: halving b divides K by 4.
    a = 0.4
    on = lambda c: _K_mixture(a, -a * c / (1 - a), c)
    for c in (0.2, 0.1):
        m2 = a * c**2 / (1 - a)
        assert on(c) == pytest.approx(m2**2 / 4, rel=5 * c)
        assert on(c) / on(c / 2) == pytest.approx(16, rel=5 * c)
    off = lambda b: _K_mixture(a, b, 0.0)
    for b in (0.2, 0.1):
        assert off(b) == pytest.approx((1 - a) ** 2 * b**2 / 2, rel=2 * b)
        assert off(b) / off(b / 2) == pytest.approx(4, rel=2 * b)


def _K_tanh(a, b) -> float:
    """K = E_x[f(x)^2]/2 for x ~ U(-2, 2), by the trapezoid rule."""
    x = np.linspace(-tanh.INPUT_BOUND, tanh.INPUT_BOUND, 20_001)
    f = np.sum(np.asarray(a)[:, None] * np.tanh(np.asarray(b)[:, None] * x), axis=0)
    return float(np.trapezoid(f**2, x) / (2 * 2 * tanh.INPUT_BOUND))


def test_tanh_K() -> None:
    p = tanh.make(2, n=N_BIG, seed=5)
    a, b = [0.6, -0.3], [0.9, 1.4]
    delta, tol = _delta_loss(p, {"a": a, "b": b}, {"a": [0.0, 0.0], "b": [0.0, 0.0]})
    K = _K_tanh(a, b)
    assert abs(delta - K) < tol < 0.2 * K
    # H = 1: K ~ a^2 b^2 E[x^2]/2 = (2/3) a^2 b^2 for small b (x ~ U(-2, 2), E x^2 = 4/3).
    for bb in (0.1, 0.05):
        assert _K_tanh([1.0], [bb]) / bb**2 == pytest.approx(2 / 3, rel=5 * bb**2)


def test_linear_K() -> None:
    p = linear.make(3, n=N_BIG, seed=5)
    w0 = linear.truth(3, seed=5)
    step = np.array([0.3, -0.25, 0.3])
    delta, tol = _delta_loss(p, {"w": w0 + step}, {"w": w0})
    K = 0.5 * float(step @ step)  # K = |w - w0|^2 / 2 for x ~ N(0, I)
    assert abs(delta - K) < tol < 0.2 * K


# ----------------------------------------------------------------------- bad arguments


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="k must"):
        nc.make([0])
    with pytest.raises(ValueError, match="h must"):
        nc.make([1], [-2.0])
    with pytest.raises(ValueError, match="blocks must"):
        nc.make_sum([])
    with pytest.raises(ValueError, match=r"blocks\[1\]: k must"):
        nc.make_sum([[1], [-1]])
    with pytest.raises(ValueError, match="^n must"):
        nc.make([1], n=0)
    with pytest.raises(ValueError, match="^seed must"):
        mixture.make_singular(10, seed=-1)
    with pytest.raises(ValueError, match="^a0 must"):
        mixture.make_regular(10, a0=1.0)
    with pytest.raises(ValueError, match="^b0 must"):
        mixture.make_regular(10, b0=0.0)
    with pytest.raises(ValueError, match="^b0 must"):
        mixture.make_regular(10, b0=3.5)
    with pytest.raises(ValueError, match="^H must"):
        tanh.make(0)
    with pytest.raises(ValueError, match="^d must"):
        linear.make(0)
