"""Exact learning coefficients: the validation oracles."""

from slt.exact.base import LearningCoefficient
from slt.exact.rrr import rrr, rrr_dimension

__all__ = ["LearningCoefficient", "rrr", "rrr_dimension"]

from slt.exact.dln import dln, dln_dimension
from slt.exact.mixture import mixture_regular, mixture_singular, mixture_two_means
from slt.exact.normal_crossing import normal_crossing, normal_crossing_sum
from slt.exact.regular import regular
from slt.exact.tanh import tanh_network

__all__ += [
    "dln",
    "dln_dimension",
    "mixture_regular",
    "mixture_singular",
    "mixture_two_means",
    "normal_crossing",
    "normal_crossing_sum",
    "regular",
    "tanh_network",
]
