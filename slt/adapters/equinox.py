r"""Equinox modules as ``(loss_fn, params)``: the pure form :func:`slt.llc` samples.

An Equinox module is already a pytree; ``eqx.partition(module, eqx.is_inexact_array)`` splits it
into the floating-point arrays :math:`w` (sampled) and everything else (held fixed), and
``eqx.combine`` puts them back (Kidger & Garcia 2021, *Equinox: neural networks in JAX via callable
PyTrees and filtered transformations*, arXiv:2111.00254). The pure loss is

.. math::

    L_B(w) = \texttt{loss}(\operatorname{combine}(w, \text{rest}), B),

evaluated in inference mode (``eqx.nn.inference_mode``: Dropout off, BatchNorm on its running
statistics), since the learning coefficient refers to the model, not to a training-time pass.

Equinox is an optional dependency (the ``dev`` extra); it is imported when :func:`from_equinox`
is called, so importing this module never needs it.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from slt._types import ArrayTree, Batch

__all__ = ["EquinoxModel", "from_equinox"]


class EquinoxModel(NamedTuple):
    """An Equinox module split into a pure loss and the parameters it is a function of.

    Attributes
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``: ``loss(eqx.combine(params, rest), batch)``; pure.
    params
        The floating-point arrays of the module: a module of the same type with every other
        leaf replaced by ``None`` (the first half of ``eqx.partition``).
    rest
        The other half: non-float leaves, static fields, and ``None`` where ``params`` has arrays.
    merge
        ``merge(params) -> module``, i.e. ``eqx.combine(params, rest)``.
    """

    loss_fn: Callable[[ArrayTree, Batch], jax.Array]
    params: Any
    rest: Any
    merge: Callable[[ArrayTree], Any]


def from_equinox(module: Any, loss: Callable[[Any, Batch], jax.Array]) -> EquinoxModel:
    """Split an Equinox ``module`` into a pure ``loss_fn(params, batch)`` and its ``params``.

    Parameters
    ----------
    module
        An ``eqx.Module``. It is switched to inference mode with ``eqx.nn.inference_mode``
        (a new module; the argument is unchanged). Layers that keep an ``eqx.nn.State``
        (``eqx.nn.BatchNorm``) need it at call time: close over it in ``loss``.
    loss
        ``loss(module, batch) -> scalar``, the **mean negative log-likelihood** over the batch.

    Returns
    -------
    EquinoxModel
        ``(loss_fn, params, rest, merge)``; pass ``loss_fn`` and ``params`` to :func:`slt.llc`.

    Raises
    ------
    ImportError
        When Equinox is not installed.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import equinox as eqx
    >>> from slt.adapters import from_equinox
    >>> net = eqx.nn.Linear(3, 2, key=jax.random.key(0))
    >>> model = from_equinox(net, lambda m, b: 0.5 * jnp.mean((jax.vmap(m)(b["x"]) - b["y"]) ** 2))
    >>> [leaf.shape for leaf in jax.tree.leaves(model.params)]
    [(2, 3), (2,)]
    >>> model.loss_fn(model.params, {"x": jnp.ones((4, 3)), "y": jnp.zeros((4, 2))}).shape
    ()
    """
    try:
        import equinox as eqx
    except ImportError as err:  # pragma: no cover - exercised only without equinox
        raise ImportError(
            "slt.adapters.from_equinox needs Equinox, an optional dependency: "
            "pip install equinox (or pip install 'slt[dev]')"
        ) from err

    inference = eqx.nn.inference_mode(module, value=True)
    params, rest = eqx.partition(inference, eqx.is_inexact_array)

    def merge(params: ArrayTree) -> Any:
        """``eqx.combine(params, rest)``: the module with these parameters."""
        return eqx.combine(params, rest)

    def loss_fn(params: ArrayTree, batch: Batch) -> jax.Array:
        """``loss(merge(params), batch)``."""
        return loss(merge(params), batch)

    return EquinoxModel(loss_fn=loss_fn, params=params, rest=rest, merge=merge)
