"""Warnings and errors shared by the workflows."""

__all__ = ["DivergenceError", "DivergenceWarning", "NoiseTemperatureWarning"]


class DivergenceWarning(RuntimeWarning):
    """Some chains or transitions diverged; they are reported and left out where it matters."""


class DivergenceError(RuntimeError):
    """Every chain diverged: there is no estimate."""


class NoiseTemperatureWarning(UserWarning):
    """The minibatch-gradient noise heats the chain: the estimate is biased upward by about the
    noise temperature τ̂ (see :mod:`slt.gradient`)."""
