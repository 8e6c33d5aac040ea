r"""Per-step cost of one SGLD step in ``slt`` against a plain SGD step, on CPU.

Run ``python bench/sgld_overhead.py`` (``--help`` for the options). The last line,
``overhead_ratio=X``, is the headline: the per-step time of
:func:`slt.samplers.run.run_chains` running :func:`slt.samplers.sgld.sgld` on
:func:`slt.posterior.localized_posterior` (1 chain, minibatches drawn inside the scan, every
per-step diagnostic on: ``loss``, ``lp``, ``step_size``, ``grad_norm``, ``distance``,
``diverging``) over the per-step time of a plain SGD step ``w - lr * grad(loss)(w, batch)`` on a
fixed batch. The target is ``<= 1.2``.

Model and data
    An MLP ``width_in -> width -> width -> classes`` with tanh (64 -> 256 -> 256 -> 10 by default:
    85,002 parameters, printed exactly), parameters as a dict pytree, at a random (Glorot) point
    :math:`w^*`. The data are ``n`` = 10,000 Gaussian inputs labelled by a random teacher MLP; the
    loss is the mean softmax cross-entropy (the NLL). Timings do not depend on the point, and the
    step size is small enough that no chain diverges (checked and printed).

How each number is measured
    *Scan timings* (SGD baseline and the breakdown variants): ``steps`` steps run as one
    ``jax.lax.scan`` inside one ``jit``, compiled ahead of time and called once to warm up; a
    repetition is one call with ``block_until_ready`` and per step = wall / steps. The batch (or
    the whole dataset, for variants that draw minibatches) is a ``jit`` argument, never a
    constant.

    *Driver timings* (``run_chains``): ``run_chains`` builds one program (initial-loss epoch of
    ``n // batch_size`` forward passes, then the scan over steps, under ``vmap`` over chains) and
    jits a fresh closure of it on every call, so a call costs a full trace and compilation
    (6-25 s here, depending on load). By default (``--driver-timing exec``) the bench runs
    ``run_chains`` with its module's ``jax.jit`` replaced, for that one call, by a stand-in that
    records the function and arguments and stops; that very program (checked to reproduce
    ``run_chains``' trace bit for bit) is compiled ahead of time for K1 and K2 draws and each
    repetition executes it with ``block_until_ready``. Per step = (t(K2) - t(K1)) / (K2 - K1),
    K1 = ``--k1``, K2 = K1 + ``steps`` (for the ``--chains`` run K1 = k1 / chains,
    K2 = K1 + steps / 2): the difference cancels the initial-loss epoch. The compile times are
    printed for K1 and K2: they do not grow with K (the scan length is a constant of an unchanged
    loop body). With ``--driver-timing calls`` a repetition is instead a whole ``run_chains``
    call; compilation is then loaded from a private persistent compilation cache (filled by a
    warm-up call) and the trace/lowering/compile durations JAX reports through
    ``jax.monitoring`` are subtracted, before the same difference. Slower and noisier (about 1 s
    of host work per call), it exercises the public entry point end to end.

    Repetitions of all measurements are interleaved (rep 1 of every variant, then rep 2, ...) so
    background load hits them alike. The headline uses the **minimum** over repetitions (the
    least disturbed run on a shared machine; for drivers, min t(K2) - min t(K1)); the median is
    printed beside it. ``cpu ms`` is the process CPU time (all threads) per step, measured the
    same way: it grows less than wall time when other jobs take the cores, but counts both
    threads when XLA runs a matmul on two, so its ratios are not wall-time ratios (the noise is
    generated on one thread, the matmuls on up to two).

Breakdown rows (where the overhead comes from)
    ``sgd + gather``: SGD on minibatches drawn by the library's batcher (``slt.data.batch_at``:
    epoch permutation under ``cond`` plus a gather). ``kernel (lib)``: ``sgld(...).step`` in a
    scan on a fixed batch, and with the library's minibatches inside ``vmap`` over one chain (the
    driver's step minus its bookkeeping: ``distance``, divergence flag, nested scans).
    ``bare ...``: the same update written out here, with the library's noise
    (``slt.tree.tree_normal_like``), with the proposed noise (below), or without noise, with or
    without diagnostics (``lp``, ``grad_norm``, ``distance``, divergence test), and ``vmap1`` =
    inside ``vmap`` over one chain as ``run_chains`` does. ``noise ...``: the noise of one step
    alone (``x + 1e-3 * z``), per generator: the library's per-leaf ``jax.random.normal`` under
    the default ``jax_threefry_partitionable=True`` (one threefry block per 32-bit word), one
    flat draw under ``jax.threefry_partitionable(False)`` (one block per two words), the same
    without the ``erf_inv`` transform (uniform only), and the ``rbg`` key implementation.

    ``run_chains sgld, flat noise`` is ``run_chains`` with ``slt.samplers.sgld.tree_normal_like``
    replaced, in this process only, by :func:`flat_normal_like` (the change proposed for
    ``slt.tree.tree_normal_like``); the slt sources are not modified. It is printed only with
    ``--experiments`` (two more compilations, 10-20 s).

Reading the output
    ``wall ms`` is wall time per step; ``x sgd`` divides by the SGD baseline. For 8 chains,
    ``chains8_over_chains1`` is the wall time of a step of 8 vmapped chains over that of 1 chain
    (8 would mean no gain from vectorisation) and the throughput is chain-steps per second.
    On a machine shared with other jobs, trust ratios of rows measured in the same run more than
    absolute times.
"""

