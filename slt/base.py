"""The sampler interface: a NamedTuple of pure ``init`` and ``step`` functions.

Modelled on BlackJAX's ``SamplingAlgorithm`` and Optax's ``GradientTransformation``: a sampler is
data (two pure functions), so it can be closed over by ``jit``, ``vmap`` and ``scan``.
"""

from typing import Any, NamedTuple, Protocol

import jax

from slt._types import ArrayTree, Batch, PRNGKey

__all__ = ["InitFn", "SamplingAlgorithm", "StepFn", "StepInfo"]


class StepInfo(NamedTuple):
    """Per-step diagnostics every kernel reports (ArviZ ``sample_stats`` names).

    Attributes
    ----------
    loss
        Minibatch loss :math:`L_B(w_t)` at the pre-update weights: the LLC trace.
    lp
        Log density of the (localized, tempered) posterior at :math:`w_t` on the batch.
    step_size
        The step size used (for preconditioned kernels the mean over coordinates).
    grad_norm
        :math:`\\lVert\\nabla L_B(w_t)\\rVert`, the norm of the minibatch loss gradient.
    acceptance_rate
        The MALA acceptance probability of the step (Furman & Lau, arXiv:2402.03698), or ``None``
        when the diagnostic is off.
    """

    loss: jax.Array
    lp: jax.Array
    step_size: jax.Array
    grad_norm: jax.Array
    acceptance_rate: jax.Array | None = None


class InitFn(Protocol):
    def __call__(self, position: ArrayTree, rng_key: PRNGKey) -> Any:
        """Sampler state at ``position``; ``rng_key`` for any random initial state (momenta)."""
        ...


class StepFn(Protocol):
    def __call__(self, rng_key: PRNGKey, state: Any, batch: Batch) -> tuple[Any, StepInfo]:
        """Pure: the same key, state and batch give the same result."""
        ...


class SamplingAlgorithm(NamedTuple):
    """A sampler: ``state = init(position, key)``, ``state, info = step(key, state, batch)``.

    Every state has a ``position`` field (the parameter pytree). A sampler whose ``step``
    records a costly diagnostic (the MALA acceptance probability: one more gradient) may also
    give ``plain_step``, the same transition without it (``acceptance_rate`` NaN), which the
    driver takes on the steps where no diagnostic is wanted (``diagnostic_every``).
    """

    init: InitFn
    step: StepFn
    plain_step: StepFn | None = None
