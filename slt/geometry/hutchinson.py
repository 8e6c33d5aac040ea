r"""The Hessian trace by Hutchinson's estimator with Rademacher probes (Hutchinson 1989).

For a symmetric :math:`A` and probes :math:`z` with independent entries :math:`\pm 1`,

.. math::

    \mathbb E[z^\top A z] = \mathrm{tr}\,A, \qquad
    \mathrm{Var}[z^\top A z] = 2\sum_{i \ne j} A_{ij}^2,

(Hutchinson 1989, "A stochastic estimator of the trace of the influence matrix for Laplacian
smoothing splines", Commun. Stat. Simul. Comput. 18:1059; Avron & Toledo 2011, J. ACM 58:8,
for the variance). The estimate is the mean of ``num_samples`` independent :math:`z^\top A z`,
its standard error the sample standard deviation over :math:`\sqrt{\text{num\_samples}}`. The
Rademacher variance has no diagonal term, so a diagonal :math:`A` gives the exact trace at once.
Each probe costs one Hessian-vector product; ``probe_batch`` probes at a time run under ``vmap``
in one compiled call, and the blocks one after another.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.data import check_data
from slt.geometry.hvp import DEFAULT_CHUNK_SIZE, LinearOperator, compute_dtype, linear_operator
from slt.posterior import LossFn

__all__ = ["TraceEstimate", "hessian_trace", "hutchinson_trace"]


class TraceEstimate(NamedTuple):
    """A stochastic trace estimate.

    Attributes
    ----------
    estimate
        The mean of the probe values, an unbiased estimate of the trace.
    se
        Its standard error, ``std(samples, ddof=1) / sqrt(num_samples)`` (NaN for one probe).
    samples
        The probe values :math:`z_s^\\top A z_s`, shape (num_samples,).
    """

    estimate: float
    se: float
    samples: np.ndarray


def _probes(apply, operands, keys, dim, dtype):
    def one(k):
        z = jax.random.rademacher(k, (dim,), dtype)
        return jnp.vdot(z, apply(operands, z))

    return jax.vmap(one)(keys)


_probes_jit = jax.jit(_probes, static_argnames=("apply", "dim", "dtype"))


def hutchinson_trace(
    operator: LinearOperator,
    *,
    num_samples: int = 100,
    seed: int = 0,
    probe_batch: int = 1,
) -> TraceEstimate:
    """Hutchinson's trace estimate of a symmetric matrix-free operator.

    Parameters
    ----------
    operator
        A :class:`~slt.geometry.hvp.LinearOperator`.
    num_samples
        Rademacher probes, at least 1 (at least 2 for a standard error).
    seed
        Seed of the probes.
    probe_batch
        Probes evaluated together under ``vmap`` in one compiled call (memory grows with it); the
        compiled function depends on it, not on ``num_samples``.

    Returns
    -------
    TraceEstimate

    Examples
    --------
    >>> from slt.geometry.hvp import linear_operator
    >>> loss = lambda w, x: jnp.mean(0.5 * jnp.sum(x * w**2, axis=-1))  # diagonal Hessian
    >>> op = linear_operator(loss, jnp.ones(3), jnp.array([[1.0, 2.0, 3.0]]))
    >>> est = hutchinson_trace(op, num_samples=4)
    >>> round(est.estimate, 4), round(est.se, 4)
    (6.0, 0.0)
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer; got {num_samples!r}")
    if isinstance(probe_batch, bool) or not isinstance(probe_batch, int) or probe_batch < 1:
        raise ValueError(f"probe_batch must be a positive integer; got {probe_batch!r}")
    dtype = jnp.dtype(compute_dtype(operator.dtype))
    # Blocks of probe_batch probes, one compiled call each, so that the compiled function does
    # not depend on num_samples; the last block is padded with repeated keys, then cut.
    keys = jax.random.split(jax.random.key(seed), num_samples)
    total = num_samples + (-num_samples) % probe_batch
    keys = keys[jnp.arange(total) % num_samples] if total > num_samples else keys
    blocks = [
        _probes_jit(operator.apply, operator.operands, block, dim=operator.dim, dtype=dtype)
        for block in keys.reshape(-1, probe_batch)
    ]
    samples = np.concatenate([np.asarray(b, np.float64) for b in blocks])[:num_samples]
    se = float(samples.std(ddof=1) / math.sqrt(num_samples)) if num_samples > 1 else math.nan
    return TraceEstimate(float(samples.mean()), se, samples)


def hessian_trace(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    num_samples: int = 100,
    seed: int = 0,
    probe_batch: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> TraceEstimate:
    r"""Hutchinson's estimate of :math:`\mathrm{tr}\,\nabla^2 L_n(w)`, matrix-free.

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of floating arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    num_samples, seed, probe_batch
        As for :func:`hutchinson_trace`.
    chunk_size
        Samples per chunk of the full-data loss.

    Returns
    -------
    TraceEstimate

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)  # H = 2 X^T X / n, trace 2 * 14 / 2
    >>> x = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    >>> est = hessian_trace(loss, jnp.zeros(3), x, num_samples=400, probe_batch=100)
    >>> abs(est.estimate - 14.0) < 4 * est.se
    True
    """
    check_data(data)
    op = linear_operator(loss_fn, params, data, chunk_size=chunk_size)
    return hutchinson_trace(op, num_samples=num_samples, seed=seed, probe_batch=probe_batch)
