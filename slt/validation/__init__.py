"""Validation against exact learning coefficients (``slt validate``)."""

from slt.validation.runner import Row, run_case, run_suite
from slt.validation.suites import SUITES, Case, get_suite

__all__ = ["SUITES", "Case", "Row", "get_suite", "run_case", "run_suite"]