import argparse
import contextlib
import functools
import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from slt.data import Batcher, batch_at
from slt.posterior import evaluate, localized_posterior
from slt.samplers.rmsprop_sgld import rmsprop_sgld
from slt.samplers.run import Trace, run_chains
from slt.samplers.sgld import sgld
from slt.tree import tree_normal_like, tree_size, tree_sq_norm, tree_sub

# The module, not the function that ``slt.samplers`` re-exports under the same name. Typed
# ``Any``: this script replaces some of their attributes for a call.
sgld_module: Any = importlib.import_module("slt.samplers.sgld")
run_module: Any = importlib.import_module("slt.samplers.run")

# --------------------------------------------------------------------------- model and data


def init_mlp(rng: np.random.Generator, sizes: list[int]) -> dict[str, jax.Array]:
    """Glorot-normal weights and zero biases, ``{"W0", "b0", "W1", ...}``."""
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.normal(size=(a, b)) * np.sqrt(2.0 / (a + b))
        params[f"W{i}"] = jnp.asarray(w, jnp.float32)
        params[f"b{i}"] = jnp.zeros((b,), jnp.float32)
    return params


def mlp(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Logits of the tanh MLP."""
    depth = len(params) // 2
    for i in range(depth):
        x = x @ params[f"W{i}"] + params[f"b{i}"]
        if i < depth - 1:
            x = jnp.tanh(x)
    return x


def loss_fn(params: dict[str, jax.Array], batch: dict[str, jax.Array]) -> jax.Array:
    """Mean softmax cross-entropy (the NLL of the categorical model)."""
    logits = mlp(params, batch["x"])
    picked = jnp.take_along_axis(logits, batch["y"][:, None], axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - picked)


def make_data(rng: np.random.Generator, n: int, sizes: list[int]) -> dict[str, jax.Array]:
    """Gaussian inputs, labels sampled from a random teacher MLP's softmax."""
    x = rng.normal(size=(n, sizes[0])).astype(np.float32)
    teacher = init_mlp(rng, sizes)
    logits = np.asarray(mlp(teacher, jnp.asarray(x))) * 3.0
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1).astype(np.int32)
    return {"x": jnp.asarray(x), "y": jnp.asarray(y)}


# --------------------------------------------------------------------------- noise generators


def flat_normal_like(key, a):
    """Proposed ``tree_normal_like``: one flat draw, two 32-bit words per threefry block.

    Same distribution as ``slt.tree.tree_normal_like`` (a different stream): one
    ``jax.random.normal`` over all entries instead of one per leaf (fewer threefry instances to
    compile), traced under ``jax.threefry_partitionable(False)`` so threefry2x32 fills two
    words per hash instead of XOR-ing both words into one.
    """
    leaves, treedef = jax.tree.flatten(a)
    sizes = [int(x.size) for x in leaves]
    dtype = jnp.result_type(*leaves) if leaves else jnp.float32
    with jax.threefry_partitionable(False):
        z = jax.random.normal(key, (sum(sizes),), dtype)
    out, offset = [], 0
    for x, size in zip(leaves, sizes, strict=True):
        out.append(z[offset : offset + size].reshape(x.shape).astype(x.dtype))
        offset += size
    return jax.tree.unflatten(treedef, out)


