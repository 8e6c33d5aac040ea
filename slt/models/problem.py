"""A model with data, a point and (where known) its exact learning coefficient."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.exact.base import LearningCoefficient
from slt.posterior import LossFn

__all__ = ["GlobalProblem", "Problem", "prefix_data", "truth_energy"]


class Problem(NamedTuple):
    """Everything :func:`slt.llc` needs, plus the exact answer when there is one.

    Attributes
    ----------
    name
        A short label, e.g. ``"rrr(M=5,N=5,H=3,r=0)"``.
    loss_fn
        Mean negative log-likelihood over a batch.
    params
        :math:`w^\\ast`.
    data
        Pytree of arrays with a shared leading axis n.
    exact
        The exact learning coefficient at :math:`w^\\ast`, or ``None``.
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
    observations, summarize
        For a model whose ``data`` are sufficient statistics rather than observations: the
        per-observation arrays (shared leading axis n) and the function that maps them (or a
        prefix of them) to ``data``. ``None`` when ``data`` holds the observations themselves.
    """

    name: str
    model: Callable[..., None]
    data: dict[str, Any]
    n: int
    exact: LearningCoefficient | None
    truth: dict[str, Any] | None = None
    observations: dict[str, Any] | None = None
    summarize: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def prefix_data(problem: GlobalProblem, n: int) -> dict[str, Any]:
    """``problem.data`` for the first n observations only (nested subsamples of one dataset)."""
    if problem.observations is not None:
        assert problem.summarize is not None, f"{problem.name}: observations without summarize"
        return problem.summarize({k: v[:n] for k, v in problem.observations.items()})
    return {k: (v[:n] if hasattr(v, "shape") else v) for k, v in problem.data.items()}


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
