"""The chain driver: layout, memory, and sharding over (simulated) devices."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from slt.posterior import localized_posterior
from slt.samplers.run import chain_devices, run_chains
from slt.samplers.sgld import sgld


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0]) + rng.normal(size=200)).astype(np.float32)

    def loss(w, b):
        return 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)

    return loss, jnp.zeros(2), {"x": x, "y": y}


def test_layout_is_chain_draw_and_only_scalars_are_kept():
    loss, w, data = _problem()
    alg = sgld(localized_posterior(loss, w, nbeta=50.0, gamma=1.0), 1e-3)
    trace = run_chains(
        jax.random.key(0),
        alg,
        loss,
        w,
        data,
        nbeta=50.0,
        num_chains=3,
        num_draws=7,
        num_burnin=5,
        steps_per_draw=2,
        batch_size=20,
    )
    assert trace.init_loss.shape == (3,)
    assert trace.positions is None
    for name, value in trace.sample_stats.items():
        assert value.shape == (3, 7), name
    for value in trace.warmup_stats.values():
        assert value.shape == (3, 5)


def test_chain_devices_divides_the_chain_count():
    k = len(chain_devices(6))
    assert 6 % k == 0 and 1 <= k <= len(jax.devices())


SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np, slt
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x @ np.array([1.0, 2.0, 3.0]) + rng.normal(size=400)).astype(np.float32)
    loss = lambda p, b: 0.5 * jnp.mean((b["y"] - b["x"] @ p["w"]) ** 2)
    w = {"w": jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0], jnp.float32)}
    kw = dict(num_chains=8, num_draws=100, num_burnin=20, batch_size=40, step_size=8e-4, seed=5)
    # the default kernel, and the random-sign noise with a separate burn-in step
    for extra in ({}, {"noise": "rademacher", "burnin_step_size": 2e-3}):
        a = slt.llc(loss, w, {"x": x, "y": y}, shard=True, **kw, **extra)
        b = slt.llc(loss, w, {"x": x, "y": y}, shard=False, **kw, **extra)
        assert a.datatree.attrs["num_devices"] == 4 and b.datatree.attrs["num_devices"] == 1
        la = a.datatree["sample_stats"]["loss"].values
        lb = b.datatree["sample_stats"]["loss"].values
        np.testing.assert_allclose(la, lb, rtol=1e-6, atol=0)
        np.testing.assert_allclose(a.llc, b.llc, rtol=1e-6)
        print("max abs diff", float(np.max(np.abs(la - lb))))
    """
)


def test_sharded_and_unsharded_runs_agree_on_four_host_devices():
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_the_mala_diagnostic_every_kth_step_is_nan_elsewhere_and_the_chain_unchanged():
    data = {"x": jnp.linspace(-1.0, 1.0, 64)}
    loss = lambda w, b: 0.5 * jnp.mean((b["x"] - w) ** 2)
    center = jnp.zeros(())
    post = localized_posterior(loss, center, nbeta=10.0, gamma=1.0)
    settings = dict(nbeta=10.0, num_chains=2, num_draws=12, num_burnin=4, batch_size=16)
    every = run_chains(
        jax.random.key(0),
        sgld(post, 1e-3, mala=True),
        loss,
        center,
        data,
        diagnostic_every=4,
        **settings,
    )
    always = run_chains(
        jax.random.key(0), sgld(post, 1e-3, mala=True), loss, center, data, **settings
    )
    acc = every.sample_stats["acceptance_rate"]
    recorded = (4 + np.arange(12)) % 4 == 0  # the global step index counts the burn-in
    assert np.isfinite(acc[:, recorded]).all() and np.isnan(acc[:, ~recorded]).all()
    np.testing.assert_allclose(
        acc[:, recorded], always.sample_stats["acceptance_rate"][:, recorded], rtol=1e-5
    )
    # The diagnostic does not touch the transition: the same loss trace, step for step (up to
    # the rounding of two differently fused programs).
    np.testing.assert_allclose(every.sample_stats["loss"], always.sample_stats["loss"], rtol=1e-6)
