r"""Training with Optax, keeping checkpoints: the points whose LLC :func:`slt.llc_trajectory`
follows over a training run.

The model is the pure pair ``(loss_fn, params)`` that :func:`slt.llc` takes (from
:func:`slt.adapters.from_nnx` for a Flax NNX module). :func:`train` runs minibatch steps

.. math::

    w_{t+1} = w_t + \operatorname{update}(\nabla L_{B_t}(w_t)),

with any ``optax.GradientTransformation`` (default AdamW, Loshchilov & Hutter 2019), the
batches drawn without replacement within each epoch (:mod:`slt.data`), and keeps the parameters
every ``checkpoint_every`` steps (and at steps 0 and ``num_steps``), with the full-data training
loss and, when given, the loss and accuracy on held-out data. The steps between two checkpoints
run as one compiled ``lax.scan``.
"""

import os
import pickle
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from slt._types import ArrayTree, Batch
from slt.data import Batcher, batch_at, check_data
from slt.gradient import full_loss
from slt.posterior import LossFn
from slt.workflows.checks import check_int, check_loss_fn, check_params

__all__ = ["Checkpoint", "TrainResult", "load_checkpoints", "save_checkpoints", "train"]


class Checkpoint(NamedTuple):
    """The parameters at one training step, with the losses there.

    Attributes
    ----------
    step
        Optimizer steps taken.
    params
        The parameters (host arrays).
    train_loss
        :math:`L_n(w)` on the whole training set.
    metrics
        ``eval_fn(params, eval_data)`` when given (e.g. ``{"test_loss": ..., "test_accuracy":
        ...}``), else empty.
    """

    step: int
    params: ArrayTree
    train_loss: float
    metrics: dict[str, float]


class TrainResult(NamedTuple):
    """What :func:`train` returns: the final parameters, the checkpoints and the loss curve
    (the minibatch loss of every step, shape (num_steps,))."""

    params: ArrayTree
    checkpoints: list[Checkpoint]
    losses: np.ndarray


def train(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    num_steps: int,
    batch_size: int = 128,
    optimizer: optax.GradientTransformation | None = None,
    checkpoint_every: int | None = None,
    eval_data: Batch | None = None,
    eval_fn: Callable[[ArrayTree, Batch], dict[str, Any]] | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train ``params`` on ``data`` for ``num_steps`` minibatch steps and keep checkpoints.

    Parameters
    ----------
    loss_fn, params, data
        As in :func:`slt.llc`: the mean loss over a batch, the initial parameters and the
        training set (a pytree of arrays sharing their leading axis n).
    num_steps
        Optimizer steps.
    batch_size
        Minibatch size, ``1 <= batch_size <= n``.
    optimizer
        Any Optax transformation; default ``optax.adamw(1e-3, weight_decay=1e-4)``.
    checkpoint_every
        Keep a checkpoint every this many steps (it must divide ``num_steps``); default
        ``num_steps`` (the initial and the final point only).
    eval_data, eval_fn
        Held-out data and ``eval_fn(params, eval_data) -> {name: scalar}``, evaluated at every
        checkpoint.
    seed
        Seeds the batch order.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> x = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
    >>> data = {"x": x, "y": x @ np.array([2.0, -1.0], np.float32)}
    >>> loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)
    >>> run = train(loss, jnp.zeros(2), data, num_steps=200, batch_size=32,
    ...             optimizer=optax.sgd(0.1), checkpoint_every=100)
    >>> [c.step for c in run.checkpoints], np.round(run.params, 2).tolist()
    ([0, 100, 200], [2.0, -1.0])
    """
    n = check_data(data)
    num_steps = check_int("num_steps", num_steps, low=1)
    batch_size = check_int("batch_size", batch_size, low=1, high=n)
    every = num_steps if checkpoint_every is None else checkpoint_every
    every = check_int("checkpoint_every", every, low=1, high=num_steps)
    if num_steps % every:
        raise ValueError(
            f"checkpoint_every must divide num_steps ({num_steps}); got {checkpoint_every}"
        )
    if (eval_data is None) != (eval_fn is None):
        raise ValueError("give eval_data and eval_fn together (or neither)")
    seed = check_int("seed", seed, low=0)
    check_params(params)
    check_loss_fn(loss_fn, params, data, batch_size)
    optimizer = optax.adamw(1e-3, weight_decay=1e-4) if optimizer is None else optimizer

    batcher = Batcher(n, batch_size)
    key = jax.random.key(seed)
    value_and_grad = jax.value_and_grad(lambda p, b: jnp.asarray(loss_fn(p, b)))

    @jax.jit
    def segment(params, opt_state, perm, first, data):
        def step(carry, t):
            params, opt_state, perm = carry
            batch, perm = batch_at(data, batcher, key, perm, t)
            loss, grad = value_and_grad(params, batch)
            updates, opt_state = optimizer.update(grad, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, perm), loss

        return jax.lax.scan(step, (params, opt_state, perm), first + jnp.arange(every))

    def checkpoint(step: int, params: ArrayTree) -> Checkpoint:
        train_loss = float(full_loss(loss_fn, params, data))
        metrics = {}
        if eval_fn is not None:
            metrics = {k: float(v) for k, v in eval_fn(params, eval_data).items()}
        return Checkpoint(step, jax.device_get(params), train_loss, metrics)

    opt_state = optimizer.init(params)
    perm = jnp.arange(n)
    checkpoints = [checkpoint(0, params)]
    losses = []
    for first in range(0, num_steps, every):
        (params, opt_state, perm), segment_losses = segment(params, opt_state, perm, first, data)
        losses.append(np.asarray(segment_losses))
        checkpoints.append(checkpoint(first + every, params))
    return TrainResult(jax.device_get(params), checkpoints, np.concatenate(losses))


def save_checkpoints(path: str | os.PathLike[str], checkpoints: list[Checkpoint]) -> None:
    """Write ``checkpoints`` to ``path`` whole or not at all (a temporary file, then renamed).

    The file is a pickle of host numpy arrays: read it back only from a source you trust.
    """
    from slt.io import atomic_path

    host = [c._replace(params=jax.tree.map(np.asarray, c.params)) for c in checkpoints]
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(host, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_checkpoints(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """The checkpoints :func:`save_checkpoints` wrote (a trusted pickle)."""
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 -- our own file format
