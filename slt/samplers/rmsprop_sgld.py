r"""RMSProp-preconditioned SGLD with bias correction, localized and tempered.

Hitchcock & Hoogland (arXiv:2507.21449, App. D.3), after Li et al. (2016, pSGLD): with
:math:`g_t = \nabla L_B(w_t)` the **loss** gradient only,

.. math::

    v_t = b_2 v_{t-1} + (1 - b_2) g_t^2,\quad \hat v_t = v_t / (1 - b_2^t),\quad
    \epsilon_t = \epsilon / (\sqrt{\hat v_t} + a),

    w_{t+1} = w_t + \tfrac{\epsilon_t}{2}\odot\nabla\log p(w_t) + \sqrt{\epsilon_t}\odot\xi_t,

where :math:`\nabla\log p = -n\beta g_t - \gamma(w_t - w^\ast) + \nabla\log\varphi`. Typical
:math:`b_2 = 0.999`, :math:`a = 10^{-8}`. A coordinate with :math:`v_t = 0` (its gradient has been
exactly zero on every step so far) takes the base step :math:`\epsilon` instead of
:math:`\epsilon/a`: at a point where every per-sample gradient vanishes (the origin of a
rank-0 reduced-rank model, the true parameter) the reference rule's first step is
:math:`\sqrt{\epsilon/a}` and diverges at once. The small correction term of pSGLD
(the divergence of the preconditioner) is dropped, as in the reference.
"""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch, PRNGKey
from slt.base import SamplingAlgorithm, StepInfo
from slt.posterior import Posterior, evaluate
from slt.samplers.mala import acceptance_probability, without_acceptance
from slt.tree import tree_noise_like, tree_size, tree_sq_norm

__all__ = ["RMSPropSGLDState", "build_kernel", "init", "rmsprop_sgld"]


class RMSPropSGLDState(NamedTuple):
    """Position, the running second moment ``v`` of the loss gradient, and the step count."""

    position: ArrayTree
    square_avg: ArrayTree
    step_count: jax.Array


def init(position: ArrayTree, rng_key: PRNGKey | None = None) -> RMSPropSGLDState:
    """Start at ``position`` with :math:`v_0 = 0` and :math:`t = 0`."""
    del rng_key
    return RMSPropSGLDState(
        position, jax.tree.map(jnp.zeros_like, position), jnp.zeros((), jnp.int32)
    )


def build_kernel(
    posterior: Posterior,
    step_size: float,
    *,
    beta2: float = 0.999,
    eps: float = 1e-8,
    mala: bool = False,
    noise: str = "gaussian",
    adapt_steps: float = math.inf,
):
    """The RMSProp-SGLD step with base step size :math:`\\epsilon` = ``step_size``."""

    def kernel(
        rng_key: PRNGKey, state: RMSPropSGLDState, batch: Batch
    ) -> tuple[RMSPropSGLDState, StepInfo]:
        w = state.position
        ev = evaluate(posterior, w, batch)
        count = state.step_count + 1
        adapting = count <= adapt_steps
        v = jax.tree.map(
            lambda s, g: jnp.where(adapting, beta2 * s + (1 - beta2) * g * g, s),
            state.square_avg,
            ev.loss_grad,
        )
        seen = jnp.minimum(count.astype(ev.loss.dtype), adapt_steps)
        correction = 1.0 - beta2**seen
        # A coordinate whose gradient has been exactly 0 so far (every coordinate at a point
        # such as the origin of a reduced-rank model, where all per-sample gradients vanish)
        # has no scale yet: it takes the base step, not the step / eps of an empty average.
        steps = jax.tree.map(
            lambda s: jnp.where(s > 0, step_size / (jnp.sqrt(s / correction) + eps), step_size),
            v,
        )
        xi = tree_noise_like(rng_key, w, noise)
        new = jax.tree.map(
            lambda x, e, g, z: x + (0.5 * e) * g + jnp.sqrt(e) * z,
            w,
            steps,
            ev.logdensity_grad,
            xi,
        )
        acc = acceptance_probability(posterior, batch, w, ev, new, steps) if mala else None
        total = sum(jax.tree.leaves(jax.tree.map(jnp.sum, steps)), start=jnp.zeros(()))
        info = StepInfo(
            loss=ev.loss,
            lp=ev.logdensity,
            step_size=total / tree_size(w),
            grad_norm=jnp.sqrt(tree_sq_norm(ev.loss_grad)),
            acceptance_rate=acc,
        )
        return RMSPropSGLDState(new, v, count), info

    return kernel


def rmsprop_sgld(
    posterior: Posterior,
    step_size: float,
    *,
    beta2: float = 0.999,
    eps: float = 1e-8,
    mala: bool = False,
    noise: str = "gaussian",
    adapt_steps: float = math.inf,
) -> SamplingAlgorithm:
    """RMSProp-SGLD as a :class:`~slt.base.SamplingAlgorithm`.

    Parameters
    ----------
    posterior
        The (localized, tempered) posterior.
    step_size
        The base step size :math:`\\epsilon`; the per-coordinate step is
        :math:`\\epsilon / (\\sqrt{\\hat v_t} + a)`.
    beta2, eps
        :math:`b_2` and :math:`a` above.
    mala
        Also report the MALA acceptance probability of each (preconditioned) step;
        ``plain_step`` is then the step without it.
    noise
        The law of :math:`\\xi_t`: ``"gaussian"`` or ``"rademacher"``
        (:func:`slt.tree.tree_noise_like`).
    adapt_steps
        Update :math:`v_t` on the first ``adapt_steps`` steps only, then keep it: a fixed
        preconditioner, for which SGLD needs no correction term (Li et al. 2016: the
        term :math:`\\Gamma` is the divergence of the preconditioner and vanishes when it does
        not depend on :math:`w`). Default: adapt on every step.
    """
    kernel = functools.partial(
        build_kernel, posterior, step_size, beta2=beta2, eps=eps, noise=noise,
        adapt_steps=adapt_steps,
    )  # fmt: skip
    if not mala:
        return SamplingAlgorithm(init, kernel())
    return SamplingAlgorithm(init, kernel(mala=True), without_acceptance(kernel()))
