"""A model with data, a point and (where known) its exact learning coefficient."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.exact.base import LearningCoefficient
from slt.posterior import LossFn

__all__ = ["GlobalProblem", "Problem", "truth_energy"]


class Problem(NamedTuple):
    """Everything :func:`slt.llc` needs, plus the exact answer when there is one.

    Attributes
    ----------
    name
        A short label, e.g. ``"rrr(M=5,N=5,H=3,r=0)"``.
    loss_fn
        Mean negative log-likelihood over a batch.
    params
        :math:`w^*`.
    data
        Pytree of arrays with a shared leading axis n.
    exact
        The exact learning coefficient at :math:`w^*`, or ``None``.
    """

    name: str
    loss_fn: LossFn
    params: ArrayTree
    data: Batch
    exact: LearningCoefficient | None


class GlobalProblem(NamedTuple):
    """A NumPyro model with data and its exact (global) learning coefficient.

    Attributes
    ----------
    name
        A short label, e.g. ``"mixture_singular(n=1000)"``.
    model
        A NumPyro model function; its likelihood sites are observed (``obs=``), its prior sites
        are latent. ``model(**data)`` must run.
    data
        Keyword arguments of ``model`` (observations included).
    n
        The number of observations (the n of nL_n).
    exact
        The exact learning coefficient, or ``None``.
    truth
        Values of the latent sites at a true parameter :math:`w_0` (one that realizes the
        data-generating distribution), or ``None``; :func:`truth_energy` gives
        :math:`nL_n(w_0)` from it.
    """

    name: str
    model: Callable[..., None]
    data: dict[str, Any]
    n: int
    exact: LearningCoefficient | None
    truth: dict[str, Any] | None = None


def truth_energy(problem: GlobalProblem) -> float:
    """:math:`nL_n(w_0) = -\\sum_i \\log p(z_i\\mid w_0)` at the problem's true parameter.

    Raises
    ------
    ValueError
        When the problem has no ``truth``.
    """
    if problem.truth is None:
        raise ValueError(f"problem {problem.name!r} has no truth to evaluate nL_n(w0) at")
    from numpyro.infer.util import log_likelihood

    latent = {k: jnp.asarray(v)[None] for k, v in problem.truth.items()}
    ll = log_likelihood(problem.model, latent, **problem.data)
    return -float(sum(np.sum(np.asarray(v, np.float64)) for v in ll.values()))
