"""slt: learning coefficients from singular learning theory, proven against exact values."""

from slt import exact, models
from slt._version import __version__
from slt.base import SamplingAlgorithm, StepInfo
from slt.errors import DivergenceError, DivergenceWarning, NoiseTemperatureWarning
from slt.exact import LearningCoefficient
from slt.io import load
from slt.result import LLCResult
from slt.workflows.calibrate import CalibrationError, CalibrationWarning, calibrate
from slt.workflows.global_theory import GlobalEstimate, free_energy, rlct, waic, wbic
from slt.workflows.llc import llc
from slt.workflows.tempered import TemperedFit, sample_tempered, wbic_beta
from slt.workflows.trajectory import llc_trajectory

__all__ = [
    "CalibrationError",
    "CalibrationWarning",
    "DivergenceError",
    "DivergenceWarning",
    "GlobalEstimate",
    "LLCResult",
    "LearningCoefficient",
    "NoiseTemperatureWarning",
    "SamplingAlgorithm",
    "StepInfo",
    "TemperedFit",
    "__version__",
    "calibrate",
    "exact",
    "free_energy",
    "llc",
    "llc_trajectory",
    "load",
    "models",
    "rlct",
    "sample_tempered",
    "waic",
    "wbic",
    "wbic_beta",
]
