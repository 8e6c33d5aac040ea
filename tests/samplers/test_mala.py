"""The MALA acceptance probability against an independent numpy implementation of the formula

A = min(1, exp[U(w) - U(w') + log q(w | w') - log q(w' | w)]),  U = -log p,
log q(w' | w) = -sum_j (w'_j - w_j - (e_j / 2) d_j log p(w))^2 / (2 e_j),

on a non-Gaussian (quartic) localized tempered posterior with a pytree position.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slt.posterior import evaluate, localized_posterior
from slt.samplers.mala import acceptance_probability

NBETA, GAMMA = 5.0, 2.0
_rng = np.random.default_rng(0)
DATA = _rng.normal(size=(6, 10))  # 6 samples, 10 = 2*3 + 4 coordinates
CENTER = _rng.normal(size=10)


def _to_tree(flat):
    flat = jnp.asarray(flat, jnp.float32)
    return {"a": flat[:6].reshape(2, 3), "b": flat[6:]}


def _flat(t):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(t)])


def _loss_fn(w, batch):
    # L(w) = mean_i sum_j (w_j - x_ij)^4 / 4, the batch holding the x_i as the same pytree
    t = jax.tree.map(lambda p, x: jnp.sum((p - x) ** 4, axis=tuple(range(1, x.ndim))), w, batch)
    return 0.25 * jnp.mean(sum(jax.tree.leaves(t)))


BATCH = {"a": jnp.asarray(DATA[:, :6].reshape(6, 2, 3), jnp.float32), "b": DATA[:, 6:]}
POSTERIOR = localized_posterior(_loss_fn, _to_tree(CENTER), nbeta=NBETA, gamma=GAMMA)


def _np_log_p(w):
    return -NBETA * 0.25 * np.mean(np.sum((w - DATA) ** 4, axis=1)) - 0.5 * GAMMA * np.sum(
        (w - CENTER) ** 2
    )


def _np_grad_log_p(w):
    return -NBETA * np.mean((w - DATA) ** 3, axis=0) - GAMMA * (w - CENTER)


def _np_acceptance(w, w_new, eps):
    def log_q(to, frm):
        return -np.sum((to - frm - 0.5 * eps * _np_grad_log_p(frm)) ** 2 / (2 * eps))

    log_ratio = _np_log_p(w_new) - _np_log_p(w) + log_q(w, w_new) - log_q(w_new, w)
    return min(1.0, np.exp(log_ratio))


@jax.jit
def _acceptance(w, w_new, eps):
    return acceptance_probability(POSTERIOR, BATCH, w, evaluate(POSTERIOR, w, BATCH), w_new, eps)


@pytest.mark.parametrize("per_coordinate", [False, True])
def test_matches_numpy_formula(per_coordinate):
    rng = np.random.default_rng(1 if per_coordinate else 2)
    got, want = [], []
    for _ in range(20):
        w = CENTER + 0.3 * rng.normal(size=10)
        eps = rng.uniform(0.005, 0.03, size=10) if per_coordinate else np.full(10, 0.015)
        # a proposal that is not the Langevin one: the formula holds for any w'
        w_new = w + 0.3 * np.sqrt(eps) * rng.normal(size=10)
        got.append(float(_acceptance(_to_tree(w), _to_tree(w_new), _to_tree(eps))))
        want.append(_np_acceptance(w, w_new, eps))
    got, want = np.array(got), np.array(want)
    # the comparison is meaningful: many of these proposals are neither sure nor hopeless
    assert np.sum((want > 0.02) & (want < 0.98)) >= 5
    # float32 log densities of size ~10-100 differ in the 6th digit, so A agrees to ~1e-5
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_scalar_step_broadcast_equals_per_coordinate_constant():
    w, w_new = _to_tree(CENTER + 0.2), _to_tree(CENTER - 0.1)
    eps = 0.02
    tree_eps = jax.tree.map(lambda x: jnp.full_like(x, eps), w)
    a = float(_acceptance(w, w_new, tree_eps))
    np.testing.assert_allclose(a, _np_acceptance(_flat(w), _flat(w_new), np.full(10, eps)), 1e-3)


def test_one_when_staying_at_a_stationary_point():
    # At the mode of a Gaussian the gradient vanishes, so proposing w' = w gives log ratio 0.
    center = {"a": jnp.ones((2, 3)), "b": jnp.full((4,), -1.0)}
    post = localized_posterior(lambda w, b: jnp.zeros(()), center, nbeta=1.0, gamma=3.0)
    ev = evaluate(post, center, None)
    eps = jax.tree.map(lambda x: jnp.full_like(x, 0.1), center)
    assert float(acceptance_probability(post, None, center, ev, center, eps)) == 1.0
    # and moving away from the mode along the Langevin path is accepted with A < 1
    away = jax.tree.map(lambda x: x + 0.5, center)
    assert float(acceptance_probability(post, None, center, ev, away, eps)) < 1.0


def test_nan_log_ratio_gives_zero():
    w = _to_tree(CENTER)
    eps = jax.tree.map(lambda x: jnp.full_like(x, 0.01), w)
    bad = {"a": w["a"].at[0, 1].set(jnp.nan), "b": w["b"]}
    assert float(_acceptance(w, bad, eps)) == 0.0
    # a loss that is NaN at the proposal only
    post = localized_posterior(
        lambda p, b: jnp.where(p["b"][0] > 100.0, jnp.nan, 0.0),
        _to_tree(CENTER),
        nbeta=1.0,
        gamma=1.0,
    )
    far = {"a": w["a"], "b": w["b"].at[0].set(200.0)}
    ev = evaluate(post, w, None)
    assert float(acceptance_probability(post, None, w, ev, far, eps)) == 0.0
    # an infinite energy at the proposal (log p = -inf) is rejected too
    post_inf = localized_posterior(
        lambda p, b: jnp.where(p["b"][0] > 100.0, jnp.inf, 0.0),
        _to_tree(CENTER),
        nbeta=1.0,
        gamma=1.0,
    )
    ev = evaluate(post_inf, w, None)
    assert float(acceptance_probability(post_inf, None, w, ev, far, eps)) == 0.0
