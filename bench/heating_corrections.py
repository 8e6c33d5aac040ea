"""Three ways to take the minibatch heating out of λ̂, against the exact finite-n target.

A minibatch gradient heats an SGLD chain: per coordinate the noise adds the variance
Q = ε²(nβ)²Var(∇L_B)/4 to the injected ε (slt.gradient). For a quadratic loss the stationary
covariance S solves AS + SA = I + Q/ε, so nβ E[L - L*] = tr(AS) - γ/2 tr S exceeds its cool
value by tr(Q)/(2ε) = (d/2)τ whatever the shapes (the trace identity of slt.gradient). This
bench measures three ways of removing that excess, on the reduced-rank cases of
bench/accuracy_per_cost.py (n = 10^4, nβ = n/log n, γ = 1, w* = the teacher, iid batches):

- ``post-hoc``: subtract (d/2)τ̂ from the estimate (slt's ``noise_bias``);
- ``injection``: inject per coordinate ε(1 - τ_i) instead of ε, with τ_i from an
  exponential average (decay 0.99) of (g₁ - g₂)²/4, g₁ and g₂ the gradients of the two halves
  of the step's batch (an unbiased estimate of Var(∇L_B) per coordinate, at no extra cost). By
  the trace identity this removes the first-order excess in the sampler itself;
- ``stein``: the Stein (virial) identity E[⟨φ, ∇U⟩] = E[div φ] for U = nβL + γ/2‖w - w*‖² and
  the linear field φ = P(w - w*), P the projector on the top k eigenvectors of ∇²L_n(w*)
  (k = r(M + N - r), the dimension of the rank-r products: the regular directions). Then

      λ̂_stein = nβ E[L - L* - ½⟨P(w - w*), ∇L⟩] + k/2 - γ/2 E‖P(w - w*)‖²

  is unbiased under the exact posterior for any P, and along a quadratic direction in P's
  range the bracket vanishes for *any* distribution of the chain, heated or not: only the
  singular and flat directions are read from the loss. ⟨P(w - w*), ∇L⟩ is the step's minibatch
  gradient less its value at w* on the same batch plus the full-data one (one jvp at w*).

Every reading is a relative error against the exact value of the estimator's target on the
bench's dataset (blocked Gibbs, bench/accuracy_per_cost.py ``finite_n_exact``), after the first
quarter of the steps; ± is the MCSE of the plain trace (blocks of 100 steps, arviz-stats).
One seed, 4 chains × ``--steps`` steps; the steps and batches are those of the issue-7 grid.
The dense Hessian makes this a bench for small models only (d ≤ 500 here).

    python bench/heating_corrections.py                 # three cases, about 2 minutes on a CPU
    python bench/heating_corrections.py --cases 0 --steps 32000
"""

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np
from accuracy_per_cost import CASES, N, finite_n_exact
from arviz_stats.base import array_stats
from jax.flatten_util import ravel_pytree

from slt.geometry import dense_hessian
from slt.gradient import full_loss_and_grad
from slt.tree import tree_size, tree_sub

GAMMA = 1.0
NUM_CHAINS = 4
DECAY = 0.99  # of the per-coordinate variance average: about 100 steps


def regular_projector(problem, k):
    """The top-k eigenvectors of the full-data Hessian at w* (columns, in w's ravelled order)."""
    hess = dense_hessian(problem.loss_fn, problem.params, problem.data)
    mu, vecs = np.linalg.eigh(np.asarray(hess, np.float64))
    return jnp.asarray(vecs[:, np.argsort(mu)[::-1][:k]], hess.dtype)


