r"""Composable pieces of the localized, tempered posterior.

The posterior sampled for the local learning coefficient (Lau et al. 2025, arXiv:2308.12108,
eq. 7) is

.. math::

    p(w \mid w^\ast, \beta, \gamma) \propto \exp\bigl(-n\beta\,L_n(w)
        - \tfrac{\gamma}{2}\lVert w - w^\ast\rVert^2\bigr)\,\varphi(w),

with :math:`L_n` the mean negative log-likelihood over the n samples. It is built from small
pieces, each testable alone:

* :func:`tempered_likelihood` -- ``(w, batch) -> (-nβ L_B(w), L_B(w))`` on a minibatch B;
* :func:`localization` -- ``w -> -γ/2 ||w - w*||²``;
* :func:`gaussian_prior` -- ``w -> -||w - μ||² / (2σ²)`` (unnormalised);
* :func:`sum_log_densities` adds data-free pieces.

:class:`Posterior` holds the likelihood and the data-free part apart, because the kernels need the
loss gradient on its own (RMSProp-SGLD preconditions with it, Hitchcock & Hoogland 2025,
arXiv:2507.21449, App. D.3), and :func:`evaluate` returns loss, log density and both gradients
from one forward-backward pass.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch
from slt.tree import tree_add_scaled, tree_sq_norm, tree_sub

__all__ = [
    "Evaluation",
    "LogPriorFn",
    "LossFn",
    "Posterior",
    "evaluate",
    "gaussian_prior",
    "localization",
    "localized_posterior",
    "sum_log_densities",
    "tempered_likelihood",
]

LossFn = Callable[[ArrayTree, Batch], jax.Array]
"""``loss_fn(params, batch) -> scalar``: mean negative log-likelihood over the batch."""

LogPriorFn = Callable[[ArrayTree], jax.Array]
"""A data-free log-density term ``fn(w) -> scalar`` (localization, prior)."""


def tempered_likelihood(
    loss_fn: LossFn, *, nbeta: float
) -> Callable[[ArrayTree, Batch], tuple[jax.Array, jax.Array]]:
    r"""Tempered log-likelihood :math:`-n\beta L_B(w)` on a minibatch, with the loss beside it.

    Parameters
    ----------
    loss_fn
        Mean negative log-likelihood over a batch, :math:`L_B(w)`.
    nbeta
        The inverse temperature times the **dataset** size, :math:`n\beta`.
    """

    def fn(w: ArrayTree, batch: Batch) -> tuple[jax.Array, jax.Array]:
        loss = jnp.asarray(loss_fn(w, batch))
        return -nbeta * loss, loss

    return fn


def localization(center: ArrayTree, *, gamma: float) -> LogPriorFn:
    r"""Gaussian localization :math:`-\tfrac{\gamma}{2}\lVert w - w^\ast\rVert^2` around ``center``.

    Lau et al. (2025), arXiv:2308.12108, eq. 7. ``gamma = 0`` switches it off.
    """

    def fn(w: ArrayTree) -> jax.Array:
        return -0.5 * gamma * tree_sq_norm(tree_sub(w, center))

    return fn


def gaussian_prior(*, scale: float, mean: ArrayTree | None = None) -> LogPriorFn:
    r"""Isotropic Gaussian prior :math:`-\lVert w - \mu\rVert^2 / (2\sigma^2)`, unnormalised.

    Parameters
    ----------
    scale
        The prior standard deviation :math:`\sigma > 0`.
    mean
        The prior mean :math:`\mu` (a pytree like ``w``); zero when omitted.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")

    def fn(w: ArrayTree) -> jax.Array:
        diff = w if mean is None else tree_sub(w, mean)
        return -0.5 * tree_sq_norm(diff) / scale**2

    return fn


def sum_log_densities(*pieces: LogPriorFn) -> LogPriorFn:
    """The sum of data-free log-density pieces (zero when none are given)."""

    def fn(w: ArrayTree) -> jax.Array:
        total = jnp.zeros(())
        for piece in pieces:
            total = total + piece(w)
        return total

    return fn


class Posterior(NamedTuple):
    r"""A posterior as the kernels see it: :math:`\log p(w) = -n\beta L_B(w) + \log\pi(w)`.

    Attributes
    ----------
    loss_fn
        :math:`L_B(w)`, the minibatch mean negative log-likelihood.
    nbeta
        :math:`n\beta`, with n the dataset size.
    log_prior
        The data-free part :math:`\log\pi(w)` (localization and prior), ``fn(w) -> scalar``.
    """

    loss_fn: LossFn
    nbeta: float
    log_prior: LogPriorFn

    def logdensity(self, w: ArrayTree, batch: Batch) -> tuple[jax.Array, jax.Array]:
        """``(log p(w) on the batch, L_B(w))``."""
        lik, loss = tempered_likelihood(self.loss_fn, nbeta=self.nbeta)(w, batch)
        return lik + self.log_prior(w), loss


def localized_posterior(
    loss_fn: LossFn,
    center: ArrayTree,
    *,
    nbeta: float,
    gamma: float,
    prior: LogPriorFn | None = None,
) -> Posterior:
    """The LLC posterior of Lau et al. (2025), eq. 7, optionally times an extra prior."""
    pieces = [localization(center, gamma=gamma)] + ([prior] if prior is not None else [])
    return Posterior(loss_fn, nbeta, sum_log_densities(*pieces))


class Evaluation(NamedTuple):
    """Everything a kernel needs at one point, from one forward-backward pass.

    Attributes
    ----------
    loss
        :math:`L_B(w)`.
    loss_grad
        :math:`\\nabla L_B(w)`.
    logdensity
        :math:`-n\\beta L_B(w) + \\log\\pi(w)`.
    logdensity_grad
        Its gradient, :math:`-n\\beta\\nabla L_B(w) + \\nabla\\log\\pi(w)`.
    """

    loss: jax.Array
    loss_grad: ArrayTree
    logdensity: jax.Array
    logdensity_grad: ArrayTree


def evaluate(posterior: Posterior, w: ArrayTree, batch: Batch) -> Evaluation:
    """Loss, log density and both gradients at ``w`` on ``batch``."""
    loss, loss_grad = jax.value_and_grad(lambda p: jnp.asarray(posterior.loss_fn(p, batch)))(w)
    prior, prior_grad = jax.value_and_grad(posterior.log_prior)(w)
    logdensity = -posterior.nbeta * loss + prior
    logdensity_grad = tree_add_scaled(prior_grad, loss_grad, -posterior.nbeta)
    return Evaluation(loss, loss_grad, logdensity, logdensity_grad)