def flat_uniform_like(key, a):
    """As :func:`flat_normal_like` without the ``erf_inv`` (uniform bits only), for timing."""
    leaves, treedef = jax.tree.flatten(a)
    sizes = [int(x.size) for x in leaves]
    with jax.threefry_partitionable(False):
        z = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
    out, offset = [], 0
    for x, size in zip(leaves, sizes, strict=True):
        out.append(z[offset : offset + size].reshape(x.shape).astype(x.dtype))
        offset += size
    return jax.tree.unflatten(treedef, out)


# --------------------------------------------------------------------------- scan variants


def scan_program(step, steps: int, *, gather: Batcher | None, vmap1: bool = False):
    """``fn(w, data, key)`` running ``step(key_t, w, batch) -> (w, stats)`` for ``steps`` steps.

    With ``gather``, ``data`` is the whole dataset and each step draws its minibatch with the
    library's ``batch_at``; otherwise ``data`` is the fixed batch. With ``vmap1`` the run is
    vmapped over a single chain (key axis of length 1), as ``run_chains`` does.
    """

    def run(w, data, key):
        batch_key, run_key = jax.random.split(key)

        def body(carry, t):
            w, perm = carry
            if gather is None:
                batch = data
            else:
                batch, perm = batch_at(data, gather, batch_key, perm, t)
            w, stats = step(jax.random.fold_in(run_key, t), w, batch)
            return (w, perm), stats

        n = jax.tree.leaves(data)[0].shape[0]
        perm0 = jnp.arange(n) if gather is not None else jnp.zeros((), jnp.int32)
        (w, _), stats = jax.lax.scan(body, (w, perm0), jnp.arange(steps))
        return w, stats

    if vmap1:
        batched = jax.vmap(run, in_axes=(None, None, 0))
        return lambda w, data, key: batched(w, data, key[None])
    return run


def sgd_step(lr: float):
    def step(key, w, batch):
        del key
        g = jax.grad(loss_fn)(w, batch)
        return jax.tree.map(lambda x, gx: x - lr * gx, w, g), {}

    return step


def bare_sgld_step(posterior, center, step_size: float, noise_fn, diagnostics: bool):
    """The SGLD update of ``slt.samplers.sgld`` written out, with a choice of noise/diagnostics."""
    scale = float(np.sqrt(step_size))

    def step(key, w, batch):
        ev = evaluate(posterior, w, batch)
        if noise_fn is None:
            new = jax.tree.map(lambda x, g: x + (0.5 * step_size) * g, w, ev.logdensity_grad)
        else:
            z = noise_fn(key, w)
            new = jax.tree.map(
                lambda x, g, e: x + (0.5 * step_size) * g + scale * e, w, ev.logdensity_grad, z
            )
        if not diagnostics:
            return new, {"loss": ev.loss}
        grad_norm = jnp.sqrt(tree_sq_norm(ev.loss_grad))
        stats = {
            "loss": ev.loss,
            "lp": ev.logdensity,
            "step_size": jnp.asarray(step_size, ev.loss.dtype),
            "grad_norm": grad_norm,
            "distance": jnp.sqrt(tree_sq_norm(tree_sub(w, center))),
            "diverging": ~(jnp.isfinite(ev.loss) & jnp.isfinite(grad_norm)),
        }
        return new, stats

    return step


def library_kernel_step(algorithm):
    def step(key, state, batch):
        state, info = algorithm.step(key, state, batch)
        return state, {k: v for k, v in info._asdict().items() if v is not None}

    return step


def noise_step(noise_fn):
    def step(key, w, batch):
        del batch
        z = noise_fn(key, w)
        return jax.tree.map(lambda x, e: x + 1e-3 * e, w, z), {}

    return step


class ScanBench:
    """A compiled scan variant and its per-repetition wall and CPU times (s per step)."""

    def __init__(self, name: str, fn: Callable, args: tuple, steps: int):
        self.name, self.args, self.steps = name, args, steps
        self.wall: list[float] = []
        self.cpu: list[float] = []
        t0 = time.perf_counter()
        self.compiled = jax.jit(fn).lower(*args).compile()
        self.compile_s = time.perf_counter() - t0
        jax.block_until_ready(self.compiled(*args))

    def rep(self) -> None:
        c0, t0 = time.process_time(), time.perf_counter()
        jax.block_until_ready(self.compiled(*self.args))
        self.wall.append((time.perf_counter() - t0) / self.steps)
        self.cpu.append((time.process_time() - c0) / self.steps)

    def per_step(self, stat=min, clock: str = "wall") -> float:
        return stat(self.wall if clock == "wall" else self.cpu)