def run(problem, eps_nbeta, batch_size, num_steps, seed, projector, *, corrected_injection):
    """4 SGLD chains from w* with iid batches; per step the records the three readings need."""
    nbeta = N / math.log(N)
    eps = eps_nbeta / nbeta
    loss_fn, center, data = problem.loss_fn, problem.params, problem.data
    n = jax.tree.leaves(data)[0].shape[0]
    anchor = full_loss_and_grad(loss_fn, center, data)
    anchor_grad = ravel_pytree(anchor.grad)[0]
    flat_center, unravel = ravel_pytree(center)
    value_and_grad = jax.value_and_grad(lambda p, b: jnp.asarray(loss_fn(p, b)))
    half = batch_size // 2

    def chain(key):
        def step(carry, step_key):
            w, var = carry
            batch_key, noise_key = jax.random.split(step_key)
            idx = jax.random.randint(batch_key, (batch_size,), 0, n)
            halves = [jax.tree.map(lambda a, i=i: a[i], data) for i in (idx[:half], idx[half:])]
            (l1, g1), (l2, g2) = (value_and_grad(w, b) for b in halves)
            grad = ravel_pytree(jax.tree.map(lambda a, c: 0.5 * (a + c), g1, g2))[0]
            diff = ravel_pytree(tree_sub(g1, g2))[0]
            var = DECAY * var + (1 - DECAY) * 0.25 * diff**2  # E = Var(∇L_B) per coordinate
            tau = eps * nbeta**2 * var / 4
            x = ravel_pytree(w)[0] - flat_center
            px = projector @ (projector.T @ x)

            def batch_loss_at_center(v):
                return 0.5 * sum(jnp.asarray(loss_fn(unravel(v), b)) for b in halves)

            loss_c, slope_c = jax.jvp(batch_loss_at_center, (flat_center,), (px,))
            scale = jnp.sqrt(eps * (jnp.clip(1 - tau, 0.0, 1.0) if corrected_injection else 1.0))
            drift = 0.5 * eps * (-nbeta * grad - GAMMA * x)
            noise = jax.random.normal(noise_key, x.shape, x.dtype)
            new = unravel(ravel_pytree(w)[0] + drift + scale * noise)
            rec = dict(
                dl=0.5 * (l1 + l2) - loss_c,
                tau=jnp.mean(tau),
                clipped=jnp.mean(tau > 1),
                virial=px @ grad - slope_c + px @ anchor_grad,  # ⟨Px, ∇L_n(w)⟩, unbiased
                sq=px @ px,
            )
            return (new, var), rec

        init = (center, jnp.zeros_like(flat_center))
        return jax.lax.scan(step, init, jax.random.split(key, num_steps))[1]

    keys = jax.random.split(jax.random.key(seed), NUM_CHAINS)
    recs = jax.jit(jax.vmap(chain))(keys)
    return {k: np.asarray(v, np.float64) for k, v in recs.items()}


def readings(rec, k, d):
    """λ̂ plain, post-hoc, Stein; the plain MCSE; τ̂ and the clipped share, after T/4."""
    nbeta = N / math.log(N)
    kept = {key: v[:, v.shape[1] // 4 :] for key, v in rec.items()}
    plain = nbeta * kept["dl"]
    stein = nbeta * (kept["dl"] - 0.5 * kept["virial"]) + k / 2 - 0.5 * GAMMA * kept["sq"]
    blocks = plain[:, : plain.shape[1] // 100 * 100].reshape(NUM_CHAINS, -1, 100).mean(-1)
    mcse = float(array_stats.mcse(blocks, chain_axis=0, draw_axis=1, method="mean"))
    tau = kept["tau"].mean()
    return dict(
        plain=plain.mean(),
        post_hoc=plain.mean() - 0.5 * d * tau,
        stein=stein.mean(),
        mcse=mcse,
        tau=tau,
        clipped=kept["clipped"].mean(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=8000, help="steps per chain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "case                 b  eps*nb   tau   plain ± mcse      post-hoc  injection  "
        "(clipped)  stein"
    )
    for index in args.cases:
        name, make = CASES[index]
        if not name.startswith("rrr"):
            raise SystemExit(f"{name}: no exact finite-n target (only the rrr cases have one)")
        problem = make()
        target = finite_n_exact(name, problem)
        shapes = problem.params["A"].shape[1], problem.params["B"].shape[0]
        rank = int(name.rstrip(")").split(",")[-1])
        k = rank * (sum(shapes) - rank)
        projector = regular_projector(problem, k)
        d = tree_size(problem.params)
        for batch_size in (100, 1000):
            for eps_nbeta in (0.01, 0.03, 0.1):
                common = (problem, eps_nbeta, batch_size, args.steps, args.seed, projector)
                base = readings(run(*common, corrected_injection=False), k, d)
                injected = readings(run(*common, corrected_injection=True), k, d)
                err = {key: base[key] / target - 1 for key in ("plain", "post_hoc", "stein")}
                print(
                    f"{name:<17} {batch_size:5d} {eps_nbeta:6.2f} {base['tau']:6.3f} "
                    f"{err['plain']:+7.1%} ± {base['mcse'] / target:4.1%} {err['post_hoc']:+9.1%} "
                    f"{injected['plain'] / target - 1:+10.1%} ({injected['clipped']:.3f}) "
                    f"{err['stein']:+8.1%}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
