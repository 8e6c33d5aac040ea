"""Progress lines: one host call per chunk of steps, silent off a terminal, results unchanged."""

import io
import sys
import threading

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import slt
from slt.posterior import localized_posterior
from slt.progress import Progress, block_items, chunk_size, chunked_scan, resolve
from slt.samplers.run import Settings, _compiled, run_chains
from slt.samplers.sgld import sgld
from slt.workflows.llc import LocalSampler
from slt.workflows.tempered import TemperedSampler

RNG = np.random.default_rng(0)
X = RNG.normal(size=(100, 2)).astype(np.float32)
Y = (X @ np.array([1.0, -1.0]) + RNG.normal(size=100)).astype(np.float32)
DATA = {"x": X, "y": Y}
W = jnp.zeros(2)


def loss(w, b):
    return 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)


BUILDER = LocalSampler("sgld", loss)
HYPER = {"gamma": 1.0, "step_size": 1e-3}
# 40 burn-in steps + 130 draws of 2 steps = 300 steps per chain; chunk 3.
KW = dict(nbeta=50.0, num_chains=3, num_draws=130, num_burnin=40, steps_per_draw=2, batch_size=20)
TOTAL = 300


@pytest.fixture
def steps(monkeypatch):
    """Every step reported to any Progress (one entry per host callback)."""
    seen: list[int] = []
    update = Progress.update

    def spy(self, step):
        seen.append(step)
        update(self, step)

    monkeypatch.setattr(Progress, "update", spy)
    return seen


def _tty(monkeypatch, value=True):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: value)


def _run(progress, **kw):
    return run_chains(
        jax.random.key(3), BUILDER, loss, W, DATA, hyper=HYPER, progress=progress, **(KW | kw)
    )


def _same(a, b):
    for name in ("init_loss", "init_loss_sd"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for group in ("sample_stats", "warmup_stats"):
        x, y = getattr(a, group), getattr(b, group)
        assert x.keys() == y.keys()
        for name in x:
            np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def test_one_host_call_per_chunk_not_per_step_or_chain(steps, capsys):
    chunk = chunk_size(TOTAL)
    assert chunk == 3
    on = _run(True)
    # One call per block of about `chunk` steps (reporting the steps done before it): the step
    # counter is shared by the chains, so vmap does not make it one per chain (3 chains x 300
    # steps). Burn-in: blocks of 4 steps (40 has no divisor 3); draws of 2 steps: blocks of 2.
    assert steps == list(range(0, 40, 4)) + list(range(40, TOTAL, 4))
    assert TOTAL // chunk // 2 <= len(steps) <= TOTAL // chunk
    off = _run(False)
    assert len(steps) == 75  # no further calls
    _same(on, off)  # bit for bit
    err = capsys.readouterr().err
    assert err.startswith("\rllc: 0/300 steps (0%)") and err.endswith("\n")
    assert "llc: 300/300 steps (100%)" in err and "steps/s" in err


def test_a_built_sampler_reports_too_and_is_unchanged(steps, capsys):
    alg = sgld(localized_posterior(loss, W, nbeta=50.0, gamma=1.0), 1e-3)
    kw = dict(KW, num_draws=30, num_burnin=0, steps_per_draw=1)
    on = run_chains(jax.random.key(1), alg, loss, W, DATA, progress=True, label="mine", **kw)
    off = run_chains(jax.random.key(1), alg, loss, W, DATA, **kw)
    assert steps == list(range(30))  # chunk 1
    _same(on, off)
    assert "mine: 30/30 steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("length", "target", "every"),
    [(1250, 12, 10), (40, 3, 4), (1000, 15, 20), (150, 100, 75), (10, 3, 2), (12, 12, 12)],
)
def test_block_items_divides_the_loop_near_the_target(length, target, every):
    assert block_items(length, target) == every
    assert length % every == 0


@pytest.mark.parametrize("length", [1009, 7])  # primes: no divisor near the target
def test_block_items_falls_back_to_the_target(length):
    assert block_items(length, 3 if length == 7 else 10) == (3 if length == 7 else 10)


@pytest.mark.parametrize(("length", "loops"), [(1250, 2), (1009, 3)])
def test_a_chunked_loop_holds_its_body_once_when_it_divides(length, loops):
    # 1250 steps report every 10: the blocks' loop and the loop in a block. A prime length
    # needs a third loop, the body's second copy, for its tail.
    def f(carry, step):
        return carry + step, 2 * step

    def run(starts):
        return chunked_scan(f, jnp.int32(0), starts, run_id=jnp.int32(-1), chunk=12)

    starts = jnp.arange(length)
    assert jax.jit(run).lower(starts).as_text().count("stablehlo.while") == loops
    carry, ys = jax.jit(run)(starts)  # run -1 is not registered: the reports go nowhere
    np.testing.assert_array_equal(ys, 2 * np.arange(length))
    assert int(carry) == length * (length - 1) // 2


