r"""Gradient estimators for the SG-MCMC kernels, and the temperature their noise adds.

**Minibatch.** The kernels step with :math:`\nabla L_B(w)`, the gradient of the mean loss over a
minibatch B of size b drawn without replacement. It is unbiased for :math:`\nabla L_n(w)` with
covariance :math:`\Sigma(w)/b \cdot (n-b)/(n-1)`, :math:`\Sigma` the covariance of the
per-sample gradients.

**Control variate** around :math:`w^\ast` (Baker, Fearnhead, Fox & Nemeth 2019, "Control
variates for stochastic gradient MCMC", Statistics and Computing 29:599, eq. 6): with the
full-data loss and gradient at :math:`w^\ast` computed once (the *anchor*),

.. math::

    \tilde L_B(w) = L_B(w) - L_B(w^\ast) - \langle \nabla L_B(w^\ast) - \nabla L_n(w^\ast),
        w - w^\ast\rangle + L_n(w^\ast),
    \qquad
    \nabla\tilde L_B(w) = \nabla L_B(w) - \nabla L_B(w^\ast) + \nabla L_n(w^\ast).

Both are unbiased for :math:`L_n(w)` and :math:`\nabla L_n(w)` (the bracket has mean zero over
B), both are exact at :math:`w = w^\ast`, and the gradient's noise is that of the per-sample
*differences* :math:`\nabla\ell_i(w) - \nabla\ell_i(w^\ast)`, which shrinks like
:math:`\lVert w - w^\ast\rVert^2` near :math:`w^\ast` -- where a localized chain stays. The loss
:math:`\tilde L_B` is also the trace: its minibatch noise vanishes at :math:`w^\ast` too, so the
LLC estimate :math:`n\beta(\overline{\tilde L} - L_n(w^\ast))` needs fewer draws. Cost: one more
forward-backward pass per step, at :math:`w^\ast` on the same batch.

**Noise temperature.** An SGLD step :math:`w + \tfrac{\epsilon}{2}\nabla\log p + \sqrt\epsilon\xi`
with a noisy gradient :math:`-n\beta(\nabla L_n + \eta)` adds the displacement
:math:`-\tfrac{\epsilon}{2}n\beta\eta` of variance :math:`\tfrac{\epsilon^2}{4}(n\beta)^2
\mathrm{Var}(\eta)` to the injected :math:`\epsilon`: per coordinate the chain runs at the
temperature :math:`1 + \tau` with

.. math::

    \tau = \frac{\epsilon\,(n\beta)^2}{4}\,\frac{\operatorname{tr}\mathrm{Var}(\nabla L_B)}{d}

(Welling & Teh 2011, §4; ../shared/MATH.md §8).

**Noise bias.** What τ does to :math:`\hat\lambda` is not :math:`\tau\lambda`. For the
potential :math:`U = n\beta L + \tfrac\gamma2\lVert w - w^\ast\rVert^2` with a quadratic
:math:`L` (Hessian :math:`H`), the chain is, to first order in ε, the diffusion
:math:`dw = -\tfrac12\nabla U\,dt + (I + Q)^{1/2}dW` with
:math:`Q = \epsilon(n\beta)^2\mathrm{Var}(\nabla L_B)/4` (so :math:`\tau = \operatorname{tr}Q/d`).
Its stationary covariance S solves the Lyapunov equation :math:`AS + SA = I + Q`,
:math:`A = \tfrac12\nabla^2U`, whose trace gives :math:`\operatorname{tr}(AS) = (d +
\operatorname{tr}Q)/2` whatever the shapes of H and Q. With :math:`\gamma` small against the
curvature that Q lives in,

.. math::

    n\beta\,\mathbb{E}[L - L^\ast] = \tfrac12\operatorname{tr}(n\beta H S)
    \approx \lambda + \tfrac12\operatorname{tr}Q = \lambda + \tfrac{d}{2}\tau .

The gradient noise lives where the loss curves (for a well-specified model
:math:`\mathrm{Var}(\nabla\ell) = H` at the truth), so it heats only the directions that count
toward λ, and the excess is the same :math:`\tfrac d2\tau` for a singular model as for a
regular one with the same noise: relative to λ it is :math:`\tfrac{d}{2\lambda}\tau`, which is
large exactly where λ ≪ d/2. :func:`noise_bias` returns :math:`\tfrac d2\hat\tau`. It is exact
for a quadratic loss with iid minibatches (tests/test_gradient.py checks it against the discrete
Lyapunov equation on a model with flat directions, where the old reading
:math:`\tau\lambda` is a third of the excess). With reshuffled minibatches
(``batching="reshuffle"``, :mod:`slt.data`) two further effects enter: the chain runs cooler
(the noise of an epoch sums to zero) and its loss trace reads high. On the bench of issue 7
(reduced-rank regression and deep linear networks, ``bench/accuracy_per_cost.py``, reshuffled
batches of 100, epochs of 100 steps, εnβ = 0.1) they roughly cancel: the runs read +48%, +50%,
+63%, +63% above λ against a predicted +49%, +46%, +56%, +66%.

:func:`gradient_noise` measures
:math:`\operatorname{tr}\mathrm{Var}(\nabla L_B)/d` from pairs of independent minibatches,
:math:`\mathbb{E}\lVert g_{B_1} - g_{B_2}\rVert^2 = 2\operatorname{tr}\mathrm{Var}(g_B)`, which
needs no per-sample gradients and so no memory beyond two gradients.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt._types import ArrayTree, Batch, PRNGKey
from slt.data import DEFAULT_CHUNK_SIZE, check_chunk_size, chunk_mean
from slt.posterior import LossFn
from slt.tree import tree_dot, tree_size, tree_sq_norm, tree_sub

__all__ = [
    "GRADIENTS",
    "Anchor",
    "control_variate",
    "full_loss",
    "full_loss_and_grad",
    "gradient_noise",
    "noise_bias",
    "noise_step_size",
    "noise_temperature",
]

GRADIENTS = ("minibatch", "control_variate")
"""The gradient estimators :func:`slt.llc` offers."""


class Anchor(NamedTuple):
    """The full-data loss :math:`L_n(w^\\ast)` and gradient :math:`\\nabla L_n(w^\\ast)`."""

    loss: jax.Array
    grad: ArrayTree


def full_loss_and_grad(
    loss_fn: LossFn, params: ArrayTree, data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Anchor:
    r""":math:`L_n(w)` and :math:`\nabla L_n(w)` over the whole dataset, in chunks
    (:func:`slt.data.chunk_mean`: one compiled body, the memory of one chunk).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> loss = lambda w, b: jnp.mean((b["x"] * w) ** 2)
    >>> anchor = full_loss_and_grad(loss, 2.0, {"x": jnp.arange(10.0)}, chunk_size=4)
    >>> round(float(anchor.loss), 4), round(float(anchor.grad), 4)   # 4·mean(x²), 4·mean(x²)
    (114.0, 114.0)
    """
    check_chunk_size(chunk_size)
    return _full_loss_and_grad(loss_fn, chunk_size, params, data)


def full_loss(
    loss_fn: LossFn, params: ArrayTree, data: Batch, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> jax.Array:
    """:math:`L_n(w)` over the whole dataset, in chunks, without the gradient.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> loss = lambda w, b: jnp.mean((b["x"] * w) ** 2)
    >>> round(float(full_loss(loss, 2.0, {"x": jnp.arange(10.0)}, chunk_size=4)), 4)
    114.0
    """
    check_chunk_size(chunk_size)
    return _full_loss(loss_fn, chunk_size, params, data)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _full_loss_and_grad(loss_fn: LossFn, chunk: int, params: ArrayTree, data: Batch) -> Anchor:
    value_and_grad = jax.value_and_grad(lambda p, b: jnp.asarray(loss_fn(p, b)))
    return Anchor(*chunk_mean(lambda batch: value_and_grad(params, batch), data, chunk_size=chunk))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _full_loss(loss_fn: LossFn, chunk: int, params: ArrayTree, data: Batch) -> jax.Array:
    return chunk_mean(lambda batch: jnp.asarray(loss_fn(params, batch)), data, chunk_size=chunk)


def control_variate(loss_fn: LossFn, center: ArrayTree, anchor: Anchor) -> LossFn:
    r"""The control-variate loss :math:`\tilde L_B` around ``center`` (module docstring).

    Its value is unbiased for :math:`L_n(w)` and its gradient is
    :math:`\nabla L_B(w) - \nabla L_B(w^\ast) + \nabla L_n(w^\ast)`; the term at
    :math:`w^\ast` is a forward-mode derivative along :math:`w - w^\ast`, whose reverse-mode
    gradient is :math:`\nabla L_B(w^\ast)`.

    Examples
    --------
    At the center it is the full-data loss on every batch:

    >>> import jax.numpy as jnp
    >>> data = {"x": jnp.arange(8.0)}
    >>> loss = lambda w, b: jnp.mean((b["x"] - w) ** 2)
    >>> cv = control_variate(loss, 1.0, full_loss_and_grad(loss, 1.0, data))
    >>> [round(float(cv(1.0, {"x": data["x"][i : i + 2]})), 4) for i in (0, 6)]
    [11.5, 11.5]
    """

    def fn(w: ArrayTree, batch: Batch) -> jax.Array:
        delta = tree_sub(w, center)
        loss_w = jnp.asarray(loss_fn(w, batch))
        loss_c, slope_c = jax.jvp(lambda p: jnp.asarray(loss_fn(p, batch)), (center,), (delta,))
        return loss_w - loss_c - slope_c + tree_dot(anchor.grad, delta) + anchor.loss

    return fn


def gradient_noise(
    rng_key: PRNGKey,
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    batch_size: int,
    *,
    num_pairs: int = 8,
    replace: bool = False,
) -> jax.Array:
    r""":math:`\operatorname{tr}\mathrm{Var}(\nabla L_B(w))/d` from ``num_pairs`` pairs of batches.

    ``Var`` is that of a minibatch of ``batch_size`` drawn as the kernels draw it: without
    replacement (``batching="reshuffle"``), :math:`\Sigma/b \cdot (n-b)/(n-1)` for per-sample
    gradient covariance :math:`\Sigma`; with ``replace=True`` (``batching="iid"``),
    :math:`\Sigma/b`, from pairs of independent batches drawn with replacement. Without
    replacement, when ``2 * num_pairs * batch_size <= n`` the pairs are consecutive disjoint
    slices of one random permutation (one permutation per call: on n = 10⁴ the 16 permutations
    of independent pairs cost as much as 1200 SGLD steps of a small model). Two disjoint batches
    of one draw without replacement are negatively correlated,
    :math:`\mathbb{E}\lVert g_{B_1} - g_{B_2}\rVert^2/2 = \operatorname{tr}\Sigma/b \cdot
    n/(n-1)`, so the mean is scaled by :math:`(n-b)/n`. Otherwise each batch is the head of its
    own permutation, the two of a pair are independent and
    :math:`\mathbb{E}\lVert g_{B_1} - g_{B_2}\rVert^2 / 2 = \operatorname{tr}\mathrm{Var}(g_B)`.
    Zero when ``batch_size`` is n and ``replace`` is false. Traceable (no host sync); memory:
    two gradients.
    """
    n = jax.tree.leaves(data)[0].shape[0]
    grad = jax.grad(lambda p, b: jnp.asarray(loss_fn(p, b)))

    def pair_sum(items, batch_indices):
        # One scan over the 2 * num_pairs batches (batch i from items[i]), carrying the last
        # gradient: the gradient is compiled once, where a pair per step compiles it twice.
        def body(carry, step):
            total, previous = carry
            i, item = step
            g = grad(params, jax.tree.map(lambda x: x[batch_indices(item)], data))
            half_sq = 0.5 * tree_sq_norm(tree_sub(g, previous))
            return (total + jnp.where(i % 2 == 1, half_sq, 0.0), g), None

        zero = jax.tree.map(jnp.zeros_like, params)
        steps = (jnp.arange(2 * num_pairs), items)
        (total, _), _ = jax.lax.scan(body, (jnp.zeros(()), zero), steps)
        return total

    if not replace and 2 * num_pairs * batch_size <= n:
        perm = jax.random.permutation(rng_key, n)[: 2 * num_pairs * batch_size]
        slices = perm.reshape(2 * num_pairs, batch_size)
        total = pair_sum(slices, lambda idx: idx) * (n - batch_size) / n
    else:

        def draw(key):  # one batch's indices, as the kernels draw them
            if replace:
                return jax.random.randint(key, (batch_size,), 0, n)
            return jax.random.permutation(key, n)[:batch_size]

        keys = jax.vmap(jax.random.split)(jax.random.split(rng_key, num_pairs))
        total = pair_sum(keys.reshape(2 * num_pairs, *keys.shape[2:]), draw)
    return total / (num_pairs * tree_size(params))


def noise_temperature(
    grad_noise: jax.Array | float, *, step_size: jax.Array | float, nbeta: float
) -> jax.Array:
    r"""The excess temperature :math:`\tau = \epsilon (n\beta)^2 v / 4` for the per-coordinate
    minibatch-gradient variance :math:`v` = ``grad_noise`` (module docstring).

    For RMSProp-SGLD pass the mean per-coordinate step: then τ is the coordinate average under
    the approximation that step and variance are uncorrelated across coordinates.

    Examples
    --------
    >>> round(float(noise_temperature(0.01, step_size=1e-4, nbeta=1000.0)), 4)
    0.25
    """
    return jnp.asarray(step_size) * nbeta**2 * jnp.asarray(grad_noise) / 4.0


def noise_step_size(grad_noise: jax.Array | float, *, nbeta: float, tau: float) -> float:
    r"""The step at which the minibatch noise ``grad_noise`` heats the chain by ``tau``:
    :math:`\epsilon = 4\tau / ((n\beta)^2 v)`, the inverse of :func:`noise_temperature`.

    Examples
    --------
    >>> round(noise_step_size(0.01, nbeta=1000.0, tau=0.25), 8)
    0.0001
    """
    return 4.0 * tau / (nbeta**2 * float(grad_noise))


def noise_bias(noise_temperature: float, num_params: int) -> float:
    r"""The first-order excess :math:`\tfrac d2\tau` that the minibatch-gradient noise adds to
    :math:`\hat\lambda` (module docstring; exact for a quadratic loss with iid minibatches).

    Examples
    --------
    >>> noise_bias(0.02, 300)  # 300 parameters at tau = 0.02: about +3 on lambda-hat
    3.0
    """
    return 0.5 * num_params * float(noise_temperature)
