"""SGLD: the exact one-step update, its diagnostics, and its stationary law on a Gaussian target.

Target: L_B(w) = 0.5 * mean_i (w - x_i)' diag(LAM) (w - x_i), full batch, localized at c. The
localized tempered posterior is then exactly Gaussian with diagonal precision
P = nbeta * LAM + gamma and mean m = (nbeta * LAM * xbar + gamma * c) / P. SGLD on it is, per
coordinate, the AR(1) chain x' = x + (eps/2)(-P (x - m)) + sqrt(eps) xi, whose stationary law is
N(m, eps / (1 - (1 - eps P / 2)^2)) = N(m, 1 / (P (1 - eps P / 4))): exact for every eps < 4/P.
The recursion is linear, so its stationary mean and variance depend on xi only through its mean
and variance: the same formula holds for Rademacher signs (noise="rademacher").
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.base import StepInfo
from slt.posterior import localized_posterior
from slt.samplers.sgld import SGLDState, sgld
from slt.tree import tree_noise_like, tree_normal_like

NBETA, GAMMA = 10.0, 1.0
LAM = {"a": np.array([1.0, 4.0]), "b": np.array([2.0])}
_rng = np.random.default_rng(0)
DATA = {"a": _rng.normal(size=(8, 2)), "b": _rng.normal(size=(8, 1))}
CENTER = {"a": np.array([0.5, -0.5]), "b": np.array([1.0])}

LAM_F = np.concatenate([LAM["a"], LAM["b"]])
XBAR = np.concatenate([DATA["a"].mean(0), DATA["b"].mean(0)])
C_F = np.concatenate([CENTER["a"], CENTER["b"]])
PREC = NBETA * LAM_F + GAMMA  # [11, 41, 21]
MEAN = (NBETA * LAM_F * XBAR + GAMMA * C_F) / PREC


def _jnp(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _flat(t):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(t)])


def _loss_fn(w, batch):
    t = jax.tree.map(lambda lam, p, x: jnp.sum(lam * (p - x) ** 2, axis=-1), _jnp(LAM), w, batch)
    return 0.5 * jnp.mean(sum(jax.tree.leaves(t)))


BATCH = _jnp(DATA)
POSTERIOR = localized_posterior(_loss_fn, _jnp(CENTER), nbeta=NBETA, gamma=GAMMA)


def _np_loss(w):
    x = np.concatenate([DATA["a"], DATA["b"]], axis=1)
    return 0.5 * np.mean(np.sum(LAM_F * (w - x) ** 2, axis=1))


def _np_log_p(w):
    return -NBETA * _np_loss(w) - 0.5 * GAMMA * np.sum((w - C_F) ** 2, axis=-1)


def _np_grad_log_p(w):
    return -PREC * (w - MEAN)  # = -NBETA LAM (w - xbar) - GAMMA (w - c)


def _np_acceptance(w, w_new, eps):
    """MALA formula, vectorised over leading axes (Gaussian target: U and grad in closed form)."""

    def log_q(to, frm):
        return -np.sum((to - frm - 0.5 * eps * _np_grad_log_p(frm)) ** 2, axis=-1) / (2 * eps)

    log_p = lambda w: -0.5 * np.sum(PREC * (w - MEAN) ** 2, axis=-1)  # equal up to a constant
    log_ratio = log_p(w_new) - log_p(w) + log_q(w, w_new) - log_q(w_new, w)
    return np.exp(np.minimum(0.0, log_ratio))


def _to_tree(flat):
    flat = jnp.asarray(flat, jnp.float32)
    return {"a": flat[:2], "b": flat[2:]}


def _sample(eps, n_steps, seed, out, mala=False, noise="gaussian"):
    """``n_steps`` SGLD steps of independent chains from the centre, one per entry of ``eps``.

    The step size is traced (one compilation serves every step size); jit, scan over steps,
    vmap over chains.
    """

    def chain(key, step_size):
        alg = sgld(POSTERIOR, step_size, mala=mala, noise=noise)

        def body(state, k):
            state, info = alg.step(k, state, BATCH)
            return state, out(state, info)

        return jax.lax.scan(body, alg.init(_jnp(CENTER), key), jax.random.split(key, n_steps))[1]

    eps = jnp.asarray(eps, jnp.float32)
    keys = jax.random.split(jax.random.key(seed), eps.shape[0])
    return np.asarray(jax.jit(jax.vmap(chain))(keys, eps), np.float64)


def _positions(state, info):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(state.position)])


def _acceptance_rate(state, info):
    return info.acceptance_rate


def test_gaussian_target_is_what_the_docstring_says():
    # sanity of the closed forms used below: numpy log p matches the posterior's log density
    w = MEAN + 0.3
    (lp, _), grad = jax.jit(jax.value_and_grad(POSTERIOR.logdensity, has_aux=True))(
        _to_tree(w), BATCH
    )
    np.testing.assert_allclose(float(lp), _np_log_p(w), rtol=1e-5)
    np.testing.assert_allclose(_flat(grad), _np_grad_log_p(w), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_one_step_update_and_info(noise):
    eps = 0.01
    w = MEAN + np.array([0.7, -0.4, 0.25])
    key = jax.random.key(42)
    alg = sgld(POSTERIOR, eps, noise=noise)
    state = alg.init(_to_tree(w), jax.random.key(0))
    assert isinstance(state, SGLDState)
    step = jax.jit(alg.step)
    new, info = step(key, state, BATCH)
    assert isinstance(info, StepInfo)
    xi = _flat(tree_noise_like(key, _to_tree(w), noise))
    if noise == "rademacher":
        assert set(np.abs(xi)) == {1.0}
    expected = w + 0.5 * eps * _np_grad_log_p(w) + np.sqrt(eps) * xi
    np.testing.assert_allclose(_flat(new.position), expected, rtol=1e-5, atol=1e-5)
    assert jax.tree.structure(new.position) == jax.tree.structure(state.position)
    # info is about the pre-update point
    np.testing.assert_allclose(float(info.loss), _np_loss(w), rtol=1e-5)
    np.testing.assert_allclose(float(info.lp), _np_log_p(w), rtol=1e-5)
    assert float(info.step_size) == np.float32(eps)
    np.testing.assert_allclose(float(info.grad_norm), np.linalg.norm(LAM_F * (w - XBAR)), rtol=1e-5)
    assert info.acceptance_rate is None
    # pure: same key and state, same step; another key, another step
    again, _ = step(key, state, BATCH)
    np.testing.assert_allclose(_flat(again.position), _flat(new.position), rtol=1e-6)
    other, _ = step(jax.random.key(43), state, BATCH)
    assert not np.allclose(_flat(other.position), _flat(new.position))


def test_mala_one_step_against_numpy():
    eps = 0.03
    w = MEAN + np.array([0.3, -0.2, 0.25])
    keys = jax.random.split(jax.random.key(7), 10)
    state = sgld(POSTERIOR, eps).init(_to_tree(w))
    step = jax.vmap(sgld(POSTERIOR, eps, mala=True).step, (0, None, None))
    new, info = jax.jit(step)(keys, state, BATCH)
    w_new = np.concatenate([np.asarray(new.position["a"]), np.asarray(new.position["b"])], 1)
    # the diagnostic does not change the (never rejected) step
    xi = jax.vmap(tree_normal_like, (0, None))(keys, state.position)
    xi = np.concatenate([np.asarray(xi["a"]), np.asarray(xi["b"])], 1)
    plain = w + 0.5 * eps * _np_grad_log_p(w) + np.sqrt(eps) * xi
    np.testing.assert_allclose(w_new, plain, rtol=1e-5, atol=1e-6)
    want = _np_acceptance(w, w_new.astype(np.float64), eps)
    assert np.sum((want > 0.05) & (want < 0.95)) >= 3  # several steps are informative
    # float32 log densities of size ~10 agree to ~1e-6 relative, so A agrees to ~1e-4
    np.testing.assert_allclose(np.asarray(info.acceptance_rate), want, rtol=1e-3)


def test_mala_acceptance_small_and_large_steps():
    # One compiled run: 32 chains at eps = 1e-6 and 256 at eps * P_max = 1.9, near the ULA
    # stability limit eps P = 2 in the stiffest coordinate.
    small, large = 1e-6, 1.9 / PREC.max()
    n_small, n_large, n_steps, burn = 32, 256, 300, 100
    eps = np.r_[np.full(n_small, small), np.full(n_large, large)]
    acc = _sample(eps, n_steps, 1, _acceptance_rate, mala=True)
    assert np.all((acc >= 0) & (acc <= 1))
    # eps = 1e-6: the log ratio is O((eps P)^{3/2}) ~ 1e-7, so A > 0.99 at every step.
    assert acc[:n_small].min() > 0.99
    acc = acc[n_small:, burn:]
    # Independent prediction for the large step: at stationarity w ~ N(m, 1/(P(1 - eps P/4)))
    # exactly (module docstring; 100 steps of burn-in contract the slowest coordinate by
    # (1 - eps P/2)^100 < 1e-12), and w' = w + (eps/2) grad log p(w) + sqrt(eps) xi; average the
    # numpy formula over many such pairs.
    rng = np.random.default_rng(0)
    w = MEAN + rng.normal(size=(200_000, 3)) / np.sqrt(PREC * (1 - large * PREC / 4))
    w_new = w + 0.5 * large * _np_grad_log_p(w) + np.sqrt(large) * rng.normal(size=w.shape)
    pred = _np_acceptance(w, w_new, large)
    pred_mean, pred_se = pred.mean(), pred.std() / np.sqrt(pred.size)
    # Chains are independent, so the spread of per-chain means gives a valid standard error
    # whatever the autocorrelation within a chain. Tolerance: 5 combined SEs (about 0.02).
    chain_means = acc.mean(axis=1)
    se = np.hypot(chain_means.std(ddof=1) / np.sqrt(n_large), pred_se)
    assert abs(chain_means.mean() - pred_mean) < 5 * se
    # and the large step is clearly rejected more often than the tiny one (prediction ~0.81)
    assert chain_means.mean() < 0.9


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_stationary_mean_and_variance(noise):
    eps = 0.005  # eps * P = [0.055, 0.205, 0.105]
    n_chains, n_steps, burn = 500, 1500, 500
    xs = _sample(np.full(n_chains, eps), n_steps, 3, _positions, noise=noise)[:, burn:]
    # Burn-in: the slowest coordinate contracts by (1 - eps P/2)^t = 0.9725^500 < 1e-6 from a
    # start O(1) away, so the transient is negligible against the errors below.
    var_exact = 1.0 / (PREC * (1.0 - eps * PREC / 4.0))
    # The exact discretised variance is within (eps P / 4) / (1 - eps P / 4) <= 5.4% of 1/P.
    np.testing.assert_allclose(var_exact * PREC, 1.0, rtol=0.055)
    # Monte Carlo error: chains are independent, so per-chain time averages are iid and their
    # spread / sqrt(n_chains) is a standard error that needs no autocorrelation model. Each
    # check allows 5 SE (two-sided false-alarm rate ~6e-7 per coordinate).
    chain_mean = xs.mean(axis=1)
    se_mean = chain_mean.std(axis=0, ddof=1) / np.sqrt(n_chains)
    np.testing.assert_array_less(np.abs(chain_mean.mean(axis=0) - MEAN), 5 * se_mean)
    chain_var = ((xs - MEAN) ** 2).mean(axis=1)
    se_var = chain_var.std(axis=0, ddof=1) / np.sqrt(n_chains)
    var_hat = chain_var.mean(axis=0)
    np.testing.assert_array_less(np.abs(var_hat - var_exact), 5 * se_var)
    # Sharpness: in the stiffest coordinate the SE is < 1% of the variance (expected ~0.6%: about
    # 110 effective samples per chain for x^2 at autocorrelation (1 - eps P/2)^2), so the test
    # resolves the 5.4% O(eps) bias: the sample variance is many SEs away from 1/P there.
    assert se_var[1] / var_exact[1] < 0.01
    assert abs(var_hat[1] - 1.0 / PREC[1]) > 5 * se_var[1]
    # and it is close to the continuous-time 1/P up to that bias plus Monte Carlo error
    np.testing.assert_array_less(np.abs(var_hat * PREC - 1.0), 0.055 + 5 * se_var * PREC)
