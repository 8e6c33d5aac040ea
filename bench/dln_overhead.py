r"""DLN sizes: the per-step time of an ``slt`` SGLD step over the bare forward-backward.

Run::

    python bench/dln_overhead.py --params 1e5,1e6      # CPU: a few minutes on 2 cores
    python bench/dln_overhead.py --params 1e7,1e8      # GPU (the default sizes are 1e6-1e8)
    python bench/dln_overhead.py --help

On a GPU: install JAX with CUDA in the venv (``pip install -U "jax[cuda12]"``), check that
``python -c "import jax; print(jax.devices())"`` lists the GPU, then run the command above.

What it runs, per size S
    A deep linear network (:mod:`slt.models.dln`) of ``--layers`` square layers of one width
    ``round(sqrt(S / layers))`` (the widths of ``bench/dln_scale.py``: 1e6 -> 4 x 500x500,
    1e8 -> 4 x 5000x5000; the exact count is printed), a rank ``width / 2`` teacher as ``w*``,
    ``--n`` samples (10^5, the ``dln`` suite's), and the ``dln`` suite's SGLD settings (batch
    1000, ε = 2.5e-6, γ = 1, β = 0.3 / log n; ``--batch-size`` and ``--step-size`` override).
    Each size runs in its own subprocess, so an out-of-memory error (or a worker killed by the
    system) is reported as ``FAILED`` for that size and the next size goes on.

Rows (per step; all scans compiled ahead of time, as in ``bench/sgld_overhead.py``)
    ``(a) fwd-bwd``: ``jax.value_and_grad(dln.loss)(w, batch)`` in a ``lax.scan`` over a fixed
    batch (a ``jit`` argument). The carry is ``(acc, grad)``: the step's loss is added to
    ``acc`` and its gradient replaces ``grad``, and the batch's inputs are ``x + 0 * acc`` -- a
    dependence on the carry that XLA keeps (it does not fold ``0 * a`` for floats), without
    which the loop-invariant forward-backward could be hoisted out of the loop.
    ``(b) sgd + gather``: ``w - lr * grad`` on minibatches drawn inside the scan by the
    library's batcher (``slt.data.batch_at``), as the ``sgd + gather`` row of
    ``bench/sgld_overhead.py``.
    ``(c) slt.llc sgld``: the program ``slt.llc(..., sampler="sgld", num_chains=1)`` compiles
    (``run_chains`` with the :class:`~slt.workflows.llc.LocalSampler` builder: SGLD on the
    localized posterior, 1 chain under ``vmap``, minibatches in the scan, every diagnostic on;
    the plain loss trace, ``trace="minibatch"``, since the default control-variate trace adds
    a forward pass that is not part of the step),
    captured by replacing ``jax.jit`` in ``slt.samplers.run`` for one call, compiled for K1 and
    K2 draws and executed; per step = (t(K2) - t(K1)) / (K2 - K1), which cancels the
    initial-loss epoch (``n / batch`` forward passes). The per-step cost does not depend on n
    (a minibatch is b gathered rows; the epoch permutation is amortised over n / b steps), so a
    smaller ``--n`` (e.g. 20000) only shortens that epoch, and with it the noise of the
    difference on a loaded machine.
    ``(c') noise='rademacher'``: the same program with ``slt.llc(..., noise="rademacher")``,
    random signs for the injected noise (:func:`slt.tree.tree_rademacher_like`, 32 per random
    word, no ``erf_inv``); its ratio to (a) is printed as ``rademacher: overhead_ratio``.
    With ``--breakdown`` (the default), rows that split (c) up: SGD on the fixed batch (the
    gather's cost is (b) minus it), the library kernel ``sgld(...).step`` on a fixed batch and
    with gathered minibatches under ``vmap`` over one chain (the driver's step without its
    bookkeeping), the SGLD update written out without noise with and without the diagnostics
    (``lp``, ``grad_norm``, ``distance``, divergence test), and the noise of one step alone
    (``slt.tree.tree_normal_like`` and ``w + 1e-3 z``; the same with
    ``slt.tree.tree_rademacher_like``).
    Repetitions are interleaved (rep 1 of every row, then rep 2, ...); ``ms/step`` is the
    minimum over repetitions (for (c): min t(K2) - min t(K1)), the median beside it.
    ``overhead_ratio`` = (c) / (a), the issue's target being <= 1.1 from 10^6 parameters;
    ``c/b`` = (c) / (b); ``overhead_ratio_cpu`` is (c) / (a) in process CPU time (all threads),
    steadier than wall time when other jobs share the cores, but not a wall-time ratio: it
    counts both threads of a matmul that XLA splits over two cores and one for the noise.

Bytes and FLOPs (a model, stated; the achieved rates are this model over the measured time)
    P parameters, b batch, widths H_0..H_L, 4-byte words. FLOPs per step, the same for every row
    (the update's ~10 P flops are < 0.2% of it at b = 1000):
    ``2 b P`` forward + ``2 b P`` weight gradients + ``2 b (P - P_0)`` input gradients (none for
    the first layer, whose input is data): 6 b P less 2 b P_0, i.e. 5.5 b P for 4 equal layers.
    Words moved per step, assuming ideal fusion (a lower bound on the real traffic):
    (a) ``3 P + 4 b ΣH`` -- the weights read in the forward and again in the backward, the
    gradient written once, every activation written once and read about three times; (b) adds
    ``3 P`` (read w and the gradient, write w) and ``2 b (H_0 + H_L)`` (the gathered rows read
    and written); (c) adds ``4 P`` (read w, the gradient and w*, write w; the noise generated in
    the update's fusion, ``grad_norm`` and ``distance`` computed from the same reads) and the
    gather. On a GPU the rates are printed as a fraction of the datasheet peaks of the
    device (``_PEAKS``: HBM bandwidth, dense FP32 and TF32 tensor-core FLOP rate; at JAX's
    default matmul precision XLA computes float32 dots with TF32 on these GPUs, so the TF32 peak
    is the one that applies unless ``jax_default_matmul_precision`` is ``"highest"``/"float32").
    On a CPU the peak is not known: the achieved GB/s and GFLOP/s are printed alone.
"""

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

