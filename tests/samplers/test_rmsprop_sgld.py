"""RMSProp-SGLD: the preconditioner recursion by hand, and the stationary law on a Gaussian target.

Target (as in test_sgld.py): L_B(w) = 0.5 * mean_i (w - x_i)' diag(LAM) (w - x_i), full batch,
localized at c, so the posterior is exactly Gaussian with diagonal precision
P = nbeta * LAM + gamma and mean m = (nbeta * LAM * xbar + gamma * c) / P. With a frozen
per-coordinate step e_j the kernel is ULA per coordinate, whose stationary variance is exactly
1 / (P_j (1 - e_j P_j / 4)) (see test_sgld.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.base import StepInfo
from slt.posterior import localized_posterior
from slt.samplers.rmsprop_sgld import RMSPropSGLDState, rmsprop_sgld
from slt.tree import tree_normal_like

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


def _to_tree(flat):
    flat = jnp.asarray(flat, jnp.float32)
    return {"a": flat[:2], "b": flat[2:]}


def _loss_fn(w, batch):
    t = jax.tree.map(lambda lam, p, x: jnp.sum(lam * (p - x) ** 2, axis=-1), _jnp(LAM), w, batch)
    return 0.5 * jnp.mean(sum(jax.tree.leaves(t)))


BATCH = _jnp(DATA)
POSTERIOR = localized_posterior(_loss_fn, _jnp(CENTER), nbeta=NBETA, gamma=GAMMA)


def _np_loss(w):
    x = np.concatenate([DATA["a"], DATA["b"]], axis=1)
    return 0.5 * np.mean(np.sum(LAM_F * (w - x) ** 2, axis=1))


def _np_loss_grad(w):
    return LAM_F * (w - XBAR)


def _np_grad_log_p(w):
    return -PREC * (w - MEAN)  # = -NBETA * LAM (w - xbar) - GAMMA (w - c)


def _np_acceptance(w, w_new, eps):
    def log_q(to, frm):
        return -np.sum((to - frm - 0.5 * eps * _np_grad_log_p(frm)) ** 2 / (2 * eps))

    log_p = lambda w: -0.5 * np.sum(PREC * (w - MEAN) ** 2)  # equal up to a constant
    return min(1.0, np.exp(log_p(w_new) - log_p(w) + log_q(w, w_new) - log_q(w_new, w)))


def test_init():
    w = _to_tree(MEAN)
    state = rmsprop_sgld(POSTERIOR, 1e-3).init(w, jax.random.key(0))
    assert isinstance(state, RMSPropSGLDState)
    np.testing.assert_array_equal(_flat(state.square_avg), 0.0)
    assert jax.tree.structure(state.square_avg) == jax.tree.structure(w)
    assert int(state.step_count) == 0


@pytest.mark.parametrize(("beta2", "a"), [(0.999, 1e-8), (0.9, 0.5)])
def test_two_steps_by_hand(beta2, a):
    eps = 1e-3
    w0 = MEAN + np.array([0.4, -0.3, 0.2])
    alg = rmsprop_sgld(POSTERIOR, eps, beta2=beta2, eps=a)
    step = jax.jit(alg.step)
    k1, k2 = jax.random.key(1), jax.random.key(2)
    s0 = alg.init(_to_tree(w0), None)
    s1, info1 = step(k1, s0, BATCH)
    s2, info2 = step(k2, s1, BATCH)
    # hand recursion in float64: v_t = b2 v_{t-1} + (1 - b2) g_t^2, vhat_t = v_t / (1 - b2^t),
    # e_t = eps / (sqrt(vhat_t) + a), w_{t+1} = w_t + (e_t / 2) grad log p(w_t) + sqrt(e_t) xi_t
    v, w, count = np.zeros(3), w0, 0
    for key, state, info in [(k1, s1, info1), (k2, s2, info2)]:
        g = _np_loss_grad(w)
        count += 1
        v = beta2 * v + (1 - beta2) * g**2
        e = eps / (np.sqrt(v / (1 - beta2**count)) + a)
        xi = _flat(tree_normal_like(key, _to_tree(w)))
        w_next = w + 0.5 * e * _np_grad_log_p(w) + np.sqrt(e) * xi
        assert isinstance(info, StepInfo)
        assert int(state.step_count) == count
        np.testing.assert_allclose(_flat(state.square_avg), v, rtol=1e-5)
        # the position is fed back into step 2 in float32, so compare to ~1e-5 relative
        np.testing.assert_allclose(_flat(state.position), w_next, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(float(info.step_size), e.mean(), rtol=1e-5)
        np.testing.assert_allclose(float(info.loss), _np_loss(w), rtol=1e-5)
        np.testing.assert_allclose(float(info.grad_norm), np.linalg.norm(g), rtol=1e-5)
        assert info.acceptance_rate is None
        w = _flat(state.position)  # continue from the kernel's float32 position
    # the first bias-corrected step is eps / (|g_1| + a) per coordinate: the preconditioner
    # really is per-coordinate (the three steps differ)
    e1 = eps / (np.abs(_np_loss_grad(w0)) + a)
    np.testing.assert_allclose(float(info1.step_size), e1.mean(), rtol=1e-5)
    assert np.ptp(e1) > 0.1 * e1.mean()


def test_adapt_steps_freezes_the_preconditioner():
    # With adapt_steps = 2 the recursion runs for two steps; from the third on v and the bias
    # correction keep their step-2 values, so the per-coordinate step is that of step 2.
    eps, beta2 = 1e-3, 0.9
    w0 = MEAN + np.array([0.4, -0.3, 0.2])
    free = rmsprop_sgld(POSTERIOR, eps, beta2=beta2)
    frozen = rmsprop_sgld(POSTERIOR, eps, beta2=beta2, adapt_steps=2)
    keys = jax.random.split(jax.random.key(5), 4)
    s_free, s_frozen = free.init(_to_tree(w0)), frozen.init(_to_tree(w0))
    infos = []
    for i, key in enumerate(keys):
        s_free, _ = jax.jit(free.step)(key, s_free, BATCH)
        s_frozen, info = jax.jit(frozen.step)(key, s_frozen, BATCH)
        infos.append(float(info.step_size))
        if i == 1:  # identical while adapting
            np.testing.assert_allclose(_flat(s_frozen.position), _flat(s_free.position))
            v2 = _flat(s_frozen.square_avg)
    np.testing.assert_allclose(_flat(s_frozen.square_avg), v2)
    assert not np.allclose(_flat(s_free.square_avg), v2)
    np.testing.assert_allclose(infos[2:], infos[1], rtol=1e-6)


def test_mala_one_step_against_numpy():
    eps = 0.05  # first-step e P ~ 1.5: acceptance is informative
    w = MEAN + np.array([0.3, -0.2, 0.25])
    alg = rmsprop_sgld(POSTERIOR, eps, mala=True)
    keys = jax.random.split(jax.random.key(3), 20)
    step = jax.jit(jax.vmap(alg.step, (0, None, None)))
    new, info = step(keys, alg.init(_to_tree(w)), BATCH)
    e = eps / (np.abs(_np_loss_grad(w)) + 1e-8)  # first step: vhat_1 = g_1^2
    w_new = np.concatenate([np.asarray(new.position["a"]), np.asarray(new.position["b"])], 1)
    want = np.array([_np_acceptance(w, x.astype(np.float64), e) for x in w_new])
    assert np.sum((want > 0.02) & (want < 0.98)) >= 3  # several steps are informative
    np.testing.assert_allclose(np.asarray(info.acceptance_rate), want, rtol=1e-3)


def test_stationary_mean_and_variance():
    eps, beta2 = 1e-3, 0.9999
    n_chains, n_steps, burn = 600, 2500, 500
    # The preconditioner adapts to the chain's own recent gradients, which correlate with its
    # current position over the autocorrelation time tau ~ 2/(e P) steps: the chain lingers
    # where its steps are small, a bias of order tau times the weight of the latest gradient in
    # vhat (1/t early on, because of the bias correction; 1 - beta2 later). Measured on this
    # target from a cold start (v_0 = 0, t = 0): ~+3% variance and a ~2.5 SE mean shift in the
    # slowest coordinate over steps 500-2500; ~+2% variance over steps 2000-4000 with the
    # default beta2 = 0.999 and ~+13% with beta2 = 0.99. To test the sampling law rather than
    # that adaptation effect, we warm-start the preconditioner at its stationary value
    # v = E[g^2] = LAM^2 ((m - xbar)^2 + 1/P) with the bias correction saturated
    # (t = 1e5, 1 - beta2^t ~ 1 - 5e-5), and take beta2 = 0.9999, so the adaptation bias is
    # ~tau (1 - beta2) < 0.5%; we allow 1% for it.
    v_stat = LAM_F**2 * ((MEAN - XBAR) ** 2 + 1.0 / PREC)
    alg = rmsprop_sgld(POSTERIOR, eps, beta2=beta2)
    # Start one posterior sd out, not at the mode. Burn-in: the slowest coordinate (e P ~ 0.035)
    # contracts by (1 - e P/2)^500 < 2e-4 of that sd.
    w0 = MEAN + 1.0 / np.sqrt(PREC)
    state0 = alg.init(_to_tree(w0))._replace(
        square_avg=_to_tree(v_stat), step_count=jnp.asarray(100_000, jnp.int32)
    )

    def chain(key):
        def body(state, k):
            state, _ = alg.step(k, state, BATCH)
            corr = 1.0 - beta2 ** state.step_count.astype(jnp.float32)
            steps = eps / (jnp.sqrt(jnp.concatenate(jax.tree.leaves(state.square_avg)) / corr))
            return state, (jnp.concatenate(jax.tree.leaves(state.position)), steps)

        return jax.lax.scan(body, state0, jax.random.split(key, n_steps))[1]

    keys = jax.random.split(jax.random.key(4), n_chains)
    xs, steps = jax.jit(jax.vmap(chain))(keys)
    xs = np.asarray(xs, np.float64)[:, burn:]
    eps_p = np.asarray(steps, np.float64)[:, burn:] * PREC  # e_{j,t} P_j of the kept steps
    # O(e) discretisation bias: for any frozen step in [min, max] of the kept e_{j,t}, the ULA
    # variance lies in [1/(P(1 - min e P/4)), 1/(P(1 - max e P/4))]; eps was chosen so that this
    # is within 2% of 1/P.
    lo = 1.0 / (1.0 - eps_p.min(axis=(0, 1)) / 4.0)
    hi = 1.0 / (1.0 - eps_p.max(axis=(0, 1)) / 4.0)
    assert np.all(hi < 1.02)
    # Monte Carlo error: chains are independent, so per-chain time averages are iid and their
    # spread / sqrt(n_chains) is a valid standard error (no autocorrelation model needed). We
    # allow 5 SE (< 6%; ~1% expected from ~50-100 effective samples of x^2 per chain). That
    # is loose next to the O(e) bias, but any inconsistency between the e_t/2 drift and the
    # sqrt(e_t) noise is a factor ~2 error; the exact arithmetic is checked in
    # test_two_steps_by_hand.
    chain_mean = xs.mean(axis=1)
    se_mean = chain_mean.std(axis=0, ddof=1) / np.sqrt(n_chains)
    np.testing.assert_array_less(np.abs(chain_mean.mean(axis=0) - MEAN), 5 * se_mean)
    chain_var = ((xs - MEAN) ** 2).mean(axis=1)
    rel_var = chain_var.mean(axis=0) * PREC  # sample variance / (1/P)
    rel_se = chain_var.std(axis=0, ddof=1) / np.sqrt(n_chains) * PREC
    assert np.all(rel_se < 0.012)
    np.testing.assert_array_less(lo - 5 * rel_se, rel_var)
    np.testing.assert_array_less(rel_var, hi + 0.01 + 5 * rel_se)


def test_a_frozen_preconditioner_samples_the_ula_law_exactly():
    # After adapt_steps the per-coordinate step e_j is fixed, the kernel is ULA per coordinate
    # (module docstring), and the stationary variance is 1 / (P_j (1 - e_j P_j / 4)) with that
    # chain's own e_j: no adaptation bias (a cold-started adaptive chain reads ~+3% here, see
    # above). 400 chains adapt for 300 steps from one sd out, then run 2300 frozen steps; the
    # first 700 of those are discarded (the slowest coordinate contracts by (1 - e P/2)^700 <
    # 1e-4). Each chain's time average of (x - m)^2 / var_expected has mean 1; 5 SE allowed.
    eps, n_chains, adapt, n_steps, burn = 3e-3, 400, 300, 2600, 1000
    alg = rmsprop_sgld(POSTERIOR, eps, adapt_steps=adapt)
    state0 = alg.init(_to_tree(MEAN + 1.0 / np.sqrt(PREC)))

    def chain(key):
        def body(state, k):
            state, info = alg.step(k, state, BATCH)
            return state, jnp.concatenate(jax.tree.leaves(state.position))

        last, xs = jax.lax.scan(body, state0, jax.random.split(key, n_steps))
        corr = 1.0 - 0.999**adapt
        e = eps / (jnp.sqrt(jnp.concatenate(jax.tree.leaves(last.square_avg)) / corr) + 1e-8)
        return xs, e

    xs, e = jax.jit(jax.vmap(chain))(jax.random.split(jax.random.key(6), n_chains))
    xs, e = np.asarray(xs, np.float64)[:, burn:], np.asarray(e, np.float64)
    var = 1.0 / (PREC * (1.0 - e * PREC / 4.0))  # (chain, coordinate)
    assert np.all(e * PREC < 1.0)
    ratio = ((xs - MEAN) ** 2).mean(axis=1) / var
    se = ratio.std(axis=0, ddof=1) / np.sqrt(n_chains)
    assert np.all(se < 0.015)
    np.testing.assert_array_less(np.abs(ratio.mean(axis=0) - 1.0), 5 * se)


def test_a_point_where_every_gradient_vanishes_takes_the_base_step():
    # f(w) = w0 * w1 at the origin: every per-sample gradient of the loss is exactly 0, as at
    # the rank-0 teacher of reduced-rank regression. The reference rule would step
    # sqrt(eps / a) = 10 here; the coordinate has no scale yet, so it takes the base step.
    def loss(w, batch):
        return 0.5 * jnp.mean((batch["y"] - batch["x"] * w[0] * w[1]) ** 2)

    rng = np.random.default_rng(1)
    batch = {"x": jnp.asarray(rng.normal(size=64)), "y": jnp.asarray(rng.normal(size=64))}
    origin = jnp.zeros(2)
    eps = 1e-6
    alg = rmsprop_sgld(localized_posterior(loss, origin, nbeta=100.0, gamma=1.0), eps)
    state = alg.init(origin, jax.random.key(0))
    state, info = alg.step(jax.random.key(1), state, batch)
    assert float(info.grad_norm) == 0.0
    assert float(info.step_size) == pytest.approx(eps)
    # The move is sqrt(eps) * xi: a few times 1e-3, not 10.
    assert float(jnp.max(jnp.abs(state.position))) < 10 * np.sqrt(eps)
    # After the first move the gradients are non-zero and the preconditioner takes over.
    state, info = alg.step(jax.random.key(2), state, batch)
    assert float(info.grad_norm) > 0 and float(info.step_size) != pytest.approx(eps)
