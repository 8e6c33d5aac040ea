"""The container for an exact learning coefficient."""

from typing import NamedTuple


class LearningCoefficient(NamedTuple):
    """An exact learning coefficient and the order of its pole.

    For a model, a true distribution and a prior that is positive on the set of true
    parameters, the zeta function ``zeta(z) = \\int K(w)^z phi(w) dw`` of the Kullback-Leibler
    divergence ``K`` has its largest pole at ``z = -lambda`` with order ``m``. The Bayes free
    energy then expands as ``F_n = n S_n + lambda log n - (m - 1) log log n + O_p(1)``
    (Watanabe, *Algebraic Geometry and Statistical Learning Theory*, 2009, Main Theorem 6.2).

    Attributes
    ----------
    rlct : float
        The real log canonical threshold ``lambda`` (the learning coefficient). For a regular
        model it equals ``d / 2``, with ``d`` the number of parameters.
    multiplicity : int
        ``m``, the order of the pole of the zeta function at ``-lambda``; ``m >= 1``.
    source : str
        Citation of the result the value comes from (paper, section or equation, and which
        case of the formula applied).
    """

    rlct: float
    multiplicity: int
    source: str