# --------------------------------------------------------------------------- driver timings

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_event_seconds: dict[str, float] = {}


def _on_duration(event: str, duration_secs: float, **kwargs: str | int) -> None:
    _event_seconds[event] = _event_seconds.get(event, 0.0) + duration_secs


class _Captured(Exception):
    """Raised by the stand-in ``jax.jit`` to stop ``run_chains`` once its program is known."""


class _JitCapture:
    """Stands in for the ``jax`` module inside ``slt.samplers.run`` for one call.

    Every attribute is ``jax``'s, except ``jit``: ``jit(fn)(*args)`` records the function and
    its arguments and stops the call, so that the very program ``run_chains`` would run can be
    compiled once and executed many times.
    """

    def __init__(self) -> None:
        self.fn: Callable[..., Any] | None = None
        self.args: tuple[Any, ...] | None = None
        self.kwargs: dict[str, Any] | None = None
        self.jit_kwargs: dict[str, Any] = {}

    def __getattr__(self, name: str):
        return getattr(jax, name)

    def jit(self, fn, **jit_kwargs):
        def stop(*args, **kwargs):
            self.fn, self.args, self.kwargs, self.jit_kwargs = fn, args, kwargs, jit_kwargs
            raise _Captured

        return stop


def capture_run_chains(call: Callable[[], object]) -> _JitCapture:
    """The function and arguments that ``call()`` (a ``run_chains`` call) passes to ``jax.jit``."""
    capture, original = _JitCapture(), run_module.jax
    run_module.jax = capture
    try:
        call()
    except _Captured:
        pass
    finally:
        run_module.jax = original
    if capture.fn is None:
        raise RuntimeError(
            "run_chains returned without calling jax.jit(...)(...) through its module's `jax` "
            "name; rerun with --driver-timing calls"
        )
    return capture


