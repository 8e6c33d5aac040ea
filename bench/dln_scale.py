r"""LLC of deep linear networks at scale: 10^6, 10^7 and 10^8 parameters, on whatever JAX sees.

Run::

    python bench/dln_scale.py                        # 1e6, 1e7, 1e8 parameters (for a GPU)
    python bench/dln_scale.py --sizes 1e4,1e5        # CPU check: a couple of minutes on 2 cores
    python bench/dln_scale.py --help

On a GPU: install JAX with CUDA in the venv (``pip install -U "jax[cuda12]"``, the CUDA extra
matching your driver), check that ``python -c "import jax; print(jax.devices())"`` lists the
GPU(s), then run ``python bench/dln_scale.py`` with the default sizes. Chains are split over
the visible devices (the most that divide ``--chains``); ``CUDA_VISIBLE_DEVICES=0`` pins one
GPU. ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` is not needed: the peak reported is the
allocator's ``peak_bytes_in_use``, not the preallocated pool.

What it runs, per size S
    The network has ``--layers`` weight matrices (4 by default) of one width
    ``w = round(sqrt(S / layers))`` (``[w] * (layers + 1)``; 1e6 -> w = 500, 1e8 -> w = 5000),
    a balanced teacher of rank ``r = round(--rank-fraction * w)`` (half by default: a
    rank-reduced truth) and ``--n`` samples with inputs uniform on the cube
    (:func:`slt.models.dln.make`, ``w* = teacher``). :func:`slt.llc` then runs ``--chains``
    chains of ``--steps`` steps each, the first quarter of them burn-in, with the settings of
    the ``dln`` validation suite (β = 0.3 / log n, γ = 1, batch 1000 and the suite's step size
    for ``--sampler``, rescaled by nβ(10^5) / nβ(n) when ``--n`` is not 10^5 so that ε·nβ stays
    the suite's; ``--step-size`` and ``--batch-size`` override them). The suite's steps were
    chosen on networks of 10^3-10^5 parameters; whether they suit 10^8 is one thing this bench
    shows (Furman & Lau lowered ε with size: 5e-8 at 10^6, 2e-8 at 10^7-10^8). Each size runs in
    its own subprocess, so the peak memory is that size's own and an out-of-memory crash (even
    a process killed by the system) ends only that size.

Columns
    ``params`` the parameter count; ``exact`` λ from :func:`slt.exact.dln`; ``estimate`` λ̂ ±
    MCSE (MCSE from the epoch-averaged trace; short runs under-mix, so read the relative error
    with the R-hat beside it); ``rel err`` (λ̂ − λ)/λ; ``steps/s`` SGLD steps per second per
    chain (all chains advance together): ``--steps`` over the wall time of the ``slt.llc`` call
    less the compilation JAX reports through ``jax.monitoring`` (so the initial-loss epoch and
    the host-side diagnostics are counted, which matters only for very short runs); ``wall``
    seconds for the whole size (building the teacher and data, compilation, sampling);
    ``peak mem`` ``peak_bytes_in_use`` of ``jax.devices()[0].memory_stats()`` when the backend
    reports it (GPU, TPU), else the process's maximum resident set size (``getrusage``; marked
    ``RSS``), else "n/a".
"""

import argparse
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import time
import traceback

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_event_seconds: dict[str, float] = {}


def _on_duration(event: str, duration_secs: float, **kwargs: str | int) -> None:
    _event_seconds[event] = _event_seconds.get(event, 0.0) + duration_secs


def parse_sizes(text: str) -> list[int]:
    """``"1e6,1e7"`` -> ``[1000000, 10000000]``."""
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"--sizes must be comma-separated numbers; got {text!r}"
        ) from err
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"--sizes must be numbers >= 2; got {text!r}")
    return sizes


