r"""Exact learning coefficient of a one-hidden-layer tanh network with a zero truth.

The model is :math:`y = \sum_{h=1}^H a_h \tanh(b_h x) + \varepsilon` with scalar input
:math:`x`, no biases, Gaussian noise, and the true regression function :math:`f \equiv 0`.
Expanding :math:`\tanh(bx) = \sum_{p \ge 1} c_p b^{2p-1} x^{2p-1}` (all :math:`c_p \ne 0`)
and using the linear independence of the odd monomials under an input distribution with
infinite support,

.. math::

    K(a, b) \asymp \sum_{p \ge 1} \Bigl(\sum_{h=1}^H a_h b_h^{2p-1}\Bigr)^2,

whose learning coefficient near the origin (the deepest singularity of the true set) was
found by resolution of singularities.

References
----------
S. Watanabe, "Algebraic geometrical methods for hierarchical learning machines",
*Neural Networks* 14(8):1049-1060, 2001.
M. Aoyagi and S. Watanabe, "Resolution of singularities and the generalization error with
Bayesian estimation for layered neural network", *IEICE Trans.* J88-D-II(10):2112-2124, 2005.
"""

import math
from fractions import Fraction

from slt.exact.base import LearningCoefficient
from slt.exact.rrr import _check_int

__all__ = ["tanh_network"]

_SOURCE = (
    "Watanabe (2001), Neural Networks 14:1049; Aoyagi & Watanabe (2005), IEICE Trans. "
    "J88-D-II:2112: y = sum_h a_h tanh(b_h x) + noise, truth f = 0, "
    "lambda = (H + i^2 + i)/(4i + 2) with i = floor(sqrt(H))"
)


def tanh_network(H: int) -> LearningCoefficient:
    r"""RLCT of :math:`y = \sum_{h=1}^H a_h \tanh(b_h x) + \varepsilon` at the truth :math:`f = 0`.

    .. math::

        \lambda = \frac{H + i^2 + i}{4i + 2}, \qquad i = \lfloor\sqrt H\rfloor

    (Watanabe 2001; Aoyagi & Watanabe 2005), for a prior positive at the origin. For
    H = 1..9: 1/2, 2/3, 5/6, 1, 11/10, 6/5, 13/10, 7/5, 3/2.

    Multiplicity: for ``H = 1``, :math:`K \asymp a^2 b^2` is a normal crossing, so m = 2
    (derived, not quoted). For ``H >= 2`` the multiplicity has not been checked against the
    papers and is reported as 1; the ``source`` then says "multiplicity not verified".

    Parameters
    ----------
    H : int
        Number of hidden units, ``H >= 1``.

    Returns
    -------
    LearningCoefficient
        ``rlct`` (the correctly rounded value of the exact fraction), ``multiplicity`` and
        ``source``.

    Raises
    ------
    ValueError
        If ``H`` is not an integer ``>= 1``.

    Examples
    --------
    >>> from slt.exact import tanh_network
    >>> tanh_network(1)[:2]
    (0.5, 2)
    >>> tanh_network(5).rlct
    1.1
    """
    H = _check_int("H", H, 1)
    i = math.isqrt(H)
    rlct = float(Fraction(H + i * i + i, 4 * i + 2))
    if H == 1:
        return LearningCoefficient(
            rlct,
            2,
            f"{_SOURCE}; H = 1, i = 1; multiplicity m = 2 from the normal crossing K ~ a^2 b^2",
        )
    return LearningCoefficient(
        rlct, 1, f"{_SOURCE}; H = {H}, i = {i}; multiplicity not verified (reported as 1)"
    )