class DriverBench:
    """``run_chains`` timed by the difference method; see the module docstring.

    ``mode="exec"``: the program ``run_chains`` jits is captured, compiled ahead of time for K1
    and K2, and each repetition executes it. ``mode="calls"``: each repetition is a whole
    ``run_chains`` call, compilation loaded from the persistent cache and subtracted.
    ``context`` wraps everything that traces (for the noise experiment).
    """

    def __init__(self, name: str, call: Callable[[int], Trace], k1: int, k2: int, *,
                 mode: str = "exec", context=contextlib.nullcontext):  # fmt: skip
        self.name, self.call, self.ks, self.mode = name, call, (k1, k2), mode
        self.wall: dict[int, list[float]] = {k1: [], k2: []}
        self.cpu: dict[int, list[float]] = {k1: [], k2: []}
        self.compile_s: dict[int, float] = {}
        self.programs: dict[int, tuple] = {}
        self.diverged = False
        for k in self.ks:
            if mode == "exec":
                with context():
                    cap = capture_run_chains(functools.partial(call, k))
                    assert cap.fn is not None and cap.args is not None  # else it raised
                    t0 = time.perf_counter()
                    compiled = jax.jit(cap.fn, **cap.jit_kwargs).lower(*cap.args).compile()
                    self.compile_s[k] = time.perf_counter() - t0
                self.programs[k] = (compiled, cap.args)
                out = jax.block_until_ready(compiled(*cap.args))  # warm-up
                self.diverged |= bool(np.any(out[2]["diverging"]))
            else:  # warm-up: compiles and fills the persistent cache
                with context():
                    self.compile_s[k] = self._timed_call(k)[2]
        self.context = context

    def _timed_call(self, k: int) -> tuple[float, float, float]:
        _event_seconds.clear()
        c0, t0 = time.process_time(), time.perf_counter()
        trace = self.call(k)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.diverged |= bool(np.any(trace.sample_stats["diverging"]))
        compile_s = sum(_event_seconds.get(e, 0.0) for e in _COMPILE_EVENTS)
        return wall - compile_s, cpu, compile_s

    def _timed_exec(self, k: int) -> tuple[float, float, float]:
        compiled, call_args = self.programs[k]
        c0, t0 = time.process_time(), time.perf_counter()
        jax.block_until_ready(compiled(*call_args))
        return time.perf_counter() - t0, time.process_time() - c0, 0.0

    def rep(self) -> None:
        for k in self.ks:
            if self.mode == "exec":
                wall, cpu, _ = self._timed_exec(k)
            else:
                with self.context():
                    wall, cpu, _ = self._timed_call(k)
            self.wall[k].append(wall)
            self.cpu[k].append(cpu)

    def per_step(self, stat=min, clock: str = "wall") -> float:
        k1, k2 = self.ks
        times = self.wall if clock == "wall" else self.cpu
        return (stat(times[k2]) - stat(times[k1])) / (k2 - k1)


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=200, help="steps per scan; K2 - K1 for drivers")
    p.add_argument("--k1", type=int, default=40, help="draws of the short run_chains call")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    p.add_argument("--n", type=int, default=10_000, help="dataset size")
    p.add_argument("--width", type=int, default=256, help="hidden width")
    p.add_argument("--inputs", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--step-size", type=float, default=1e-6, help="SGLD epsilon")
    p.add_argument("--lr", type=float, default=1e-3, help="SGD learning rate")
    p.add_argument("--chains", type=int, default=8, help="chains of the vmap comparison")
    p.add_argument(
        "--experiments",
        action="store_true",
        help="also time run_chains with the proposed flat noise (two more compilations)",
    )
    p.add_argument(
        "--driver-timing",
        choices=("exec", "calls"),
        default="exec",
        help="time run_chains' captured program (exec) or whole run_chains calls (calls)",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    cache_dir = None
    if args.driver_timing == "calls":
        cache_dir = tempfile.TemporaryDirectory(prefix="slt-bench-jax-cache-")
        jax.config.update("jax_compilation_cache_dir", cache_dir.name)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        jax.monitoring.register_event_duration_secs_listener(_on_duration)

    rng = np.random.default_rng(args.seed)
    sizes = [args.inputs, args.width, args.width, args.classes]
    center = init_mlp(rng, sizes)
    data = make_data(rng, args.n, sizes)
    n, b, steps = args.n, args.batch_size, args.steps
    d = tree_size(center)
    nbeta = n / np.log(n)
    fixed = jax.tree.map(lambda x: x[:b], data)
    batcher = Batcher(n, b)
    key = jax.random.key(args.seed)
    posterior = localized_posterior(loss_fn, center, nbeta=nbeta, gamma=1.0)

    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform} ({os.cpu_count()} cores), "
        f"prng={jax.config.jax_default_prng_impl}, "
        f"threefry_partitionable={jax.config.jax_threefry_partitionable}"
    )
    print(
        f"MLP {' -> '.join(map(str, sizes))} (tanh), d={d:,} parameters; n={n:,}, b={b}, "
        f"nbeta={nbeta:.1f}, step_size={args.step_size:g}; scan steps={steps}, reps={args.reps}"
    )

    # ---- scan variants: baseline and breakdown
    lib_noise = bare_sgld_step(posterior, center, args.step_size, tree_normal_like, True)
    flat_noise = bare_sgld_step(posterior, center, args.step_size, flat_normal_like, True)
    no_noise = bare_sgld_step(posterior, center, args.step_size, None, True)
    no_noise_nodiag = bare_sgld_step(posterior, center, args.step_size, None, False)
    algorithm = sgld(posterior, args.step_size)
    rbg_key = jax.random.key(args.seed, impl="rbg")
    specs = [
        ("sgd (baseline)", sgd_step(args.lr), None, False, center, key),
        ("sgd + gather", sgd_step(args.lr), batcher, False, center, key),
        ("kernel (lib), fixed batch", library_kernel_step(algorithm), None, False,
         algorithm.init(center, key), key),
        ("kernel (lib), gather, vmap1", library_kernel_step(algorithm), batcher, True,
         algorithm.init(center, key), key),
        ("bare, lib noise", lib_noise, None, False, center, key),
        ("bare, flat noise", flat_noise, None, False, center, key),
        ("bare, no noise", no_noise, None, False, center, key),
        ("bare, no noise, no diag", no_noise_nodiag, None, False, center, key),
        ("bare, no noise, vmap1", no_noise, None, True, center, key),
        ("noise: lib tree_normal_like", noise_step(tree_normal_like), None, False, center, key),
        ("noise: flat, 2 words/block", noise_step(flat_normal_like), None, False, center, key),
        ("noise: flat uniform only", noise_step(flat_uniform_like), None, False, center, key),
        ("noise: lib, rbg key", noise_step(tree_normal_like), None, False, center, rbg_key),
    ]  # fmt: skip
    scans = []
    for name, step, gather, vmap1, w0, k in specs:
        program = scan_program(step, steps, gather=gather, vmap1=vmap1)
        scans.append(ScanBench(name, program, (w0, data if gather else fixed, k), steps))
    t_scans = time.perf_counter() - start

    # ---- run_chains: 1 chain (sgld, mala, rmsprop), 8 chains, and the flat-noise experiment
    def driver(make_alg, num_chains: int):
        def call(k: int):
            return run_chains(
                jax.random.key(args.seed),
                make_alg(),
                loss_fn,
                center,
                data,
                nbeta=nbeta,
                num_chains=num_chains,
                num_draws=k,
                num_burnin=0,
                batch_size=b,
                shard=False,
            )

        return call

    def sgld_alg():
        return sgld(localized_posterior(loss_fn, center, nbeta=nbeta, gamma=1.0), args.step_size)

    def mala_alg():
        post = localized_posterior(loss_fn, center, nbeta=nbeta, gamma=1.0)
        return sgld(post, args.step_size, mala=True)

    def rms_alg():
        post = localized_posterior(loss_fn, center, nbeta=nbeta, gamma=1.0)
        return rmsprop_sgld(post, args.step_size)

    @contextlib.contextmanager
    def flat_noise_patch():
        original = sgld_module.tree_normal_like
        sgld_module.tree_normal_like = flat_normal_like
        try:
            yield
        finally:
            sgld_module.tree_normal_like = original

    k1, k2 = args.k1, args.k1 + steps
    c = args.chains
    kc1, kc2 = max(1, args.k1 // c), max(1, args.k1 // c) + max(10, steps // 2)
    mode = args.driver_timing
    drivers = [
        DriverBench("run_chains sgld", driver(sgld_alg, 1), k1, k2, mode=mode),
        DriverBench("run_chains sgld, mala", driver(mala_alg, 1), k1, k2, mode=mode),
        DriverBench("run_chains rmsprop_sgld", driver(rms_alg, 1), k1, k2, mode=mode),
        DriverBench(f"run_chains sgld, {c} chains", driver(sgld_alg, c), kc1, kc2, mode=mode),
    ]
    if args.experiments:
        drivers.append(
            DriverBench("run_chains sgld, flat noise", driver(sgld_alg, 1), k1, k2, mode=mode,
                        context=flat_noise_patch)
        )  # fmt: skip
    t_compile = time.perf_counter() - start - t_scans

    for _ in range(args.reps):
        for bench in scans + drivers:
            bench.rep()

    # ---- report
    sgd_wall, sgd_cpu = scans[0].per_step(), scans[0].per_step(clock="cpu")
    head = f"{'wall ms':>8s} {'x sgd':>6s} {'median':>7s} {'cpu ms':>7s} {'x sgd':>6s}"

    def row(bench) -> str:
        wall, cpu = bench.per_step(), bench.per_step(clock="cpu")
        median = bench.per_step(statistics.median)
        return (
            f"{bench.name:34s} {wall * 1e3:8.3f} {wall / sgd_wall:6.2f} {median * 1e3:7.3f} "
            f"{cpu * 1e3:7.3f} {cpu / sgd_cpu:6.2f}"
        )

    print(f"\n{'scan variant (one jit, lax.scan)':34s} {head}  compile s")
    for s in scans:
        print(f"{row(s)}  {s.compile_s:5.1f}")
    title = f"run_chains ({mode}, difference)"
    print(f"\n{title:34s} {head}  compile s at K1, K2 (K1, K2)")
    for dr in drivers:
        ka, kb = dr.ks
        print(f"{row(dr)}  {dr.compile_s[ka]:.1f}, {dr.compile_s[kb]:.1f} ({ka}, {kb})")
    diverged = [dr.name for dr in drivers if dr.diverged]
    print("diverging chains: " + (", ".join(diverged) if diverged else "none"))
    one, many = drivers[0].per_step(), drivers[3].per_step()
    print(
        f"throughput (wall): 1 chain {1 / one:,.0f} chain-steps/s, {c} chains {c / many:,.0f} "
        f"chain-steps/s ({c / many * one:.2f}x)"
    )
    print(
        f"wall: scans compiled {t_scans:.0f} s, drivers warmed {t_compile:.0f} s, "
        f"total {time.perf_counter() - start:.0f} s"
    )
    cpu_ratio = drivers[0].per_step(clock="cpu") / sgd_cpu
    print(f"chains{c}_over_chains1={many / one:.2f}")
    print(f"overhead_ratio_cpu={cpu_ratio:.2f}")
    print(f"overhead_ratio={one / sgd_wall:.2f}")
    if cache_dir is not None:
        cache_dir.cleanup()


if __name__ == "__main__":
    main()
