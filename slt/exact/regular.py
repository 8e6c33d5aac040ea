"""Exact learning coefficient of a regular model.

References
----------
S. Watanabe, *Algebraic Geometry and Statistical Learning Theory*, Cambridge University Press,
2009: a model whose Fisher information is positive definite at the (unique) true parameter
has λ = d/2 and m = 1, and BIC's (d/2) log n is the free energy's log n term.
"""

from slt.exact.base import LearningCoefficient
from slt.exact.rrr import _check_int

__all__ = ["regular"]


def regular(d: int) -> LearningCoefficient:
    """RLCT and multiplicity of a regular model with ``d`` parameters: λ = d/2, m = 1.

    Regular means identifiable with a positive-definite Fisher information matrix at the
    true parameter, e.g. linear regression with a full-rank design. Then K is a
    non-degenerate quadratic form near the truth and λ = d/2, the largest value possible
    for ``d`` parameters (Watanabe 2009).

    Parameters
    ----------
    d : int
        Number of parameters, ``d >= 1``.

    Returns
    -------
    LearningCoefficient
        ``LearningCoefficient(d / 2, 1, source)``.

    Raises
    ------
    ValueError
        If ``d`` is not an integer ``>= 1``.

    Examples
    --------
    >>> from slt.exact import regular
    >>> regular(3)[:2]
    (1.5, 1)
    """
    d = _check_int("d", d, 1)
    return LearningCoefficient(
        d / 2,
        1,
        f"Watanabe (2009), Algebraic Geometry and Statistical Learning Theory: regular model, "
        f"lambda = d/2 with d = {d}",
    )
