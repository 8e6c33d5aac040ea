"""Warnings and errors shared by the workflows."""

__all__ = ["DivergenceError", "DivergenceWarning", "HotBurninWarning", "NoiseTemperatureWarning"]


class DivergenceWarning(RuntimeWarning):
    """Some chains or transitions diverged; they are reported and left out where it matters."""


class DivergenceError(RuntimeError):
    """Every chain diverged: there is no estimate."""


class NoiseTemperatureWarning(UserWarning):
    """The minibatch-gradient noise heats the chain: the estimate is biased upward by about the
    noise temperature τ̂ (see :mod:`slt.gradient`)."""


class HotBurninWarning(RuntimeWarning):
    """The default burn-in at ``BURNIN_STEP_FACTOR`` times the step diverged, and
    :func:`slt.llc` repeated the run with the burn-in at the step itself."""
