r"""The empirical Fisher information as a matrix-free operator, its trace and top eigenvalues.

With :math:`\ell_i(w)` the loss of sample i alone (``loss_fn`` on a batch of one) and
:math:`g_i = \nabla \ell_i(w)`, the empirical Fisher is

.. math::

    F = \frac1n \sum_{i=1}^n g_i g_i^\top, \qquad
    F v = \frac1n \sum_i g_i\,(g_i \cdot v), \qquad
    \mathrm{tr}\,F = \frac1n \sum_i \lVert g_i\rVert^2,

(Kunstner, Hennig & Balles 2019, "Limitations of the empirical Fisher approximation for natural
gradient descent", NeurIPS, §2; at a true parameter of a well-specified model its expectation
is the Fisher information, and equals the Hessian's). Per chunk of m samples, with
:math:`\ell(w) = (\ell_1(w), \dots, \ell_m(w))` the per-sample losses (``vmap`` of ``loss_fn``
over batches of one), :math:`(g_i \cdot v)_i = \partial\ell(w)[v]` is one Jacobian-vector product
and :math:`\sum_i g_i s_i = \partial\ell(w)^\top s` one vector-Jacobian product, both of the same
linearisation (``jax.linearize`` and its transpose): :math:`Fv` never stores the m per-sample
gradients, only one chunk's activations. The trace needs the per-sample gradient norms, from
``vmap(grad)`` in chunks, which holds ``chunk_size`` gradients at a time.
"""

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch
from slt.data import check_data, num_samples
from slt.geometry.hvp import (
    DEFAULT_CHUNK_SIZE,
    LinearOperator,
    check_chunk_size,
    check_like,
    chunk_mean,
    flat_params,
    product_operator,
)
from slt.geometry.lanczos import LanczosResult, Which, lanczos_eigenvalues, pytree_vectors
from slt.posterior import LossFn
from slt.tree import tree_sq_norm

__all__ = [
    "fisher_operator",
    "fisher_top_eigenvalues",
    "fisher_trace",
    "fisher_vp",
    "per_sample_losses",
]


def per_sample_losses(loss_fn: LossFn, params: ArrayTree, batch: Batch) -> jax.Array:
    """:math:`(\\ell_1, \\dots, \\ell_m)`: ``loss_fn`` on each sample as a batch of one.

    Examples
    --------
    >>> per_sample_losses(lambda w, x: jnp.mean(w * x), 2.0, jnp.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
    """

    def one(sample):
        return loss_fn(params, jax.tree.map(lambda x: x[None], sample))

    return jax.vmap(one)(batch)


def _fvp(loss_fn: LossFn, params: ArrayTree, data: Batch, v: ArrayTree, chunk_size: int):
    def chunk(batch):
        m = num_samples(batch)
        _, lin = jax.linearize(lambda p: per_sample_losses(loss_fn, p, batch), params)
        s = lin(v)
        return jax.linear_transpose(lin, params)(s / m)[0]

    return chunk_mean(chunk, data, chunk_size=chunk_size)


_fvp_jit = jax.jit(_fvp, static_argnames=("loss_fn", "chunk_size"))


def fisher_vp(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    v: ArrayTree,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ArrayTree:
    r"""The empirical-Fisher-vector product :math:`Fv = \frac1n\sum_i g_i (g_i \cdot v)`.

    Pure and traceable; chunked over the samples like :func:`~slt.geometry.hvp.hvp`.

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch; called on batches of
        one sample for the per-sample losses.
    params
        The point :math:`w`, any pytree of arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    v
        The direction, a pytree like ``params``.
    chunk_size
        Samples per chunk.

    Returns
    -------
    pytree
        :math:`Fv`, with the structure of ``params``.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(w * x)  # g_i = x_i, F = mean(x^2) = 14 / 3
    >>> round(float(fisher_vp(loss, 0.0, jnp.arange(1.0, 4.0), 3.0, chunk_size=2)), 4)
    14.0
    """
    num_samples(data)
    check_chunk_size(chunk_size)
    check_like(v, params)
    return _fvp_jit(loss_fn, params, data, v, chunk_size)


def fisher_operator(
    loss_fn: LossFn, params: ArrayTree, data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> LinearOperator:
    """The empirical Fisher :math:`F` as a matrix-free operator on flat vectors.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(x @ w)
    >>> op = fisher_operator(loss, jnp.zeros(2), jnp.array([[1.0, 0.0], [1.0, 2.0]]))
    >>> op.matvec(jnp.array([1.0, 0.0])).tolist()
    [1.0, 1.0]
    """
    return product_operator(_fvp, loss_fn, params, data, chunk_size)


def _trace(loss_fn, params, data, chunk_size):
    def sq_norm(sample):
        g = jax.grad(loss_fn)(params, jax.tree.map(lambda x: x[None], sample))
        return tree_sq_norm(g)

    return chunk_mean(lambda b: jnp.mean(jax.vmap(sq_norm)(b)), data, chunk_size=chunk_size)


_trace_jit = jax.jit(_trace, static_argnames=("loss_fn", "chunk_size"))


def fisher_trace(
    loss_fn: LossFn, params: ArrayTree, data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> float:
    r"""The exact :math:`\mathrm{tr}\,F = \frac1n\sum_i \lVert\nabla\ell_i(w)\rVert^2`.

    Per-sample gradients by ``vmap(grad)``, ``chunk_size`` of them in memory at a time.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(x @ w)
    >>> fisher_trace(loss, jnp.zeros(2), jnp.array([[1.0, 0.0], [1.0, 2.0]]))
    3.0
    """
    check_data(data)
    check_chunk_size(chunk_size)
    flat_params(params)
    return float(_trace_jit(loss_fn, params, data, chunk_size))


def fisher_top_eigenvalues(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    k: int = 1,
    num_iterations: int | None = None,
    seed: int = 0,
    which: Which = "LA",
    return_vectors: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> LanczosResult:
    """The top-k eigenvalues of the empirical Fisher, by Lanczos on :func:`fisher_operator`.

    Arguments and result as for :func:`~slt.geometry.lanczos.hessian_top_eigenvalues`.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean(x @ w)  # F = [[1, 1], [1, 2]]
    >>> res = fisher_top_eigenvalues(loss, jnp.zeros(2), jnp.array([[1.0, 0.0], [1.0, 2.0]]), k=2)
    >>> [round(float(v), 4) for v in res.eigenvalues]
    [2.618, 0.382]
    """
    check_data(data)
    op = fisher_operator(loss_fn, params, data, chunk_size=chunk_size)
    res = lanczos_eigenvalues(
        op,
        k=k,
        num_iterations=num_iterations,
        seed=seed,
        which=which,
        return_vectors=return_vectors,
    )
    return pytree_vectors(op, res)
