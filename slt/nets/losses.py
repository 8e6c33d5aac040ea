r"""Negative log-likelihoods for the reference networks, in the form the adapters take.

:func:`slt.llc` wants the **mean negative log-likelihood** over the minibatch.

* :func:`cross_entropy`: a categorical model :math:`p(y \mid x, w) = \operatorname{softmax}
  (f_w(x))_y`, so :math:`\ell = -\log\operatorname{softmax}(f_w(x))_y`, exactly the NLL.
* :func:`mse`: a Gaussian model :math:`y \sim N(f_w(x), 1)`, whose NLL is
  :math:`\tfrac12 (y - f_w(x))^2 + \tfrac12\log 2\pi`; the constant does not change the LLC
  (it cancels in :math:`L_n(w) - L_n(w^\ast)`), so :func:`mse` is :math:`\tfrac12` times the
  mean squared error. Plain MSE would double the likelihood, i.e. double β.

The ``*_loss(model, batch)`` functions apply a model to ``batch["x"]`` and compare with
``batch["y"]``; pass them to :func:`slt.adapters.from_nnx` (or ``from_equinox`` with a model that
takes batches).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "classification_loss",
    "cross_entropy",
    "in_context_regression_loss",
    "modular_addition_loss",
    "mse",
]

Model = Callable[[jax.Array], jax.Array]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over the batch of :math:`-\\log\\operatorname{softmax}(\\text{logits})_{\\text{label}}`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from slt.nets.losses import cross_entropy
    >>> round(float(cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3]))), 4)  # log 4
    1.3863
    """
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Half the mean squared error: the unit-variance Gaussian NLL per entry, less ½ log 2π.

    The mean runs over every entry, so for targets of several entries per sample it is the NLL
    per entry (the NLL per sample divided by the number of entries).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from slt.nets.losses import mse
    >>> float(mse(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])))
    1.25
    """
    return 0.5 * jnp.mean((pred - target) ** 2)


def classification_loss(model: Any, batch: dict[str, jax.Array]) -> jax.Array:
    """Cross-entropy of ``model(batch["x"])`` (logits) against integer ``batch["y"]``.

    For :class:`~slt.nets.MLP`, :class:`~slt.nets.CNN` and :class:`~slt.nets.ResNet` on
    :func:`~slt.nets.datasets.digits`.
    """
    return cross_entropy(model(batch["x"]), batch["y"])


def modular_addition_loss(model: Any, batch: dict[str, jax.Array]) -> jax.Array:
    """Cross-entropy of the logits at the last position (the ``=`` token) against the sum.

    For a :class:`~slt.nets.Transformer` on :func:`~slt.nets.datasets.modular_addition` inputs
    ``[a, b, =]`` (Nanda et al. 2023 read the answer off the final position only).
    """
    return cross_entropy(model(batch["x"])[:, -1], batch["y"])


def in_context_regression_loss(model: Any, batch: dict[str, jax.Array]) -> jax.Array:
    """:func:`mse` of the predictions at the x tokens against the y's, per point.

    For a :class:`~slt.nets.Transformer` with ``input_dim = dim + 1`` and ``out_features = 1`` on
    :func:`~slt.nets.datasets.in_context_regression`: the output at token 2i (the x token of
    point i) predicts :math:`y_i`. The mean runs over sequences and points, so the NLL per
    sequence is ``num_points`` times this (the same as multiplying nβ by ``num_points``).
    """
    pred = model(batch["x"])[:, 0::2, 0]
    return mse(pred, batch["y"])