def test_progress_off_compiles_no_callback():
    keys = jax.random.split(jax.random.key(0), 3)
    hyper = HYPER | {"nbeta": 50.0}
    settings = Settings(3, 130, 40, 2, 20)
    assert settings.progress is False  # the default: today's program
    off = _compiled(BUILDER, loss, settings, False).lower(keys, W, DATA, hyper).as_text()
    on = _compiled(BUILDER, loss, settings._replace(progress=True), False)
    on_text = on.lower(keys, W, DATA, hyper, np.int32(1)).as_text()
    assert "callback" in on_text and "custom_call" in on_text
    assert "callback" not in off and "custom_call" not in off


def test_silent_off_a_terminal_or_when_switched_off(steps, capsys, monkeypatch):
    kw = dict(num_chains=2, num_draws=20, num_burnin=5, batch_size=20, step_size=4e-4, nbeta=50.0)
    slt.llc(loss, W, DATA, **kw)  # "auto", and pytest's stderr is no terminal
    _tty(monkeypatch)
    slt.llc(loss, W, DATA, progress=False, **kw)
    assert steps == []
    assert capsys.readouterr().err == ""
    slt.llc(loss, W, DATA, **kw)  # "auto" on a terminal
    assert steps
    err = capsys.readouterr().err
    assert "llc: 25/25 steps (100%)" in err and err.endswith("\n")


def test_resolve():
    tty, pipe = io.StringIO(), io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert resolve("auto", tty) and not resolve("auto", pipe)
    assert resolve(True, pipe) and not resolve(False, tty)
    with pytest.raises(ValueError, match="progress"):
        resolve("yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="progress"):
        slt.llc(loss, W, DATA, batch_size=20, progress="always")  # type: ignore[arg-type]


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_the_line_has_steps_rate_and_time_left():
    out, clock = io.StringIO(), Clock()
    with Progress(1000, label="llc", stream=out, clock=clock) as bar:
        assert bar.chunk == 10 and bar.id is not None
        bar.update(0)
        clock.t += 1.0
        bar.update(200)
        line = out.getvalue().split("\r")[-1]
        assert line == "llc: 200/1000 steps (20%), 200 steps/s, 4 s left"
        clock.t += 0.05  # rate-limited: not drawn, but counted
        bar.update(300)
        assert out.getvalue().split("\r")[-1] == line
        clock.t += 0.05
        bar.update(250)  # a late report from another device: the maximum stays
        assert bar.done == 300
        clock.t += 0.9
        bar.update(400)
        assert out.getvalue().split("\r")[-1].startswith("llc: 400/1000 steps (40%), 200 steps/s")
        clock.t += 3.0
    assert out.getvalue().endswith("llc: 1000/1000 steps (100%), 200 steps/s, done in 5.0 s\n")
    bar.update(10)  # after the run: ignored
    assert bar.done == 1000


def test_a_disabled_or_failed_run():
    out = io.StringIO()
    with Progress(50, stream=out, enabled=False) as bar:
        assert bar.id is None
        bar.update(10)
    assert out.getvalue() == ""
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress(50, stream=out, clock=Clock()) as bar:
        bar.update(10)
        raise RuntimeError
    assert out.getvalue().endswith("llc: 10/50 steps (20%) (stopped)\n")


def test_callbacks_from_several_threads():
    out = io.StringIO()
    with Progress(10_000, stream=out) as bar:
        threads = [
            threading.Thread(target=lambda: [bar.update(s) for s in range(0, 10_000, 100)])
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bar.done == 9900 and bar.calls == 400
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def model(x):
    w = numpyro.sample("w", dist.Normal(0.0, 2.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", dist.Normal(w, 1.0), obs=x)


def test_tempered_sampler_reports_per_chunk_and_is_unchanged(steps, capsys):
    x = np.random.default_rng(0).normal(0.7, 1.0, size=30).astype(np.float32)
    # MALA compiles faster than NUTS; both run through the same scans.
    kw = dict(
        sampler="mala", num_chains=2, num_warmup=100, num_samples=150, keep_log_likelihood=False
    )
    on = TemperedSampler(model, {"x": x}, progress=True, **kw).fit(0.25, seed=1)
    assert steps == list(range(0, 250, 2))  # chunk 2, over warm-up and draws
    off = TemperedSampler(model, {"x": x}, progress=False, **kw).fit(0.25, seed=1)
    assert len(steps) == 125
    np.testing.assert_array_equal(on.energy, off.energy)
    for name in ("lp", "step_size", "n_steps"):
        np.testing.assert_array_equal(
            on.datatree["sample_stats"][name].values, off.datatree["sample_stats"][name].values
        )
    err = capsys.readouterr().err
    assert "mala β=0.25: 250/250 steps (100%)" in err and err.endswith("\n")


def test_long_draws_and_kept_positions_report_inside_them(steps):
    # 2 groups of 5 draws of 30 steps (300 steps, chunk 3): reports come from every level.
    kw = dict(num_draws=10, num_burnin=0, steps_per_draw=30, params_every=5)
    on, off = _run(True, **kw), _run(False, **kw)
    assert sorted(set(steps)) == list(range(0, TOTAL, 3))
    _same(on, off)
    assert on.positions is not None and on.positions.shape == (3, 2, 2)
    np.testing.assert_array_equal(on.positions, off.positions)
