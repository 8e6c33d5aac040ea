"""Exact learning coefficients: the validation oracles."""

from slt.exact.base import LearningCoefficient
from slt.exact.rrr import rrr, rrr_dimension

__all__ = ["LearningCoefficient", "rrr", "rrr_dimension"]