# Datasheet peaks, dense (no sparsity): device_kind substring -> (HBM TB/s, FP32 TFLOP/s,
# TF32 tensor-core TFLOP/s). More specific names first (matched in order).
_PEAKS: list[tuple[str, tuple[float, float, float]]] = [
    ("H200 NVL", (4.8, 60.0, 417.5)),
    ("H200", (4.8, 66.9, 494.7)),
    ("H100 NVL", (3.9, 60.0, 417.5)),
    ("H100 PCIe", (2.0, 51.2, 378.0)),
    ("H100", (3.35, 66.9, 494.7)),  # SXM5, device_kind "NVIDIA H100 80GB HBM3"
    ("A100-SXM4-80GB", (2.039, 19.5, 156.0)),
    ("A100-SXM4-40GB", (1.555, 19.5, 156.0)),
    ("A100 80GB PCIe", (1.935, 19.5, 156.0)),
    ("A100-PCIE-40GB", (1.555, 19.5, 156.0)),
]


def _load(name: str) -> ModuleType:
    """A sibling bench script as a module (``bench/`` is not a package)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dln_scale = _load("dln_scale")  # imports no JAX at module level


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--params",
        type=dln_scale.parse_sizes,
        default=dln_scale.parse_sizes("1e6,1e7,1e8"),
        help="comma-separated target parameter counts (default 1e6,1e7,1e8)",
    )
    p.add_argument("--layers", type=int, default=4, help="square weight matrices (default 4)")
    p.add_argument("--rank-fraction", type=float, default=0.5, help="teacher rank / width")
    p.add_argument("--n", type=int, default=100_000, help="samples (default 10^5, the suite's)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the dln suite's (1000)")
    p.add_argument("--step-size", type=float, default=None, help="default: the dln suite's")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps per scan and K2 - K1 (default: chosen so that (a) runs --seconds)",
    )
    p.add_argument("--seconds", type=float, default=2.0, help="target wall time of a (a) scan")
    p.add_argument("--min-steps", type=int, default=10, help="floor of the automatic --steps")
    p.add_argument("--k1", type=int, default=2, help="draws of the short slt.llc program")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    p.add_argument(
        "--breakdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the rows that split (c) up (default on)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.layers < 1 or args.n < 2 or args.reps < 1 or args.k1 < 1:
        p.error("need --layers >= 1, --n >= 2, --reps >= 1, --k1 >= 1")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be >= 1")
    args.sampler = "sgld"  # for dln_scale.llc_settings
    return args


# --------------------------------------------------------------------------- cost model


def cost_model(widths: list[int], b: int) -> dict[str, float]:
    """FLOPs per step and the 4-byte words each row moves (see the module docstring)."""
    params = sum(h0 * h1 for h0, h1 in zip(widths[:-1], widths[1:], strict=True))
    first = widths[0] * widths[1]
    flops = 2 * b * params + 2 * b * params + 2 * b * (params - first)
    act = 4 * b * sum(widths)
    gather = 2 * b * (widths[0] + widths[-1])
    return {
        "params": params,
        "flops": flops,
        "words_a": 3 * params + act,
        "words_b": 6 * params + act + gather,
        "words_c": 7 * params + act + gather,
    }


def device_peaks(kind: str) -> tuple[float, float, float] | None:
    """``(HBM TB/s, FP32 TFLOP/s, TF32 TFLOP/s)`` of a GPU ``device_kind``, else ``None``."""
    for name, peaks in _PEAKS:
        if name.lower() in kind.lower():
            return peaks
    return None


# --------------------------------------------------------------------------- one size (worker)


def run_size(size: int, args: argparse.Namespace) -> dict:
    """Build the DLN of ``size`` parameters, time every row, print its table; the row as a dict."""
    import jax
    import jax.numpy as jnp

    import slt
    from slt.data import Batcher
    from slt.models import dln
    from slt.posterior import localized_posterior
    from slt.samplers.sgld import sgld
    from slt.tree import tree_normal_like, tree_rademacher_like, tree_size
    from slt.validation.suites import BETA0

    so = _load("sgld_overhead")
    start = time.perf_counter()
    widths = dln_scale.widths_for(size, args.layers)
    r = round(args.rank_fraction * widths[0])
    # The plain trace: the SGLD step's overhead is the figure (slt.llc's default control-variate
    # trace adds one forward pass a step, about a third of a forward-backward).
    settings = dln_scale.llc_settings(args) | {"trace": "minibatch"}
    b, eps, gamma = settings["batch_size"], settings["step_size"], settings["gamma"]
    beta = BETA0 / math.log(args.n)
    nbeta = args.n * beta
    problem = dln.make(widths, r, n=args.n, seed=args.seed, w_star="teacher")
    center, data, loss = problem.params, problem.data, dln.loss
    num_params = tree_size(center)
    model = cost_model(widths, b)
    assert model["params"] == num_params
    fixed = jax.tree.map(lambda x: x[:b], data)
    batcher = Batcher(args.n, b)
    key = jax.random.key(args.seed)
    lr = 0.5 * eps * nbeta  # SGD with the drift of the SGLD step (the value does not matter)
    build_s = time.perf_counter() - start
    dev = jax.devices()[0]
    kind = getattr(dev, "device_kind", dev.platform)
    print(
        f"\n== {size:.0e}: DLN {widths[0]}x{len(widths) - 1} (widths {widths}, r = {r}), "
        f"{num_params:,} parameters; n = {args.n:,}, batch = {b}, step = {eps:g}, "
        f"gamma = {gamma:g}, nbeta = {nbeta:.1f}; jax {jax.__version__} on {dev.platform} "
        f"({kind}), matmul precision {jax.config.jax_default_matmul_precision}; "
        f"built in {build_s:.1f} s",
        flush=True,
    )

    def fwd_bwd_program(steps: int):
        value_and_grad = jax.value_and_grad(loss)

        def run(w, batch):
            def body(carry, _):
                acc, _grad = carry
                # A dependence on the carry, so that XLA cannot hoist the loop-invariant
                # forward-backward out of the loop (x * 0 is not folded for floats).
                step_batch = dict(batch, x=batch["x"] + 0.0 * acc)
                value, grad = value_and_grad(w, step_batch)
                return (acc + value, grad), None

            grad0 = jax.tree.map(jnp.zeros_like, w)
            carry, _ = jax.lax.scan(body, (jnp.zeros((), jnp.float32), grad0), length=steps)
            return carry

        return run

    def sgd_step(key, w, batch):
        del key
        g = jax.grad(loss)(w, batch)
        return jax.tree.map(lambda x, gx: x - lr * gx, w, g), {}

    # ---- steps: from a short probe of (a), unless given
    steps = args.steps
    if steps is None:
        probe_steps = 3
        probe = so.ScanBench("probe", fwd_bwd_program(probe_steps), (center, fixed), probe_steps)
        for _ in range(2):
            probe.rep()
        steps = max(args.min_steps, round(args.seconds / probe.per_step()))
        del probe
    k1, k2 = args.k1, args.k1 + steps
    print(f"steps per scan = K2 - K1 = {steps} (K1 = {k1}), reps = {args.reps}", flush=True)

    t0 = time.perf_counter()
    scans = [
        so.ScanBench("(a) fwd-bwd, fixed batch", fwd_bwd_program(steps), (center, fixed), steps),
        so.ScanBench(
            "(b) sgd + gather",
            so.scan_program(sgd_step, steps, gather=batcher),
            (center, data, key),
            steps,
        ),
    ]
    if args.breakdown:
        posterior = localized_posterior(loss, center, nbeta=nbeta, gamma=gamma)
        algorithm = sgld(posterior, eps)
        kernel = so.library_kernel_step(algorithm)
        state0 = algorithm.init(center, key)
        specs = [
            ("sgd, fixed batch", sgd_step, None, False, center),
            ("kernel (lib), fixed batch", kernel, None, False, state0),
            ("kernel (lib), gather, vmap1", kernel, batcher, True, state0),
            ("bare sgld, no noise", so.bare_sgld_step(posterior, center, eps, None, True), None,
             False, center),
            ("bare sgld, no noise, no diag", so.bare_sgld_step(posterior, center, eps, None,
             False), None, False, center),
            ("noise: tree_normal_like + axpy", so.noise_step(tree_normal_like), None, False,
             center),
            ("noise: tree_rademacher_like + axpy", so.noise_step(tree_rademacher_like), None,
             False, center),
        ]  # fmt: skip
        for name, step, gather, vmap1, w0 in specs:
            program = so.scan_program(step, steps, gather=gather, vmap1=vmap1)
            scans.append(so.ScanBench(name, program, (w0, data if gather else fixed, key), steps))
    scan_compile_s = time.perf_counter() - t0

    # ---- (c): the program slt.llc compiles, captured and executed; (c') with noise="rademacher"
    def llc_call(num_draws: int, noise: Literal["gaussian", "rademacher"] = "gaussian"):
        return slt.llc(
            loss,
            center,
            data,
            beta=beta,
            sampler="sgld",
            num_chains=1,
            num_draws=num_draws,
            num_burnin=0,
            seed=args.seed,
            progress=False,
            noise=noise,
            **settings,
        )

    def rademacher_call(num_draws: int):
        return llc_call(num_draws, "rademacher")

    run_module = so.run_module
    drivers = []
    for name, call in [("(c) slt.llc sgld, 1 chain", llc_call), ("(c') noise='rademacher'",
                       rademacher_call)]:  # fmt: skip
        run_module._compiled.cache_clear()  # the capture must go through a fresh jax.jit call
        try:
            drivers.append(so.DriverBench(name, call, k1, k2, mode="exec"))
        finally:
            run_module._compiled.cache_clear()  # drop the stand-ins the capture cached
    driver, signs = drivers

    for _ in range(args.reps):
        for bench in [*scans, *drivers]:
            bench.rep()

    # ---- report
    a, b_row = scans[0], scans[1]
    t_a, t_b, t_c = a.per_step(), b_row.per_step(), driver.per_step()
    peaks = device_peaks(kind) if dev.platform == "gpu" else None

    def rates(seconds: float, words: float) -> tuple[float, float]:
        return 4 * words / seconds / 1e9, model["flops"] / seconds / 1e9

    print(
        f"\n{'row':32s} {'ms/step':>9s} {'median':>9s} {'cpu ms':>9s} {'x (a)':>6s} "
        f"{'GB/s':>7s} {'GFLOP/s':>8s}  compile s",
        flush=True,
    )
    rows: list[tuple[Any, float | None]] = [(a, model["words_a"]), (b_row, model["words_b"])]
    rows += [(s, None) for s in scans[2:]] + [(d, model["words_c"]) for d in drivers]
    for bench, words in rows:
        wall = bench.per_step()
        median = bench.per_step(statistics.median)
        cpu = bench.per_step(clock="cpu")
        gbs, gflops = rates(wall, words) if words is not None else (float("nan"),) * 2
        compile_s = (
            bench.compile_s if isinstance(bench.compile_s, float) else max(bench.compile_s.values())
        )
        bw = f"{gbs:7.1f}" if words is not None else f"{'':7s}"
        fl = f"{gflops:8.1f}" if words is not None else f"{'':8s}"
        print(
            f"{bench.name:32s} {wall * 1e3:9.3f} {median * 1e3:9.3f} {cpu * 1e3:9.3f} "
            f"{wall / t_a:6.3f} {bw} {fl}  {compile_s:5.1f}",
            flush=True,
        )
    gbs_c, gflops_c = rates(t_c, model["words_c"])
    print(
        f"model: {model['flops'] / 1e9:.3g} GFLOP/step; words/step (a) {model['words_a']:.3g}, "
        f"(b) {model['words_b']:.3g}, (c) {model['words_c']:.3g} (x 4 bytes)"
    )
    if peaks is not None:
        bw_peak, fp32_peak, tf32_peak = peaks
        print(
            f"(c) vs {kind} peaks: bandwidth {gbs_c / 1e3 / bw_peak:.1%} of {bw_peak} TB/s, "
            f"FLOP rate {gflops_c / 1e3 / tf32_peak:.1%} of {tf32_peak} TF32 TFLOP/s "
            f"({gflops_c / 1e3 / fp32_peak:.1%} of {fp32_peak} FP32 TFLOP/s)"
        )
    elif dev.platform == "gpu":
        print(f"(c): peak of {kind!r} not in the table; achieved rates above")
    else:
        print(f"(c): the peak of this {dev.platform} is not known; achieved rates above")
    print(
        f"diverging chain in (c), (c'): {'yes' if driver.diverged else 'no'}, "
        f"{'yes' if signs.diverged else 'no'}; compile: scans "
        f"{scan_compile_s:.0f} s, slt.llc at K1, K2 {driver.compile_s[k1]:.0f}, "
        f"{driver.compile_s[k2]:.0f} s; size total {time.perf_counter() - start:.0f} s; "
        f"peak memory {dln_scale.peak_memory()}"
    )
    cpu_ratio = driver.per_step(clock="cpu") / a.per_step(clock="cpu")
    t_s = signs.per_step()
    cpu_ratio_s = signs.per_step(clock="cpu") / a.per_step(clock="cpu")
    print(
        f"overhead_ratio={t_c / t_a:.3f}  c_over_b={t_c / t_b:.3f}  "
        f"overhead_ratio_cpu={cpu_ratio:.3f}\n"
        f"rademacher: overhead_ratio={t_s / t_a:.3f}  c_over_b={t_s / t_b:.3f}  "
        f"overhead_ratio_cpu={cpu_ratio_s:.3f}",
        flush=True,
    )
    result = dict(
        size=size,
        params=num_params,
        widths=widths,
        batch=b,
        steps=steps,
        a_ms=t_a * 1e3,
        b_ms=t_b * 1e3,
        c_ms=t_c * 1e3,
        overhead_ratio=t_c / t_a,
        c_over_b=t_c / t_b,
        overhead_ratio_cpu=cpu_ratio,
        c_rademacher_ms=t_s * 1e3,
        overhead_ratio_rademacher=t_s / t_a,
        overhead_ratio_rademacher_cpu=cpu_ratio_s,
        gbs_c=gbs_c,
        gflops_c=gflops_c,
        bw_frac=gbs_c / 1e3 / peaks[0] if peaks else None,
        tf32_frac=gflops_c / 1e3 / peaks[2] if peaks else None,
        device=f"jax {jax.__version__} on {kind} ({os.cpu_count()} host cores)",
        diverged=driver.diverged or signs.diverged,
    )
    return result


def worker(args: argparse.Namespace) -> int:
    """Run size ``args.worker``; write its row as JSON to ``--result-file``."""
    try:
        row = run_size(args.worker, args)
    except Exception as err:  # report any failure (OOM included) and let the parent go on
        import traceback

        traceback.print_exc(file=sys.stderr)
        row = dict(size=args.worker, error=dln_scale.failure_reason(err))
    Path(args.result_file).write_text(json.dumps(row))
    return 0 if "error" not in row else 1


# --------------------------------------------------------------------------- parent


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    # The parent initialises no JAX backend (on a GPU it would hold memory the workers need).
    settings = dln_scale.llc_settings(args)
    print(
        f"DLN overhead: {args.layers} square layers per size, n = {args.n:,}, "
        f"batch = {settings['batch_size']}, step = {settings['step_size']:g}; "
        f"reps = {args.reps}; sizes {', '.join(f'{s:.0e}' for s in args.params)}",
        flush=True,
    )
    forwarded = list(argv if argv is not None else sys.argv[1:])
    rows, failed = [], 0
    for size in args.params:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="slt-dln-overhead-") as tmp:
            result_file = Path(tmp) / "row.json"
            err_file = Path(tmp) / "stderr.txt"
            cmd = [sys.executable, os.path.abspath(__file__), *forwarded]
            cmd += ["--worker", str(size), "--result-file", str(result_file)]
            with open(err_file, "w") as err:
                proc = subprocess.run(cmd, stderr=err)  # the worker's tables go to our stdout
            row = json.loads(result_file.read_text()) if result_file.exists() else None
            stderr = err_file.read_text()
        if row is not None and "error" not in row:
            rows.append(row)
            continue
        failed += 1
        if row is not None:
            reason = row["error"]
        else:  # killed (e.g. by the out-of-memory killer) or crashed outside Python
            reason = dln_scale._crash_reason(proc.returncode, stderr)
        seconds = time.perf_counter() - start
        print(f"\n{size:.0e} FAILED after {seconds:.1f} s: {reason}", flush=True)

    if rows:
        print(f"\nsummary ({rows[0]['device']}; ms per step, min over {args.reps} reps)")
        print(
            f"{'size':>6} {'params':>12} {'batch':>6} {'(a) fwd-bwd':>12} {'(b) sgd+gath':>12} "
            f"{'(c) sgld':>10} {'overhead_ratio':>14} {'c/b':>6} {'(c) GB/s':>9} "
            f"{'(c) GFLOP/s':>11} {'%bw':>6} {'%tf32':>6} {'ratio cpu':>9} "
            f"{"(c') signs":>10} {'ratio':>6} {'cpu':>6}"
        )
        for row in rows:
            frac = lambda x: f"{x:6.1%}" if x is not None else f"{'n/a':>6}"
            print(
                f"{row['size']:>6.0e} {row['params']:>12,} {row['batch']:>6} "
                f"{row['a_ms']:>12.3f} {row['b_ms']:>12.3f} {row['c_ms']:>10.3f} "
                f"{row['overhead_ratio']:>14.3f} {row['c_over_b']:>6.3f} {row['gbs_c']:>9.1f} "
                f"{row['gflops_c']:>11.1f} {frac(row['bw_frac'])} {frac(row['tf32_frac'])} "
                f"{row['overhead_ratio_cpu']:>9.3f} {row['c_rademacher_ms']:>10.3f} "
                f"{row['overhead_ratio_rademacher']:>6.3f} "
                f"{row['overhead_ratio_rademacher_cpu']:>6.3f}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
