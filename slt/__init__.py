"""slt: learning coefficients from singular learning theory, proven against exact values."""

import importlib.metadata

from slt import exact, models
from slt.base import SamplingAlgorithm, StepInfo
from slt.exact import LearningCoefficient
from slt.result import LLCResult
from slt.workflows.llc import DivergenceError, DivergenceWarning, llc

__version__ = importlib.metadata.version("slt")

__all__ = [
    "DivergenceError",
    "DivergenceWarning",
    "LLCResult",
    "LearningCoefficient",
    "SamplingAlgorithm",
    "StepInfo",
    "__version__",
    "exact",
    "llc",
    "models",
]
