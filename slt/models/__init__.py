"""Models with known learning coefficients: local (:class:`Problem`) and global
(:class:`GlobalProblem`, NumPyro models)."""

from slt.models import dln, linear, mixture, normal_crossing, rrr, tanh
from slt.models.problem import GlobalProblem, Problem

__all__ = ["GlobalProblem", "Problem", "dln", "linear", "mixture", "normal_crossing", "rrr", "tanh"]
