"""Warnings and errors shared by the workflows."""

__all__ = ["DivergenceError", "DivergenceWarning"]


class DivergenceWarning(RuntimeWarning):
    """Some chains or transitions diverged; they are reported and left out where it matters."""


class DivergenceError(RuntimeError):
    """Every chain diverged: there is no estimate."""
