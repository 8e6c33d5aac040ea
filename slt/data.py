r"""Datasets as pytrees, and the minibatch schedules of the samplers.

A dataset is any pytree of arrays sharing a leading axis of length n. Each chain draws its
minibatches from its own key, in one of two schedules:

- **reshuffle** (without replacement within each epoch): epoch e visits the permutation
  ``permutation(fold_in(key, e), n)`` in consecutive slices of ``batch_size`` (the last
  ``n mod batch_size`` samples of each permutation are left out of that epoch). The epoch
  boundary is decided by the step index, which is the same for every chain, so a permutation is
  drawn once per epoch, not once per step, even under ``vmap``.
- **iid** (with replacement): step t draws ``batch_size`` indices uniformly from
  ``fold_in(key, t)``, independently of every other step.

The schedules differ in what a sampler's loss trace means. Under iid the batch of step t is
independent of the position :math:`w_t`, so :math:`\mathbb{E}[L_{B_t}(w_t) \mid w_t] =
L_n(w_t)`. Under reshuffle :math:`w_t` has just been pulled toward the batches earlier in the
epoch, which are disjoint from :math:`B_t`: the trace reads above :math:`L_n(w_t)` (measured
in tests/test_gradient.py). All of this runs inside ``scan``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt._types import Batch, PRNGKey

__all__ = [
    "BATCHINGS",
    "DEFAULT_CHUNK_SIZE",
    "Batcher",
    "batch_at",
    "check_chunk_size",
    "check_data",
    "chunk_mean",
    "epoch_permutation",
    "num_samples",
]


BATCHINGS = ("reshuffle", "iid")
"""The minibatch schedules (module docstring)."""


def num_samples(data: Batch) -> int:
    """The common leading-axis length n of every leaf of ``data``.

    Raises
    ------
    ValueError
        When ``data`` has no array leaves, a scalar leaf, or leaves of different lengths.
    """
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data must be a pytree with at least one array leaf; got no leaves")
    lengths = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError(
                f"data leaf {jax.tree_util.keystr(path) or '<root>'} is a scalar; every leaf "
                "needs a leading axis indexing the n samples"
            )
        lengths[jax.tree_util.keystr(path) or "<root>"] = shape[0]
    if len(set(lengths.values())) != 1:
        raise ValueError(
            "data leaves must share their leading axis (the sample count n); got lengths "
            + ", ".join(f"{k}: {v}" for k, v in lengths.items())
        )
    n = next(iter(lengths.values()))
    if n < 1:
        raise ValueError("data must hold at least one sample; its leading axis has length 0")
    return int(n)


def check_data(data: Batch) -> int:
    """Validate ``data`` (shared leading axis, numeric, finite) and return n."""
    n = num_samples(data)
    for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
        name = jax.tree_util.keystr(path) or "<root>"
        arr = np.asarray(leaf) if not isinstance(leaf, jax.Array) else leaf
        if not (jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.bool_)):
            raise ValueError(f"data leaf {name} has dtype {arr.dtype}; it must be numeric")
        if jnp.issubdtype(arr.dtype, jnp.inexact) and not bool(jnp.all(jnp.isfinite(arr))):
            bad = int(jnp.sum(~jnp.isfinite(arr)))
            raise ValueError(
                f"data leaf {name} has {bad} non-finite values (NaN or inf); clean or drop "
                "those samples first"
            )
    return n


class Batcher(NamedTuple):
    """Static description of the minibatch schedule."""

    n: int
    batch_size: int
    replace: bool = False
    """True for the iid schedule (with replacement), False for reshuffle (module docstring)."""

    @property
    def num_batches(self) -> int:
        """Minibatches per epoch, ``n // batch_size``."""
        return self.n // self.batch_size

    @property
    def full_batch(self) -> bool:
        """True when every step sees the whole dataset (no permutation is needed)."""
        return self.batch_size == self.n


def epoch_permutation(key: PRNGKey, epoch: jax.Array, n: int) -> jax.Array:
    """The sample order of ``epoch`` for the chain whose batch key is ``key``."""
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def batch_at(data: Batch, batcher: Batcher, key: PRNGKey, perm: jax.Array, step: jax.Array):
    """The minibatch of global step ``step`` and the (possibly refreshed) permutation.

    ``perm`` is the permutation carried from the previous step; at the first step of an epoch
    (``step % num_batches == 0``) it is replaced by that epoch's permutation. ``step`` must not be
    batched over chains, so that the refresh stays a real branch under ``vmap``. With
    ``batcher.replace`` the indices are drawn with replacement from ``fold_in(key, step)`` and
    ``perm`` is passed through unchanged (even when b = n: an iid batch of n is not the data).
    """
    if batcher.replace:
        idx = jax.random.randint(jax.random.fold_in(key, step), (batcher.batch_size,), 0, batcher.n)
        return jax.tree.map(lambda x: jnp.take(x, idx, axis=0), data), perm
    if batcher.full_batch:
        return data, perm
    epoch, pos = jnp.divmod(step, batcher.num_batches)
    perm = jax.lax.cond(pos == 0, lambda: epoch_permutation(key, epoch, batcher.n), lambda: perm)
    idx = jax.lax.dynamic_slice_in_dim(perm, pos * batcher.batch_size, batcher.batch_size)
    return jax.tree.map(lambda x: jnp.take(x, idx, axis=0), data), perm


DEFAULT_CHUNK_SIZE = 1024
"""Samples per chunk of a full-data mean (:func:`chunk_mean`), unless a function is told
otherwise."""


def check_chunk_size(chunk_size: int, name: str = "chunk_size") -> int:
    """``chunk_size`` as a positive int, or a ValueError naming it."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"{name} must be a positive integer; got {chunk_size!r}")
    return chunk_size


def chunk_mean(fn: Callable[[Batch], Any], data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE):
    r"""The sample-weighted mean of ``fn`` over chunks of ``data``: :math:`\sum_c (m_c/n) f(B_c)`.

    When ``fn(batch)`` is a mean over the batch (a loss, its gradient, a Hessian-vector product),
    this is the same mean over all n samples, computed one chunk of ``chunk_size`` samples at a
    time: ``n // chunk_size`` full chunks in one ``lax.scan``, then the remainder in one call.

    Parameters
    ----------
    fn
        ``fn(batch) -> pytree of arrays``, a mean over the batch's leading axis.
    data
        A pytree of arrays sharing a leading axis of length n.
    chunk_size
        Samples per chunk; ``chunk_size >= n`` evaluates ``fn(data)`` once.

    Returns
    -------
    pytree
        Same structure as ``fn``'s output.

    Examples
    --------
    >>> x = jnp.arange(10.0)
    >>> float(chunk_mean(jnp.mean, x, chunk_size=4))
    4.5
    """
    n = num_samples(data)
    check_chunk_size(chunk_size)
    if chunk_size >= n:
        return fn(data)
    q, r = divmod(n, chunk_size)
    head = jax.tree.map(lambda x: x[: q * chunk_size].reshape(q, chunk_size, *x.shape[1:]), data)
    first = jax.tree.map(lambda x: x[0], head)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(fn, first))

    def body(acc, chunk):
        return jax.tree.map(jnp.add, acc, fn(chunk)), None

    total, _ = jax.lax.scan(body, zeros, head)
    total = jax.tree.map(lambda t: t * (chunk_size / n), total)
    if r:
        tail = fn(jax.tree.map(lambda x: x[q * chunk_size :], data))
        total = jax.tree.map(lambda t, s: t + s * (r / n), total, tail)
    return total