def widths_for(size: int, layers: int) -> list[int]:
    """``layers`` square layers of one width whose parameter count is closest to ``size``."""
    width = max(1, round(math.sqrt(size / layers)))
    return [width] * (layers + 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes("1e6,1e7,1e8"),
        help="comma-separated target parameter counts (default 1e6,1e7,1e8)",
    )
    p.add_argument("--steps", type=int, default=1000, help="SGLD steps per chain (default 1000)")
    p.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    p.add_argument("--sampler", default="sgld", choices=("sgld", "rmsprop_sgld"))
    p.add_argument(
        "--noise",
        default="gaussian",
        choices=("gaussian", "rademacher"),
        help="the injected noise (slt.llc's noise=; default gaussian)",
    )
    p.add_argument("--layers", type=int, default=4, help="weight matrices (default 4)")
    p.add_argument(
        "--rank-fraction", type=float, default=0.5, help="true rank / width (default 0.5)"
    )
    p.add_argument("--n", type=int, default=100_000, help="samples (default 10^5, as the suite)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the dln suite's")
    p.add_argument(
        "--step-size",
        type=float,
        default=None,
        help="default: the dln suite's, scaled to keep step * n * beta as in the suite",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 4 or args.chains < 1 or args.layers < 1 or args.n < 2:
        p.error("need --steps >= 4, --chains >= 1, --layers >= 1, --n >= 2")
    if not 0 <= args.rank_fraction <= 1:
        p.error("--rank-fraction must be in [0, 1]")
    return args


def peak_memory() -> str:
    """Peak device memory of ``jax.devices()[0]``, else the process's max RSS, else n/a."""
    import jax

    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # backends without memory statistics
        stats = None
    if stats and "peak_bytes_in_use" in stats:
        return f"{stats['peak_bytes_in_use'] / 2**30:.2f} GiB"
    try:
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    except (OSError, ValueError):
        return "n/a"
    return f"{rss_kib / 2**20:.2f} GiB RSS"


def llc_settings(args: argparse.Namespace) -> dict:
    """The dln suite's sampler settings, with the step rescaled to ``--n`` and the overrides."""
    from slt.validation.suites import BETA0, DLN_N_SAMPLES, sampler_settings

    settings = dict(sampler_settings("dln", args.sampler))
    nbeta = lambda n: BETA0 * n / math.log(n)
    settings["step_size"] *= nbeta(DLN_N_SAMPLES) / nbeta(args.n)  # same step * n * beta
    if args.step_size is not None:
        settings["step_size"] = args.step_size
    if args.batch_size is not None:
        settings["batch_size"] = args.batch_size
    settings["batch_size"] = min(settings["batch_size"], args.n)
    return settings


def run_size(size: int, args: argparse.Namespace) -> dict:
    """One size, in this process: build, estimate, time. Returns the row as a dict."""
    import jax

    import slt
    from slt.exact import dln as exact_dln
    from slt.exact import dln_dimension
    from slt.models import dln
    from slt.validation.suites import BETA0

    start = time.perf_counter()
    widths = widths_for(size, args.layers)
    r = round(args.rank_fraction * widths[0])
    row: dict = dict(size=size, params=dln_dimension(widths), widths=widths, r=r)
    row["exact"] = exact_dln(widths, r).rlct
    settings = llc_settings(args)
    burnin = args.steps // 4
    problem = dln.make(widths, r, n=args.n, seed=args.seed, w_star="teacher")
    jax.monitoring.register_event_duration_secs_listener(_on_duration)
    _event_seconds.clear()
    t0 = time.perf_counter()
    res = slt.llc(
        problem.loss_fn,
        problem.params,
        problem.data,
        sampler=args.sampler,
        beta=BETA0 / math.log(args.n),
        num_chains=args.chains,
        num_draws=args.steps - burnin,
        num_burnin=burnin,
        seed=args.seed,
        noise=args.noise,
        **settings,
    )
    llc_seconds = time.perf_counter() - t0
    compile_seconds = sum(_event_seconds.get(e, 0.0) for e in _COMPILE_EVENTS)
    row.update(
        estimate=res.llc,
        mcse=res.mcse,
        rel_error=(res.llc - row["exact"]) / row["exact"],
        rhat=res.rhat,
        diverged=res.num_diverging,
        steps_per_s=args.steps / max(llc_seconds - compile_seconds, 1e-9),
        compile_s=compile_seconds,
        wall_s=time.perf_counter() - start,
        peak_memory=peak_memory(),
        step_size=settings["step_size"],
        batch_size=settings["batch_size"],
        devices=f"jax {jax.__version__} on {', '.join(str(d) for d in jax.devices())}",
    )
    return row


def failure_reason(err: BaseException) -> str:
    """One line saying why a size failed, marked "out of memory" when it was."""
    text = str(err).strip().splitlines()
    reason = f"{type(err).__name__}: {text[0] if text else ''}"
    if "RESOURCE_EXHAUSTED" in str(err) or isinstance(err, MemoryError):
        reason = "out of memory: " + reason
    return reason


def worker(args: argparse.Namespace) -> int:
    """Run ``args.worker`` and print one ``RESULT`` or ``ERROR`` line of JSON."""
    try:
        row = run_size(args.worker, args)
    except Exception as err:  # report any failure (OOM included) and let the parent go on
        traceback.print_exc(file=sys.stderr)
        reason = failure_reason(err)
        print("ERROR " + json.dumps(dict(size=args.worker, reason=reason)), flush=True)
        return 1
    print("RESULT " + json.dumps(row), flush=True)
    return 0


def _crash_reason(returncode: int, stderr: str) -> str:
    """Why a worker died without reporting: its signal or status, and its last error line."""
    if returncode < 0:
        try:
            how = f"worker killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"worker killed by signal {-returncode}"
        if returncode == -signal.SIGKILL:
            how += " (the system's out-of-memory killer?)"
    else:
        how = f"worker exited with status {returncode}"
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    hints = [ln for ln in lines if re.search(r"error|memory|check failed|abort", ln, re.I)]
    last = hints[-1] if hints else (lines[-1] if lines else "")
    return f"{how}: {last[:300]}" if last else how


_HEADER = (
    f"{'size':>6} {'params':>11} {'widths':>16} {'r':>5} {'exact':>12} {'estimate ± mcse':>22} "
    f"{'rel err':>8} {'rhat':>6} {'steps/s':>8} {'wall s':>7} {'peak mem':>14}"
)


def format_row(row: dict) -> str:
    widths = f"{row['widths'][0]}x{len(row['widths']) - 1}"
    est = f"{row['estimate']:.1f} ± {row['mcse']:.1f}"
    return (
        f"{row['size']:>6.0e} {row['params']:>11,} {widths:>16} {row['r']:>5} "
        f"{row['exact']:>12.1f} {est:>22} {row['rel_error']:>+8.1%} {row['rhat']:>6.3f} "
        f"{row['steps_per_s']:>8.1f} {row['wall_s']:>7.1f} {row['peak_memory']:>14}"
        + (f"  ({row['diverged']} chains diverged)" if row["diverged"] else "")
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    # The parent never initialises a JAX backend (on a GPU it would take the memory the workers
    # need); the workers report the devices.
    from slt.validation.suites import BETA0

    settings = llc_settings(args)
    print(
        f"{args.sampler} ({args.noise} noise), {args.chains} chains x {args.steps} steps "
        f"({args.steps // 4} burn-in), "
        f"n = {args.n}, beta = {BETA0}/log n, gamma = {settings['gamma']:g}, "
        f"step = {settings['step_size']:g}, batch = {settings['batch_size']}; "
        f"{args.layers} square layers, r = {args.rank_fraction:g} x width",
        flush=True,
    )
    print(_HEADER, flush=True)
    failed, devices = 0, ""
    forwarded = list(argv if argv is not None else sys.argv[1:])
    for size in args.sizes:
        cmd = [sys.executable, os.path.abspath(__file__), *forwarded, "--worker", str(size)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = proc.stdout.splitlines()
        result = [ln for ln in lines if ln.startswith("RESULT ")]
        error = [ln for ln in lines if ln.startswith("ERROR ")]
        if result:
            row = json.loads(result[-1][len("RESULT ") :])
            if row["devices"] != devices:
                devices = row["devices"]
                print(f"# {devices}", flush=True)
            print(format_row(row), flush=True)
            continue
        failed += 1
        if error:
            reason = json.loads(error[-1][len("ERROR ") :])["reason"]
        else:  # killed (e.g. by the out-of-memory killer) or crashed outside Python
            reason = _crash_reason(proc.returncode, proc.stderr)
        seconds = time.perf_counter() - start
        print(f"{size:>6.0e} FAILED after {seconds:.1f} s: {reason}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
