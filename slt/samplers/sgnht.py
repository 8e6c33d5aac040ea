r"""Stochastic gradient Nosé-Hoover thermostat (Ding et al. 2014, NeurIPS, Algorithm 1).

Momentum :math:`p`, a scalar thermostat :math:`\xi` and step :math:`h`; with
:math:`\nabla\log p` the gradient of the localized tempered log density on the minibatch,

.. math::

    p_{t+1} &= p_t - h\,\xi_t\,p_t + h\,\nabla\log p(w_t) + \sqrt{2Ah}\,\eta_t,\\
    w_{t+1} &= w_t + h\,p_{t+1},\\
    \xi_{t+1} &= \xi_t + h\,\bigl(\lVert p_{t+1}\rVert^2 / d - 1\bigr),

with :math:`p_0 \sim N(0, I)` and :math:`\xi_0 = A`. The thermostat is what makes SGNHT correct
with noisy gradients: when minibatch noise heats the momenta above unit kinetic temperature
(:math:`\lVert p\rVert^2/d > 1`), :math:`\xi` grows and damps them, and it falls when they cool,
so the kinetic temperature is held at 1 whatever the (unknown) gradient-noise variance.

A position moves about :math:`h` per step here against :math:`\sqrt{\epsilon}` for SGLD, so a
comparable SGNHT step size is :math:`h \approx \sqrt{\epsilon}`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch, PRNGKey
from slt.base import SamplingAlgorithm, StepInfo
from slt.posterior import Posterior, evaluate
from slt.tree import tree_noise_like, tree_normal_like, tree_size, tree_sq_norm

__all__ = ["SGNHTState", "build_kernel", "init", "sgnht"]


class SGNHTState(NamedTuple):
    """Position, momentum and the scalar thermostat :math:`\\xi`."""

    position: ArrayTree
    momentum: ArrayTree
    thermostat: jax.Array


def init(position: ArrayTree, rng_key: PRNGKey, *, diffusion: float = 0.01) -> SGNHTState:
    """Start at ``position`` with :math:`p_0 \\sim N(0, I)` and :math:`\\xi_0 = A`."""
    momentum = tree_normal_like(rng_key, position)
    dtype = jax.tree.leaves(position)[0].dtype
    return SGNHTState(position, momentum, jnp.asarray(diffusion, dtype))


def build_kernel(
    posterior: Posterior, step_size: float, *, diffusion: float = 0.01, noise: str = "gaussian"
):
    """The SGNHT step: step :math:`h` = ``step_size``, diffusion :math:`A` = ``diffusion``."""

    def kernel(rng_key: PRNGKey, state: SGNHTState, batch: Batch) -> tuple[SGNHTState, StepInfo]:
        w, p, xi = state
        d = tree_size(w)
        h = step_size
        ev = evaluate(posterior, w, batch)
        z = tree_noise_like(rng_key, w, noise)
        scale = jnp.sqrt(2.0 * diffusion * h)
        p_new = jax.tree.map(
            lambda m, g, e: m - (h * xi) * m + h * g + scale * e, p, ev.logdensity_grad, z
        )
        w_new = jax.tree.map(lambda x, m: x + h * m, w, p_new)
        kinetic = tree_sq_norm(p_new) / d
        xi_new = xi + h * (kinetic - 1.0)
        info = StepInfo(
            loss=ev.loss,
            lp=ev.logdensity,
            step_size=jnp.asarray(h, dtype=ev.loss.dtype),
            grad_norm=jnp.sqrt(tree_sq_norm(ev.loss_grad)),
        )
        return SGNHTState(w_new, p_new, xi_new), info

    return kernel


def sgnht(
    posterior: Posterior, step_size: float, *, diffusion: float = 0.01, noise: str = "gaussian"
) -> SamplingAlgorithm:
    """SGNHT as a :class:`~slt.base.SamplingAlgorithm`.

    Parameters
    ----------
    posterior
        The (localized, tempered) posterior.
    step_size
        :math:`h`, the integration step.
    diffusion
        :math:`A`, the injected noise level and initial thermostat value.
    noise
        The law of the injected increments: ``"gaussian"`` or ``"rademacher"``
        (:func:`slt.tree.tree_noise_like`; the initial momentum is Gaussian either way).
    """
    return SamplingAlgorithm(
        lambda position, rng_key: init(position, rng_key, diffusion=diffusion),
        build_kernel(posterior, step_size, diffusion=diffusion, noise=noise),
    )
