"""The loss trace against the chain's own exact loss, for reshuffled and iid minibatches.

``slt.llc`` estimates λ from the minibatch losses the sampler records, n β (mean L_B(w_t) -
L_n(w*)). That is unbiased for the chain's n β E[L_n(w_t) - L_n(w*)] only when the batch of
step t is independent of w_t (``batching="iid"``). With the ``"reshuffle"`` schedule,
w_t has been pulled toward the epoch's earlier batches, which exclude the current one, and the
trace reads high (``slt.data``). This bench runs both schedules (iid also with
``trace="control_variate"``, whose batch noise vanishes at w*) on the cases of
``accuracy_per_cost.py`` (n = 10^4, nβ = n/log n, γ = 1, w* = the teacher; 4 chains, a quarter
of the draws as burn-in) and evaluates L_n exactly, on the full data, at the positions kept once
per epoch. Per (case, b, εnβ, schedule) it prints the trace estimate and its MCSE, the
exact-loss estimate, and the noise bias (d/2) τ̂ the run reports (``slt.gradient.noise_bias``),
each also relative to the exact λ.

    python bench/trace_bias.py                          # every case, b = 100 (about 3 minutes)
    python bench/trace_bias.py --cases 0 2 --batch 1000 --eps-nbeta 0.03 0.1
"""

import argparse
import math
import time

import jax
import numpy as np
from accuracy_per_cost import CASES, COLD, N, run_setting

# (batching, trace): the default before 2026-11-24; iid with the plain trace; iid with the
# control-variate trace (the default since, read here without the noise correction).
SCHEMES = (("reshuffle", "minibatch"), ("iid", "minibatch"), ("iid", "control_variate"))


def exact_loss_fn(problem):
    """``fn(res, nbeta)``: n β (L_n(w) - L_n(w*)) averaged over the kept positions of ``res``,
    L_n on the full data; the vmapped full-data loss is compiled once per problem."""
    leaves, treedef = jax.tree.flatten(problem.params)
    full = jax.jit(
        jax.vmap(lambda *ls: problem.loss_fn(jax.tree.unflatten(treedef, ls), problem.data))
    )
    init = float(problem.loss_fn(problem.params, problem.data))

    def fn(res, nbeta: float) -> float:
        post = res.datatree["posterior"]
        # The posterior group names its variables after the leaves, in the same (flatten) order.
        arrays = [np.asarray(post[name].values) for name in post.data_vars]
        assert len(arrays) == len(leaves), list(post.data_vars)
        chains, draws = arrays[0].shape[:2]
        flat = [a.reshape(chains * draws, *a.shape[2:]) for a in arrays]
        losses = np.asarray(full(*flat), np.float64)
        return float(nbeta * (losses.mean() - init))

    return fn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=list(range(len(CASES))))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--eps-nbeta", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    parser.add_argument("--steps", type=int, default=8000, help="draws per chain")
    args = parser.parse_args()
    nbeta = N / math.log(N)
    every = N // args.batch  # one kept position per epoch
    for index in args.cases:
        name, make = CASES[index]
        problem = make()
        exact = problem.exact.rlct
        exact_loss_llc = exact_loss_fn(problem)
        for eps_nb in args.eps_nbeta:
            for batching, trace in SCHEMES:
                start = time.perf_counter()
                res = run_setting(
                    problem,
                    eps_nb,
                    args.batch,
                    # the trace as read, without the noise correction
                    {"batching": batching, "trace": trace, "noise_correction": False}
                    | COLD,  # a cold burn-in, as measured
                    args.steps,
                    args.steps // 4,
                    params_every=every,
                )
                held = exact_loss_llc(res, nbeta)
                bias = res.datatree.attrs["noise_bias"]
                print(
                    f"{name:<24} b={args.batch:<5d} eps*nb={eps_nb:<5g} {batching:<9} {trace:<15} "
                    f"trace {res.llc:9.3f} ({res.llc / exact - 1:+6.1%}) ± {res.mcse:.3f}  "
                    f"exact-loss {held:9.3f} ({held / exact - 1:+6.1%})  "
                    f"(d/2)tau {bias:8.3f} ({bias / exact:+6.1%})  "
                    f"{time.perf_counter() - start:4.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
