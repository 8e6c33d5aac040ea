"""Models with known learning coefficients, as :class:`Problem` objects."""

from slt.models import rrr
from slt.models.problem import Problem

__all__ = ["Problem", "rrr"]
