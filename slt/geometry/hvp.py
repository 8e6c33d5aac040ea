r"""Hessian-vector products of the full-data loss, chunked over the samples and matrix-free.

With :math:`L_n(w) = \frac1n\sum_{i=1}^n \ell_i(w)` the mean loss over the whole dataset, the
Hessian-vector product

.. math::

    H v = \nabla^2 L_n(w)\,v = \frac{d}{dt}\Big|_{t=0} \nabla L_n(w + t v)

is computed forward-over-reverse, as ``jax.jvp`` of ``jax.grad`` (Pearlmutter 1994, "Fast exact
multiplication by the Hessian", Neural Computation 6:147), at about the cost of two gradients and
without forming the :math:`d \times d` matrix. The data are cut into chunks of ``chunk_size``
samples, and since ``loss_fn`` returns the mean over its batch,

.. math::

    L_n = \sum_c \frac{m_c}{n} L_{B_c}, \qquad H v = \sum_c \frac{m_c}{n} \nabla^2 L_{B_c} v,

with :math:`m_c` the length of chunk :math:`B_c`: the full chunks go through one ``lax.scan``
and the last ``n mod chunk_size`` samples through one more call, so memory stays at one chunk's
activations whatever n is, and the result equals the unchunked product up to round-off.

:func:`linear_operator` wraps the product as a function on flat vectors (``ravel_pytree``
order) of dimension :math:`d`; the Lanczos, Hutchinson and effective-dimension modules take it.
The parameters and data travel as arguments of the compiled function, not as closed-over
constants, so a large dataset is never baked into the program.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from slt._types import ArrayTree, Batch
from slt.data import DEFAULT_CHUNK_SIZE, check_chunk_size, chunk_mean, num_samples
from slt.posterior import LossFn

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LinearOperator",
    "chunk_mean",
    "dense_hessian",
    "hvp",
    "linear_operator",
    "operator_to_dense",
]


def check_like(v: ArrayTree, params: ArrayTree) -> None:
    """ValueError unless ``v`` has the tree structure and leaf shapes of ``params``."""
    tv: Any = jax.tree.structure(v)
    tp: Any = jax.tree.structure(params)
    if tv != tp:
        raise ValueError(f"v must have the pytree structure of params; got {tv} against {tp}")
    for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(params), strict=True):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"v must have the leaf shapes of params; got {jnp.shape(a)} for {jnp.shape(b)}"
            )


def _hvp(loss_fn: LossFn, params: ArrayTree, data: Batch, v: ArrayTree, chunk_size: int):
    def one(batch):
        return jax.jvp(lambda p: jax.grad(loss_fn)(p, batch), (params,), (v,))[1]

    return chunk_mean(one, data, chunk_size=chunk_size)


_hvp_jit = jax.jit(_hvp, static_argnames=("loss_fn", "chunk_size"))


def hvp(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    v: ArrayTree,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ArrayTree:
    r"""The Hessian-vector product :math:`\nabla^2 L_n(w)\,v` of the full-data mean loss.

    Forward-over-reverse (``jax.jvp`` of ``jax.grad``; Pearlmutter 1994), summed over chunks of
    ``chunk_size`` samples weighted by their length. Pure and traceable: it may be called under
    ``jit`` or ``vmap`` (over ``v``).

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    v
        The direction, a pytree like ``params``.
    chunk_size
        Samples per chunk of the full-data loss.

    Returns
    -------
    pytree
        :math:`H v`, with the structure of ``params``.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((w["a"] * x) ** 2)  # H = 2 mean(x^2) = 2 * 38.5
    >>> hv = hvp(loss, {"a": 1.0}, jnp.arange(1.0, 11.0), {"a": 1.0}, chunk_size=3)
    >>> round(float(hv["a"]), 4)
    77.0
    """
    num_samples(data)
    check_chunk_size(chunk_size)
    check_like(v, params)
    return _hvp_jit(loss_fn, params, data, v, chunk_size)


@dataclass(frozen=True)
class FlatMatvec:
    """``(operands, flat v) -> flat A v`` with ``operands = (params, data)``, for a pytree
    product ``product(loss_fn, params, data, v, chunk_size)`` (Hessian, Fisher); hashable,
    so it is a static argument of compiled functions."""

    product: Callable[..., ArrayTree]
    loss_fn: LossFn
    chunk_size: int

    def __call__(self, operands: tuple[ArrayTree, Batch], v: jax.Array) -> jax.Array:
        """Flat :math:`Av` in the dtype of ``v``."""
        params, data = operands
        flat, unravel = ravel_pytree(params)
        av = self.product(
            self.loss_fn, params, data, unravel(v.astype(flat.dtype)), self.chunk_size
        )
        return ravel_pytree(av)[0].astype(v.dtype)


class LinearOperator(NamedTuple):
    """A symmetric matrix-free operator on flat parameter vectors.

    Attributes
    ----------
    apply
        ``apply(operands, v) -> A v`` on flat vectors of length ``dim``; a hashable callable, so
        that compiled functions taking it as a static argument are cached across calls.
    operands
        The arrays ``apply`` needs (``(params, data)``), passed to compiled code as arguments.
    dim
        The dimension d.
    dtype
        The dtype of the flat parameter vector.
    unravel
        Flat vector -> pytree like ``params`` (from ``jax.flatten_util.ravel_pytree``).
    """

    apply: Callable[..., jax.Array]
    operands: Any
    dim: int
    dtype: Any
    unravel: Callable[[jax.Array], ArrayTree]

    def matvec(self, v: jax.Array) -> jax.Array:
        """:math:`A v` for a flat vector ``v`` of length ``dim`` (compiled once per ``apply``)."""
        return _apply_jit(self.apply, self.operands, v)


def _apply(apply: Callable[..., jax.Array], operands: Any, v: jax.Array) -> jax.Array:
    return apply(operands, v)


_apply_jit = jax.jit(_apply, static_argnames=("apply",))


def flat_params(params: ArrayTree) -> tuple[jax.Array, Callable[[jax.Array], ArrayTree]]:
    """``ravel_pytree(params)``, or a ValueError when ``params`` holds no entries."""
    flat, unravel = ravel_pytree(params)
    if flat.size == 0:
        raise ValueError("params must hold at least one array entry; got an empty pytree")
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        raise ValueError(f"params must be floating point; got dtype {flat.dtype}")
    return flat, unravel


def linear_operator(
    loss_fn: LossFn, params: ArrayTree, data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> LinearOperator:
    r"""The Hessian :math:`\nabla^2 L_n(w)` as a matrix-free operator on flat vectors.

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of floating arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    chunk_size
        Samples per chunk of the full-data loss.

    Returns
    -------
    LinearOperator
        ``op.matvec(v)`` is :math:`Hv` for a flat ``v`` of length ``op.dim`` (``ravel_pytree``
        order).

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(w["a"] ** 2 * x + 3 * w["b"] ** 2)
    >>> op = linear_operator(loss, {"a": 1.0, "b": 1.0}, jnp.ones(5))
    >>> op.dim, op.matvec(jnp.array([1.0, 1.0])).tolist()
    (2, [2.0, 6.0])
    """
    return product_operator(_hvp, loss_fn, params, data, chunk_size)


def product_operator(
    product: Callable[..., ArrayTree],
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    chunk_size: int,
) -> LinearOperator:
    """The :class:`LinearOperator` of ``product(loss_fn, params, data, v, chunk_size)`` (a
    module-level function, so that equal operators share their compiled code)."""
    num_samples(data)
    check_chunk_size(chunk_size)
    flat, unravel = flat_params(params)
    return LinearOperator(
        apply=FlatMatvec(product, loss_fn, chunk_size),
        operands=(params, data),
        dim=int(flat.size),
        dtype=flat.dtype,
        unravel=unravel,
    )


def compute_dtype(dtype: Any) -> Any:
    """``dtype`` widened to float64 when 64-bit floats are enabled, else to float32."""
    wide = jax.dtypes.canonicalize_dtype(jnp.float64)
    return jnp.promote_types(dtype, wide)


def _dense(apply: Callable, operands: Any, dim: int, dtype: Any, basis_chunk: int) -> jax.Array:
    def column(j):
        return apply(operands, jnp.zeros(dim, dtype).at[j].set(1))

    cols = jax.lax.map(column, jnp.arange(dim), batch_size=min(basis_chunk, dim))
    return 0.5 * (cols + cols.T)


_dense_jit = jax.jit(_dense, static_argnames=("apply", "dim", "dtype", "basis_chunk"))


def operator_to_dense(op: LinearOperator, *, basis_chunk: int = 64) -> jax.Array:
    """The symmetrised dense matrix of ``op``, one ``vmap`` over ``basis_chunk`` columns at a time.

    Costs ``op.dim`` products and :math:`d^2` memory: meant for small d (a few thousand).
    """
    check_chunk_size(basis_chunk, "basis_chunk")
    dtype = compute_dtype(op.dtype)
    return _dense_jit(op.apply, op.operands, op.dim, jnp.dtype(dtype), basis_chunk)


def dense_hessian(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    basis_chunk: int = 64,
) -> jax.Array:
    r"""The dense :math:`d \times d` Hessian of :math:`L_n` from d Hessian-vector products.

    Each column is :math:`H e_j`, ``vmap``-ed over ``basis_chunk`` basis vectors at a time; the
    result is symmetrised, :math:`(H + H^\top)/2`, in ``ravel_pytree`` order. Memory is
    :math:`d^2`: use it for small models only (``effective_parameters`` does for d <= 2000).

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of floating arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    chunk_size
        Samples per chunk of the full-data loss.
    basis_chunk
        Basis vectors per ``vmap``.

    Returns
    -------
    jax.Array
        Shape (d, d), float64 when 64-bit floats are enabled.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(w[0] * w[1] * x)
    >>> dense_hessian(loss, jnp.zeros(2), jnp.ones(3)).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    return operator_to_dense(
        linear_operator(loss_fn, params, data, chunk_size=chunk_size), basis_chunk=basis_chunk
    )
