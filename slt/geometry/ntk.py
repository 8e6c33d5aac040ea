r"""The empirical neural tangent kernel, from Jacobian-vector products (Jacot et al. 2018).

For a network :math:`f(w, x) \in \mathbb R^{o}` on inputs :math:`x_1, \dots, x_N`, with
:math:`J = \partial f(w, X)/\partial w` the :math:`(N o) \times d` Jacobian of all outputs, the
empirical NTK Gram matrix is

.. math::

    \Theta = J J^\top, \qquad
    \Theta_{(i,a),(j,b)} = \nabla_w f_a(w, x_i) \cdot \nabla_w f_b(w, x_j),

(Jacot, Gabriel & Hongler 2018, "Neural tangent kernel: convergence and generalization in neural
networks", NeurIPS), with rows in sample-major order :math:`(i, a) \mapsto i\,o + a`. Summed
over the outputs, :math:`\Theta^{\mathrm{tr}}_{ij} = \sum_a \Theta_{(i,a),(j,a)}` is the
:math:`N \times N` kernel of the "trace" NTK.

Each column is :math:`\Theta e_c = J(J^\top e_c)`: a vector-Jacobian product followed by a
Jacobian-vector product of the linearised network (``jax.linearize`` and its transpose), so
:math:`J` itself is never stored; ``chunk_size`` columns are computed together under ``vmap``.
The cost is :math:`N o` products through the whole batch and the memory one batch's
linearisation plus ``chunk_size`` parameter-sized vectors. ``apply_fn`` is differentiated as the
batch function it is, so cross-sample effects (batch statistics) are included.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch
from slt.data import num_samples
from slt.geometry.hvp import check_chunk_size

__all__ = ["empirical_ntk", "ntk_spectrum"]

ApplyFn = Callable[[ArrayTree, Batch], jax.Array]


def _ntk(apply_fn, params, inputs, trace_outputs, chunk_size):
    y, f_jvp = jax.linearize(lambda p: apply_fn(p, inputs), params)
    f_vjp = jax.linear_transpose(f_jvp, params)
    n = y.shape[0]
    out = y.size // n
    size = n * out

    def column(c):
        u = jnp.zeros(size, y.dtype).at[c].set(1).reshape(y.shape)
        col = f_jvp(f_vjp(u)[0]).reshape(n, out)
        if trace_outputs:
            return jnp.take(col, c % out, axis=1)
        return col.reshape(size)

    cols = jax.lax.map(column, jnp.arange(size), batch_size=min(chunk_size, size))
    if trace_outputs:
        return cols.reshape(n, out, n).sum(axis=1).T
    return cols.T


_ntk_jit = jax.jit(_ntk, static_argnames=("apply_fn", "trace_outputs", "chunk_size"))


def empirical_ntk(
    apply_fn: ApplyFn,
    params: ArrayTree,
    inputs: Batch,
    *,
    trace_outputs: bool = False,
    chunk_size: int = 256,
) -> jax.Array:
    r"""The empirical NTK Gram matrix :math:`\Theta = J J^\top` at ``params`` on ``inputs``.

    Parameters
    ----------
    apply_fn
        ``apply_fn(params, inputs) -> outputs`` on a batch, outputs of shape (N, ...) with N the
        leading axis of ``inputs``; trailing axes are flattened into o outputs.
    params
        The parameters, any pytree of floating arrays.
    inputs
        A pytree of arrays sharing a leading axis of length N.
    trace_outputs
        Sum over the outputs: return the (N, N) kernel :math:`\sum_a \Theta_{(i,a),(j,a)}`.
    chunk_size
        Columns of :math:`\Theta` computed together under ``vmap``.

    Returns
    -------
    jax.Array
        Shape (N o, N o) in sample-major order, or (N, N) with ``trace_outputs``.

    Examples
    --------
    >>> apply = lambda w, x: x @ w  # J = X, Theta = X X^T
    >>> x = jnp.array([[1.0, 0.0], [1.0, 2.0]])
    >>> empirical_ntk(apply, jnp.ones(2), x).tolist()
    [[1.0, 1.0], [1.0, 5.0]]
    """
    check_chunk_size(chunk_size)
    n = num_samples(inputs)
    shape = jax.eval_shape(apply_fn, params, inputs)
    if not isinstance(shape, jax.ShapeDtypeStruct):
        raise ValueError("apply_fn must return a single array of outputs, not a pytree")
    if shape.ndim == 0 or shape.shape[0] != n:
        raise ValueError(
            f"apply_fn must return outputs with the leading axis N = {n} of inputs; got shape "
            f"{shape.shape}"
        )
    if not jnp.issubdtype(shape.dtype, jnp.floating):
        raise ValueError(f"apply_fn must return floating outputs; got dtype {shape.dtype}")
    return _ntk_jit(apply_fn, params, inputs, bool(trace_outputs), chunk_size)


def ntk_spectrum(
    apply_fn: ApplyFn,
    params: ArrayTree,
    inputs: Batch,
    *,
    trace_outputs: bool = False,
    chunk_size: int = 256,
) -> jax.Array:
    r"""Eigenvalues of the empirical NTK :math:`\Theta`, descending (``eigvalsh``).

    :math:`\Theta = JJ^\top` shares its non-zero eigenvalues with :math:`J^\top J`, the
    Gauss-Newton matrix of a squared loss up to a factor; arguments as for
    :func:`empirical_ntk`.

    Examples
    --------
    >>> apply = lambda w, x: x @ w
    >>> x = jnp.array([[3.0, 0.0], [0.0, 2.0]])
    >>> ntk_spectrum(apply, jnp.ones(2), x).tolist()
    [9.0, 4.0]
    """
    theta = empirical_ntk(
        apply_fn, params, inputs, trace_outputs=trace_outputs, chunk_size=chunk_size
    )
    return jnp.linalg.eigvalsh(0.5 * (theta + theta.T))[::-1]
