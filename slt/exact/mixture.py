r"""Exact learning coefficients of one-dimensional Gaussian mixtures with unit variances.

The models are mixtures of unit-variance normal densities :math:`N(x \mid \mu, 1)` with a
uniform prior on the mixing weight :math:`a \in [0, 1]` and means in a compact set (any prior
positive and bounded on the true parameters gives the same values).

References
----------
S. Watanabe, *Algebraic Geometry and Statistical Learning Theory*, Cambridge University Press,
2009 (the mixture :math:`(1-a)N(0,1) + aN(b,1)` as the basic singular example).
"""

from slt.exact.base import LearningCoefficient

__all__ = ["mixture_regular", "mixture_singular", "mixture_two_means"]


def mixture_singular() -> LearningCoefficient:
    r"""The mixture :math:`(1-a)N(0,1) + aN(b,1)` at the truth :math:`N(0,1)`: λ = 1/2, m = 2.

    The true parameters are :math:`\{a = 0\} \cup \{b = 0\}`. With
    :math:`g = a(e^{bx - b^2/2} - 1)`, :math:`E_q[g] = 0` and
    :math:`E_q[g^2] = a^2(e^{b^2} - 1)`, so

    .. math::

        K(a, b) = -E_{N(0,1)} \log(1 + g) = \tfrac12 a^2 (e^{b^2} - 1) + O(a^3),

    which near the origin is :math:`a^2 b^2` times a positive analytic function: the normal
    crossing :math:`a^2 b^2`, λ = 1/2 with multiplicity 2 (Watanabe 2009).

    Returns
    -------
    LearningCoefficient
        ``LearningCoefficient(0.5, 2, source)``.

    Examples
    --------
    >>> from slt.exact import mixture_singular
    >>> mixture_singular()[:2]
    (0.5, 2)
    """
    return LearningCoefficient(
        0.5,
        2,
        "Watanabe (2009), Algebraic Geometry and Statistical Learning Theory: mixture "
        "(1-a)N(0,1) + aN(b,1), truth N(0,1); K ~ a^2 b^2/2 near the origin, a normal crossing",
    )


def mixture_regular() -> LearningCoefficient:
    r"""The mixture :math:`(1-a)N(0,1) + aN(b,1)` at a truth with :math:`0 < a_0 < 1, b_0 \ne 0`.

    The truth is identifiable (one true parameter) and the Fisher information is positive
    definite there: the model is regular with d = 2 parameters, λ = d/2 = 1, m = 1
    (Watanabe 2009, regular case).

    Returns
    -------
    LearningCoefficient
        ``LearningCoefficient(1.0, 1, source)``.

    Examples
    --------
    >>> from slt.exact import mixture_regular
    >>> mixture_regular()[:2]
    (1.0, 1)
    """
    return LearningCoefficient(
        1.0,
        1,
        "Watanabe (2009), Algebraic Geometry and Statistical Learning Theory: mixture "
        "(1-a)N(0,1) + aN(b,1), truth a0 in (0,1), b0 != 0: regular, lambda = d/2 with d = 2",
    )


def mixture_two_means() -> LearningCoefficient:
    r"""The mixture :math:`(1-a)N(b,1) + aN(c,1)` at the truth :math:`N(0,1)`: λ = 3/4, m = 1.

    **Unconfirmed** (marked *(check)* in the project's MATH.md): the value comes from a
    derivation, not from a published theorem, and is to be confirmed numerically.

    Sketch. The likelihood ratio expands in Hermite polynomials,
    :math:`p/q - 1 = \sum_{k \ge 1} m_k \mathrm{He}_k(x)/k!` with the mixing moments
    :math:`m_k = (1-a)b^k + ac^k`, so :math:`K \asymp \sum_k m_k^2/k!`. For :math:`a` inside
    (0, 1), with :math:`u = m_1` as a coordinate, :math:`m_2 = ac^2/(1-a) + O(u)` and
    :math:`K \asymp u^2 + c^4`: λ = 1/2 + 1/4 = 3/4, m = 1. At the boundary :math:`a = 0`,
    :math:`c = 0`, :math:`K \asymp u^2 + a^2 c^4` with a one-sided uniform prior on
    :math:`a`, again λ = 1/2 + min(1/2, 1/4) = 3/4, m = 1; elsewhere on :math:`a = 0` the
    local value is 1. The case :math:`a = 1` is the mirror image.

    Returns
    -------
    LearningCoefficient
        ``LearningCoefficient(0.75, 1, source)``; the source says the value is unconfirmed.

    Examples
    --------
    >>> from slt.exact import mixture_two_means
    >>> mixture_two_means()[:2]
    (0.75, 1)
    """
    return LearningCoefficient(
        0.75,
        1,
        "(check) in MATH.md: from a derivation, to be confirmed numerically; mixture "
        "(1-a)N(b,1) + aN(c,1), truth N(0,1): K ~ m1^2 + m2^2 with mixing moments "
        "m_k = (1-a) b^k + a c^k, locally u^2 + c^4",
    )
