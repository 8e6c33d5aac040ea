"""A model with data, a point and (where known) its exact learning coefficient."""

from typing import NamedTuple

from slt._types import ArrayTree, Batch
from slt.exact.base import LearningCoefficient
from slt.posterior import LossFn

__all__ = ["Problem"]


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
