r"""The MALA acceptance probability of a Langevin step, as a diagnostic.

Furman & Lau (arXiv:2402.03698), following Lau et al. (2025, arXiv:2308.12108, App.): an SGLD step
is the proposal of a Metropolis-adjusted Langevin algorithm. With :math:`U = -\log p` on the step's
minibatch, drift :math:`\mu(w) = w + \tfrac{\epsilon}{2}\nabla\log p(w)` and proposal
:math:`w' \sim N(\mu(w), \epsilon I)`,

.. math::

    A = \min\{1, \exp[U(w) - U(w') + \log q(w \mid w') - \log q(w' \mid w)]\},\qquad
    \log q(w' \mid w) = -\lVert w' - \mu(w)\rVert^2 / (2\epsilon).

The step is never rejected: A only says whether the step size is small enough for the
discretisation to be faithful (about 0.9 is the usual target). ``step_size`` may be a pytree
of per-coordinate step sizes (preconditioned kernels), giving the diagonal-covariance version.
It costs one more gradient evaluation per step, so it is opt-in.
"""

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch
from slt.posterior import Evaluation, Posterior, evaluate

__all__ = ["acceptance_probability", "without_acceptance"]


def _log_q(to: ArrayTree, frm: ArrayTree, grad: ArrayTree, step_size: ArrayTree) -> jax.Array:
    """Log density (up to a shared constant) of proposing ``to`` from ``frm``."""
    terms = jax.tree.map(
        lambda t, f, g, e: jnp.sum((t - f - 0.5 * e * g) ** 2 / (2.0 * e)),
        to,
        frm,
        grad,
        step_size,
    )
    return -sum(jax.tree.leaves(terms), start=jnp.zeros(()))


def acceptance_probability(
    posterior: Posterior,
    batch: Batch,
    position: ArrayTree,
    current: Evaluation,
    proposal: ArrayTree,
    step_size: ArrayTree,
) -> jax.Array:
    """MALA acceptance probability of moving from ``position`` to ``proposal`` on ``batch``.

    Parameters
    ----------
    posterior, batch
        The posterior and the minibatch the step used.
    position, current
        The pre-update point and its :func:`~slt.posterior.evaluate` result.
    proposal
        The post-update point.
    step_size
        The step size, a pytree like ``position`` (broadcast a scalar with ``jax.tree.map``).
    """
    new = evaluate(posterior, proposal, batch)
    log_ratio = (
        new.logdensity
        - current.logdensity
        + _log_q(position, proposal, new.logdensity_grad, step_size)
        - _log_q(proposal, position, current.logdensity_grad, step_size)
    )
    return jnp.exp(jnp.minimum(0.0, jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)))


def without_acceptance(kernel):
    """``kernel`` (built without the MALA diagnostic) reporting ``acceptance_rate`` as NaN, so
    that its :class:`~slt.base.StepInfo` has the structure of the diagnosed kernel's and the two
    can be the branches of one ``lax.cond``."""

    def step(rng_key, state, batch):
        state, info = kernel(rng_key, state, batch)
        return state, info._replace(acceptance_rate=jnp.full((), jnp.nan, info.loss.dtype))

    return step
