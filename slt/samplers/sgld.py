r"""Stochastic gradient Langevin dynamics (Welling & Teh 2011), localized and tempered.

With :math:`\log p(w) = -n\beta L_B(w) - \tfrac{\gamma}{2}\lVert w - w^\ast\rVert^2
+ \log\varphi(w)` on the step's minibatch B, one step is

.. math::

    w_{t+1} = w_t + \tfrac{\epsilon}{2}\nabla\log p(w_t) + \sqrt{\epsilon}\,\xi_t,
    \qquad \xi_t \sim N(0, I),

the update of Lau et al. (2025, arXiv:2308.12108, eq. 8); in BlackJAX's convention
:math:`x + h\nabla\log\pi + \sqrt{2h}\xi` it is :math:`h = \epsilon/2`.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch, PRNGKey
from slt.base import SamplingAlgorithm, StepInfo
from slt.posterior import Posterior, evaluate
from slt.samplers.mala import acceptance_probability, without_acceptance
from slt.tree import tree_noise_like, tree_sq_norm

__all__ = ["SGLDState", "build_kernel", "init", "sgld"]


class SGLDState(NamedTuple):
    """The chain's position; SGLD carries nothing else."""

    position: ArrayTree


def init(position: ArrayTree, rng_key: PRNGKey | None = None) -> SGLDState:
    """Start at ``position`` (the key is unused: SGLD has no random initial state)."""
    del rng_key
    return SGLDState(position)


def build_kernel(
    posterior: Posterior, step_size: float, *, mala: bool = False, noise: str = "gaussian"
):
    """The SGLD step for ``posterior`` with step size :math:`\\epsilon` = ``step_size``."""

    def kernel(rng_key: PRNGKey, state: SGLDState, batch: Batch) -> tuple[SGLDState, StepInfo]:
        w = state.position
        ev = evaluate(posterior, w, batch)
        xi = tree_noise_like(rng_key, w, noise)
        scale = jnp.sqrt(step_size)
        new = jax.tree.map(
            lambda x, g, z: x + (0.5 * step_size) * g + scale * z, w, ev.logdensity_grad, xi
        )
        acc = None
        if mala:
            eps = jax.tree.map(lambda x: jnp.full_like(x, step_size), w)
            acc = acceptance_probability(posterior, batch, w, ev, new, eps)
        info = StepInfo(
            loss=ev.loss,
            lp=ev.logdensity,
            step_size=jnp.asarray(step_size, dtype=ev.loss.dtype),
            grad_norm=jnp.sqrt(tree_sq_norm(ev.loss_grad)),
            acceptance_rate=acc,
        )
        return SGLDState(new), info

    return kernel


def sgld(
    posterior: Posterior, step_size: float, *, mala: bool = False, noise: str = "gaussian"
) -> SamplingAlgorithm:
    """SGLD as a :class:`~slt.base.SamplingAlgorithm`.

    Parameters
    ----------
    posterior
        The (localized, tempered) posterior, e.g. from :func:`slt.posterior.localized_posterior`.
    step_size
        :math:`\\epsilon` in the update above.
    mala
        Also report the MALA acceptance probability of each step (one more gradient per step);
        ``plain_step`` is then the step without it.
    noise
        The law of :math:`\\xi_t`: ``"gaussian"`` or ``"rademacher"`` (independent signs, the
        weak Euler increment; see :func:`slt.tree.tree_noise_like`).
    """
    kernel = functools.partial(build_kernel, posterior, step_size, noise=noise)
    if not mala:
        return SamplingAlgorithm(init, kernel())
    return SamplingAlgorithm(init, kernel(mala=True), without_acceptance(kernel()))
