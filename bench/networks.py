r"""Large networks: the per-step time of an ``slt`` SGLD step over a bare training step.

Run::

    python bench/networks.py --quick        # CPU check: small batch, few steps (minutes on 2 cores)
    python bench/networks.py                # the full batch sizes: for a GPU
    python bench/networks.py --help

On a GPU: install JAX with CUDA in the venv (``pip install -U "jax[cuda12]"``), check that
``python -c "import jax; print(jax.devices())"`` lists the GPU, then run the command above. The
script is the same on both; only the batch size and the number of steps change with ``--quick``.

Models (Flax NNX, split into a pure loss with :func:`slt.adapters.from_nnx`)
    ``resnet18``: :func:`slt.nets.resnet18` with GroupNorm and 10 classes (11,181,642
    parameters) on a synthetic batch of 32x32x3 images with random labels, softmax
    cross-entropy. ``transformer``: a decoder-only :class:`slt.nets.Transformer` with
    ``d_model`` 512, 8 heads, 4 blocks, MLP width 2048, 1024 tokens and context 128 (the exact
    count, about 1.4e7, is printed) on random token sequences, next-token cross-entropy.

Rows, per model (each per-step time is the minimum over ``--reps`` interleaved repetitions)
    ``(a) train step``: ``jax.value_and_grad(loss)`` and an ``optax.adam`` update, ``--steps``
    steps in one ``lax.scan`` inside one ``jit`` (compiled ahead of time; the batch is a ``jit``
    argument), per step = wall / steps.
    ``(b) sgld step``: the same scan of :func:`slt.samplers.sgld.sgld` steps on
    :func:`slt.posterior.localized_posterior` (the kernel ``slt.llc`` runs, with its per-step
    diagnostics ``loss``, ``lp`` and ``grad_norm`` kept; the driver's ``distance`` and
    divergence test are in row (c)), same batch.
    ``(c) slt.llc``: a whole ``slt.llc(..., num_chains=1, num_draws=steps, num_burnin=0,
    trace="minibatch")`` call (the default control-variate trace adds a forward pass a step)
    on a synthetic dataset of 4 batches, called twice; the second call reuses the compiled
    program, so its wall time is the steps plus the initial-loss epoch (4 forward passes) and
    the host work, divided here by ``steps``. Skipped with ``--no-llc``.
    ``sgld/train`` is (b) / (a). ``--noise rademacher`` draws the injected noise of (b) and (c)
    as random signs (``slt.llc(..., noise="rademacher")``). ``peak mem``: ``peak_bytes_in_use``
    of ``jax.devices()[0].memory_stats()`` where the backend reports it (GPU, TPU), else the
    process's maximum resident set ("RSS", CPU); it is the process-wide peak so far, so the
    second model's value includes the first's if larger.
"""

import argparse
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from dln_scale import peak_memory  # this script's directory is on sys.path
from flax import nnx

from slt.adapters import from_nnx
from slt.errors import NoiseTemperatureWarning
from slt.nets import Transformer, cross_entropy, resnet18
from slt.posterior import localized_posterior
from slt.samplers.sgld import sgld
from slt.tree import tree_size
from slt.workflows.llc import llc

VOCAB, CONTEXT = 1024, 128


def build(name: str, rng: np.random.Generator, n: int) -> tuple[Any, dict[str, np.ndarray]]:
    """The model ``name`` (an ``NNXModel``) and ``n`` synthetic samples."""
    if name == "resnet18":
        net: nnx.Module = resnet18(10, norm="group", rngs=nnx.Rngs(0))
        model = from_nnx(net, lambda m, b: cross_entropy(m(b["x"]), b["y"]))
        data = {
            "x": rng.normal(size=(n, 32, 32, 3)).astype(np.float32),
            "y": rng.integers(0, 10, size=n).astype(np.int32),
        }
        return model, data
    net = Transformer(
        vocab_size=VOCAB,
        max_len=CONTEXT,
        d_model=512,
        num_heads=8,
        num_layers=4,
        d_mlp=2048,
        rngs=nnx.Rngs(0),
    )
    model = from_nnx(net, lambda m, b: cross_entropy(m(b["x"][:, :-1]), b["x"][:, 1:]))
    data = {"x": rng.integers(0, VOCAB, size=(n, CONTEXT + 1)).astype(np.int32)}
    return model, data


def scan_program(step: Callable, steps: int) -> jax.stages.Wrapped:
    """``steps`` applications of ``step(carry, batch, key) -> carry`` in one scan."""

    def run(carry, batch, key):
        def body(c, k):
            return step(c, batch, k), None

        carry, _ = jax.lax.scan(body, carry, jax.random.split(key, steps))
        return carry

    return jax.jit(run)


def train_step(loss_fn: Callable, optimizer: optax.GradientTransformation) -> Callable:
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(carry, batch, key):
        del key
        params, opt_state, acc = carry
        loss, grad = value_and_grad(params, batch)
        updates, opt_state = optimizer.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, acc + loss

    return step


def sgld_step(algorithm) -> Callable:
    def step(carry, batch, key):
        state, acc = carry
        state, info = algorithm.step(key, state, batch)
        return state, acc + info.loss + info.lp + info.grad_norm

    return step


