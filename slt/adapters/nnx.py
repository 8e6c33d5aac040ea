r"""Flax NNX modules as ``(loss_fn, params)``: the pure form :func:`slt.llc` samples.

A module :math:`f_w` is split (``nnx.split``) into a static graph definition, the trainable
parameters :math:`w` (``nnx.Param`` by default) and the remaining state (BatchNorm running
statistics, RNG keys and counters, ...), which is frozen at its current value. The pure loss is

.. math::

    L_B(w) = \texttt{loss}(\operatorname{merge}(\text{graphdef}, w, \text{rest}), B),

so the sampled posterior is a function of :math:`w` alone. Before splitting, a copy of the module
is put in inference mode (``module.eval()``: BatchNorm uses its running averages, Dropout is the
identity), because the learning coefficient refers to the model :math:`p(y \mid x, w)`, not to a
training-time forward pass whose output depends on the rest of the minibatch or on dropout noise.
See the Flax NNX functional API (``nnx.split`` / ``nnx.merge``,
https://flax.readthedocs.io/en/latest/nnx_basics.html).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
from flax import nnx

from slt._types import ArrayTree, Batch

__all__ = ["NNXModel", "from_nnx"]


class NNXModel(NamedTuple):
    """A Flax NNX module split into a pure loss and the parameters it is a function of.

    Attributes
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``: merges ``graphdef``, ``params`` and ``rest`` into a
        module (in inference mode) and calls the user's ``loss(module, batch)``. Pure, so it goes
        through ``jax.jit``, ``jax.grad``, ``jax.vmap`` and ``jax.lax.scan``.
    params
        The trainable leaves :math:`w^\\ast` as a plain nested ``dict`` of arrays
        (``nnx.to_pure_dict`` of the ``nnx.Param`` state; list-held submodules give integer
        keys). A plain dict is the most portable pytree (clean key paths, no ``Variable``
        wrappers) and ``nnx.merge`` accepts it directly.
    rest
        The frozen non-trainable state (``nnx.State``): BatchNorm statistics, RNG state, ...
    graphdef
        The static structure from ``nnx.split``.
    merge
        ``merge(params) -> module``: a new module with these parameters and the frozen rest.
    """

    loss_fn: Callable[[ArrayTree, Batch], jax.Array]
    params: dict[Any, Any]
    rest: nnx.State
    graphdef: Any
    merge: Callable[[ArrayTree], nnx.Module]


def from_nnx(
    module: nnx.Module,
    loss: Callable[[Any, Batch], jax.Array],
    *,
    trainable: Any = nnx.Param,
) -> NNXModel:
    """Split a Flax NNX ``module`` into a pure ``loss_fn(params, batch)`` and its ``params``.

    Parameters
    ----------
    module
        Any ``nnx.Module``. It is not modified: a clone is switched to inference mode with
        ``.eval()`` (``use_running_average=True`` for BatchNorm, ``deterministic=True`` for
        Dropout) and then split, so BatchNorm statistics and RNG state are frozen at their
        current values and the loss does not depend on how a minibatch is composed.
    loss
        ``loss(module, batch) -> scalar``, the **mean negative log-likelihood** over the batch,
        e.g. ``lambda m, b: cross_entropy(m(b["x"]), b["y"])`` (see :mod:`slt.nets.losses`).
    trainable
        An NNX filter selecting the sampled leaves (default ``nnx.Param``); every other leaf
        goes to ``rest`` and is held fixed.

    Returns
    -------
    NNXModel
        ``(loss_fn, params, rest, graphdef, merge)``; pass ``loss_fn`` and ``params`` to
        :func:`slt.llc`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.adapters import from_nnx
    >>> net = nnx.Sequential(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.BatchNorm(4, rngs=nnx.Rngs(0)))
    >>> model = from_nnx(net, lambda m, b: 0.5 * jnp.mean((m(b["x"]) - b["y"]) ** 2))
    >>> sorted(model.params["layers"][1])  # BatchNorm's scale and bias; its statistics are rest
    ['bias', 'scale']
    >>> batch = {"x": jnp.ones((5, 3)), "y": jnp.zeros((5, 4))}
    >>> model.loss_fn(model.params, batch).shape
    ()
    """
    inference = nnx.clone(module)
    inference.eval()
    graphdef, param_state, *others = nnx.split(inference, trainable, ...)
    (rest,) = others
    params = nnx.to_pure_dict(param_state)

    def merge(params: ArrayTree) -> nnx.Module:
        """A module with ``params`` and the frozen rest (new Variables; nothing is shared)."""
        return nnx.merge(graphdef, params, rest)

    def loss_fn(params: ArrayTree, batch: Batch) -> jax.Array:
        """``loss(merge(params), batch)``."""
        return loss(merge(params), batch)

    return NNXModel(loss_fn=loss_fn, params=params, rest=rest, graphdef=graphdef, merge=merge)
