r"""Compile time of ``slt.llc``'s program against a plain jitted training scan of the same model.

Run ``python bench/compile_time.py`` (``--help`` for the options). For each model it compiles,
ahead of time and in one process:

(a) a plain training program: ``lax.scan`` over the steps of SGD on minibatches drawn by the
    library's batcher, ``vmap``-ed over the same chains, with the step's loss as output;
(b) the program ``slt.llc`` compiles for the same model, batch, chains and steps (captured as in
    ``sgld_overhead.py``, so it is exactly the program that ``slt.llc`` runs), with a burn-in of
    ``--burnin`` steps and ``--steps-per-draw`` steps per draw.

It prints per model the XLA compile seconds of each, their ratio (b)/(a), and the size of each
optimized program (HLO lines and ``while`` loops; on CPU each random draw is a loop). A first
call of ``slt.llc`` costs about (b) plus the tracing, so (b)/(a) is what a user waits for beyond
the training step they already compile. Compile times on a shared machine are noisy: each figure
is the least of ``--reps`` compilations of a freshly lowered program.

Models: the 3-parameter linear regression of the tests (n = 500, batch 50), the digits MLP
64-16-10 and the digits CNN ``CNN(channels=(16, 24))`` (batch 32). No download: the digits ship
with scikit-learn.
"""

import argparse
import sys
import time
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

import slt
from slt.data import Batcher


def regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)).astype(np.float32)
    y = (x @ np.arange(1.0, 4.0) + rng.normal(size=500)).astype(np.float32)
    w = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0], dtype=jnp.float32)

    def loss(params, batch):
        return 0.5 * jnp.mean((batch["y"] - batch["x"] @ params["w"]) ** 2)

    return loss, {"w": w}, {"x": jnp.asarray(x), "y": jnp.asarray(y)}, 50


def digits_net(kind: str):
    from flax import nnx

    from slt.adapters import from_nnx
    from slt.nets import CNN, MLP, classification_loss, digits

    train, _ = digits(flat=kind == "mlp")
    net = (
        MLP(64, [16], 10, rngs=nnx.Rngs(0))
        if kind == "mlp"
        else CNN(channels=(16, 24), rngs=nnx.Rngs(0))
    )
    model = from_nnx(net, classification_loss)
    return model.loss_fn, model.params, jax.tree.map(jnp.asarray, train), 32


MODELS = {
    "regression": regression,
    "mlp": lambda: digits_net("mlp"),
    "cnn": lambda: digits_net("cnn"),
}


def least_compile_seconds(fn, args, reps: int) -> tuple[float, str]:
    """The least XLA compile time of ``jax.jit(fn)`` on ``args`` and its optimized HLO text."""
    best, text = float("inf"), ""
    for _ in range(reps):
        jax.clear_caches()  # else the same program's second compilation is a cache hit
        lowered = jax.jit(fn).lower(*args)
        start = time.perf_counter()
        compiled = lowered.compile()
        best = min(best, time.perf_counter() - start)
        text = cast(str, compiled.as_text())  # None only on backends without a text view
    return best, text


def training_program(scan_program, loss_fn, batch_size: int, n: int, steps: int, lr=1e-3):
    """``fn(w, data, keys)``: SGD on library-drawn minibatches (``sgld_overhead.scan_program``),
    vmapped over chains, with each step's loss as output."""
    value_and_grad = jax.value_and_grad(loss_fn)

    def sgd(key, w, batch):
        value, grad = value_and_grad(w, batch)
        return jax.tree.map(lambda p, g: p - lr * g, w, grad), value

    run = scan_program(sgd, steps, gather=Batcher(n, batch_size, replace=True))
    return jax.vmap(run, in_axes=(None, None, 0))


def size(text: str) -> str:
    return f"{text.count(chr(10)):>6} lines {text.count(' while('):>3} while"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--draws", type=int, default=50)
    p.add_argument("--burnin", type=int, default=10)
    p.add_argument("--steps-per-draw", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    # `python bench/compile_time.py` puts bench/ on the path: the sibling script is importable.
    from sgld_overhead import capture_run_chains, scan_program

    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, slt {slt.__version__}")
    print(
        f"chains {args.chains}, burn-in {args.burnin}, draws {args.draws} x "
        f"{args.steps_per_draw} steps; least of {args.reps} compilations"
    )
    for name in args.models:
        loss_fn, params, data, batch_size = MODELS[name]()
        n = jax.tree.leaves(data)[0].shape[0]
        steps = args.burnin + args.draws * args.steps_per_draw
        keys = jax.random.split(jax.random.key(0), args.chains)
        plain = training_program(scan_program, loss_fn, batch_size, n, steps)
        t_plain, hlo_plain = least_compile_seconds(plain, (params, data, keys), args.reps)

        def call(loss_fn=loss_fn, params=params, data=data, batch_size=batch_size):
            slt.llc(
                loss_fn,
                params,
                data,
                num_chains=args.chains,
                num_draws=args.draws,
                num_burnin=args.burnin,
                steps_per_draw=args.steps_per_draw,
                batch_size=batch_size,
                step_size=1e-5,
                progress=False,
            )

        cap = capture_run_chains(call)
        program = lambda *a, cap=cap: cap.fn(*a, **cap.kwargs)  # noqa: E731
        t_llc, hlo_llc = least_compile_seconds(program, cap.args, args.reps)
        print(
            f"{name:>10}: (a) training {t_plain:6.2f} s ({size(hlo_plain)})   "
            f"(b) slt.llc {t_llc:6.2f} s ({size(hlo_llc)})   (b)/(a) {t_llc / t_plain:5.2f}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