class Timed:
    """A compiled scan and its per-step wall times."""

    def __init__(self, name: str, fn: jax.stages.Wrapped, args: tuple, steps: int) -> None:
        start = time.perf_counter()
        self.compiled = fn.lower(*args).compile()
        self.compile_s = time.perf_counter() - start
        self.name, self.args, self.steps = name, args, steps
        jax.block_until_ready(self.compiled(*args))  # warm-up
        self.times: list[float] = []

    def rep(self) -> None:
        start = time.perf_counter()
        jax.block_until_ready(self.compiled(*self.args))
        self.times.append((time.perf_counter() - start) / self.steps)


def bench_model(name: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    wall = time.perf_counter()
    model, data = build(name, rng, 4 * args.batch_size)
    params = jax.tree.map(jnp.asarray, model.params)
    batch = jax.tree.map(lambda x: jnp.asarray(x[: args.batch_size]), data)
    key = jax.random.key(args.seed)
    optimizer = optax.adam(1e-4)
    nbeta = len(next(iter(data.values()))) / math.log(len(next(iter(data.values()))))
    posterior = localized_posterior(model.loss_fn, params, nbeta=nbeta, gamma=args.gamma)
    algorithm = sgld(posterior, args.step_size, noise=args.noise)
    zero = jnp.zeros(())
    train = Timed(
        "(a) train step",
        scan_program(train_step(model.loss_fn, optimizer), args.steps),
        ((params, optimizer.init(params), zero), batch, key),
        args.steps,
    )
    kernel = Timed(
        "(b) sgld step",
        scan_program(sgld_step(algorithm), args.steps),
        ((algorithm.init(params, key), zero), batch, key),
        args.steps,
    )
    for _ in range(args.reps):
        train.rep()
        kernel.rep()
    row: dict[str, Any] = {
        "model": name,
        "params": tree_size(params),
        "batch": args.batch_size,
        "train_ms": 1e3 * min(train.times),
        "sgld_ms": 1e3 * min(kernel.times),
        "train_compile_s": train.compile_s,
        "sgld_compile_s": kernel.compile_s,
    }
    row["ratio"] = row["sgld_ms"] / row["train_ms"]
    if args.llc:
        settings = dict(
            step_size=args.step_size,
            gamma=args.gamma,
            batch_size=args.batch_size,
            num_chains=1,
            num_draws=args.steps,
            num_burnin=0,
            noise=args.noise,
            trace="minibatch",
            progress=False,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoiseTemperatureWarning)
            start = time.perf_counter()
            llc(model.loss_fn, params, data, **settings)
            first = time.perf_counter() - start
            start = time.perf_counter()
            res = llc(model.loss_fn, params, data, **settings)
            second = time.perf_counter() - start
        row["llc_first_s"] = first
        row["llc_ms"] = 1e3 * second / args.steps
        row["llc_diverged"] = res.num_diverging
    row["wall_s"] = time.perf_counter() - wall
    row["peak_mem"] = peak_memory()
    return row


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="CPU check: batch 4, 5 steps, 2 reps")
    p.add_argument("--models", default="resnet18,transformer")
    p.add_argument("--batch-size", type=int, default=None, help="default 128 (--quick: 4)")
    p.add_argument("--steps", type=int, default=None, help="steps per scan (default 50; quick 5)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 2)")
    p.add_argument("--step-size", type=float, default=1e-7, help="SGLD epsilon")
    p.add_argument("--gamma", type=float, default=100.0)
    p.add_argument("--noise", choices=("gaussian", "rademacher"), default="gaussian")
    p.add_argument("--no-llc", dest="llc", action="store_false", help="skip row (c)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    quick = args.quick
    args.batch_size = args.batch_size or (4 if quick else 128)
    args.steps = args.steps or (5 if quick else 50)
    args.reps = args.reps or (2 if quick else 5)
    return args


def main() -> None:
    args = parse_args()
    print(
        f"jax {jax.__version__}, device {jax.devices()[0].device_kind} "
        f"({jax.default_backend()}), batch {args.batch_size}, {args.steps} steps x "
        f"{args.reps} reps, noise {args.noise}{' (--quick)' if args.quick else ''}",
        flush=True,
    )
    rows = [bench_model(name.strip(), args) for name in args.models.split(",")]
    head = (
        f"{'model':<12} {'params':>11} {'batch':>5} {'train ms':>9} {'sgld ms':>9} "
        f"{'sgld/train':>10} {'train st/s':>10} {'sgld st/s':>9} {'llc ms':>8} "
        f"{'wall s':>7} {'peak mem':>9}"
    )
    print(head)
    for r in rows:
        llc_ms = f"{r['llc_ms']:.1f}" if "llc_ms" in r else "-"
        print(
            f"{r['model']:<12} {r['params']:>11,} {r['batch']:>5} {r['train_ms']:>9.1f} "
            f"{r['sgld_ms']:>9.1f} {r['ratio']:>10.3f} {1e3 / r['train_ms']:>10.2f} "
            f"{1e3 / r['sgld_ms']:>9.2f} {llc_ms:>8} {r['wall_s']:>7.1f} {r['peak_mem']:>9}"
        )
    for r in rows:
        print(
            f"{r['model']}: compile train {r['train_compile_s']:.1f} s, sgld "
            f"{r['sgld_compile_s']:.1f} s"
            + (
                f"; slt.llc first call {r['llc_first_s']:.1f} s (compiles), diverged chains "
                f"{r['llc_diverged']}"
                if "llc_ms" in r
                else ""
            )
        )
    for r in rows:
        print(f"{r['model']}_sgld_over_train={r['ratio']:.3f}")


if __name__ == "__main__":
    main()
