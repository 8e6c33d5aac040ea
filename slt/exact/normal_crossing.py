r"""Exact learning coefficient of a normal crossing, and of sums in disjoint variables.

A *normal crossing* is a Kullback-Leibler divergence that is a monomial in the parameters,
:math:`K(w) = \prod_j w_j^{2k_j}`, with a prior whose density near the origin is
:math:`\varphi(w) \propto \prod_j |w_j|^{h_j}`. Every RLCT is computed by reducing ``K`` to
this form with a resolution of singularities, which is why it is the standard example.

References
----------
S. Watanabe, *Algebraic Geometry and Statistical Learning Theory*, Cambridge University Press,
2009, Ch. 2 (the zeta function of a normal crossing) and Ch. 7 (examples).
S. Lin, *Algebraic Methods for Evaluating Integrals in Bayesian Statistics*, PhD thesis,
UC Berkeley, 2011 (the RLCT of a sum of functions in disjoint variables).
"""

import math
from collections.abc import Sequence
from fractions import Fraction
from numbers import Integral, Rational, Real

from slt.exact.base import LearningCoefficient

__all__ = ["normal_crossing", "normal_crossing_sum"]

_SOURCE = (
    "Watanabe (2009), Algebraic Geometry and Statistical Learning Theory, Ch. 2 and 7: "
    "normal crossing K = prod_j w_j^(2 k_j), prior ~ prod_j |w_j|^(h_j), "
    "lambda = min_j (h_j + 1)/(2 k_j), m = number of j attaining the min"
)
_SUM_SOURCE = (
    "blocks in disjoint variables add: lambda = sum_b lambda_b, m = sum_b m_b - (B - 1) "
    "(Lin (2011), PhD thesis, UC Berkeley; Watanabe (2009) normal crossings)"
)


def _as_list(name: str, value: object) -> list[object]:
    """``value`` as a non-empty list (any iterable but a string)."""
    if isinstance(value, str | bytes):
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got {value!r}")
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(
            f"{name} must be a non-empty sequence of numbers, got {value!r} of type "
            f"{type(value).__name__}"
        ) from None
    if not items:
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got {value!r}")
    return items


def _exact(k: Sequence[int], h: Sequence[float] | None) -> tuple[Fraction, int]:
    """Validate ``k`` and ``h``; return the RLCT as an exact fraction and the multiplicity."""
    ks: list[int] = []
    for j, kj in enumerate(_as_list("k", k)):
        if isinstance(kj, bool) or not isinstance(kj, Integral) or kj < 0:
            raise ValueError(f"k must hold integers k_j >= 0, got k[{j}] = {kj!r}")
        ks.append(int(kj))
    if not any(ks):
        raise ValueError(f"k must have at least one entry k_j >= 1 (K would be constant), got {ks}")
    hs = [0] * len(ks) if h is None else _as_list("h", h)
    if len(hs) != len(ks):
        raise ValueError(f"h must have one entry per entry of k ({len(ks)}), got {len(hs)}")
    ratios: list[Fraction] = []
    for j, (hj, kj) in enumerate(zip(hs, ks, strict=True)):
        if isinstance(hj, bool) or not isinstance(hj, Real) or not math.isfinite(hj) or hj <= -1:
            raise ValueError(f"h must hold finite numbers h_j > -1, got h[{j}] = {hj!r}")
        # Fraction(float) is exact, so ties are detected exactly.
        exact_h = Fraction(hj) if isinstance(hj, Rational) else Fraction(float(hj))
        if kj > 0:
            ratios.append((exact_h + 1) / (2 * kj))
    rlct = min(ratios)
    return rlct, sum(r == rlct for r in ratios)


def normal_crossing(k: Sequence[int], h: Sequence[float] | None = None) -> LearningCoefficient:
    r"""RLCT and multiplicity of the normal crossing :math:`K(w) = \prod_j w_j^{2k_j}`.

    With a prior whose density near the origin is proportional to :math:`\prod_j |w_j|^{h_j}`
    (times a function positive at the origin), the zeta function
    :math:`\zeta(z) = \int K(w)^z \varphi(w)\,dw` factorises into one-dimensional integrals
    :math:`\int_0^\epsilon w_j^{2k_j z + h_j}\,dw_j`, with a pole at
    :math:`z = -(h_j + 1)/(2k_j)`. Hence

    .. math::

        \lambda = \min_j \frac{h_j + 1}{2k_j}, \qquad m = \#\{j : (h_j + 1)/(2k_j) = \lambda\}

    (Watanabe 2009, Ch. 2 and 7). A coordinate with :math:`k_j = 0` does not appear in ``K``:
    it contributes no pole and is left out of the minimum. The value is the same whether
    each :math:`w_j` ranges over a neighbourhood of 0 or only over one side of it.

    Parameters
    ----------
    k : sequence of int
        Exponents :math:`k_j \ge 0` (``K`` has :math:`w_j^{2k_j}`); at least one must be
        :math:`\ge 1`.
    h : sequence of float, optional
        Prior exponents :math:`h_j > -1`, one per entry of ``k``; default all 0 (a prior
        positive at the origin).

    Returns
    -------
    LearningCoefficient
        ``rlct`` (a ``float``, the correctly rounded value of the exact fraction),
        ``multiplicity`` and ``source``.

    Raises
    ------
    ValueError
        If ``k`` is empty or holds anything but integers :math:`\ge 0`, or only zeros; if
        ``h`` has a different length or holds anything but finite numbers :math:`> -1`.

    Examples
    --------
    >>> from slt.exact import normal_crossing
    >>> normal_crossing([1, 1])[:2]  # K = w1^2 w2^2
    (0.5, 2)
    >>> normal_crossing([1, 2])[:2]  # K = w1^2 w2^4
    (0.25, 1)
    >>> normal_crossing([1], h=[1])[:2]  # K = w^2, prior ~ |w|
    (1.0, 1)
    """
    rlct, mult = _exact(k, h)
    return LearningCoefficient(float(rlct), mult, _SOURCE)


def normal_crossing_sum(*blocks: LearningCoefficient | Sequence[int]) -> LearningCoefficient:
    r"""RLCT and multiplicity of a sum of functions of disjoint sets of variables.

    For :math:`K(u, v) = f(u) + g(v)` with a product prior,
    :math:`\lambda(K) = \lambda(f) + \lambda(g)` and :math:`m(K) = m(f) + m(g) - 1`
    (Lin 2011; for normal crossings it follows from Watanabe 2009, Ch. 2, by a blow-up).
    By induction, ``B`` blocks give :math:`\lambda = \sum_b \lambda_b` and
    :math:`m = \sum_b m_b - (B - 1)`. E.g. :math:`w_1^2 + w_2^4` gives
    :math:`\lambda = 1/2 + 1/4 = 3/4`, and :math:`\tfrac12\sum_i w_i^{p_i}` (even
    :math:`p_i`) gives :math:`\sum_i 1/p_i`.

    Parameters
    ----------
    *blocks : LearningCoefficient or sequence of int
        One entry per block: the block's :class:`LearningCoefficient` (of any model, e.g.
        :func:`normal_crossing` with prior exponents), or a sequence ``k`` as shorthand for
        ``normal_crossing(k)``. At least one block.

    Returns
    -------
    LearningCoefficient
        The sum's ``rlct``, ``multiplicity`` and ``source``. Shorthand blocks are summed as
        exact fractions, so ``rlct`` is the correctly rounded sum.

    Raises
    ------
    ValueError
        If no block is given, or a block is neither a valid ``LearningCoefficient``
        (``rlct > 0``, integer ``multiplicity >= 1``) nor a valid ``k`` for
        :func:`normal_crossing`.

    Examples
    --------
    >>> from slt.exact import normal_crossing, normal_crossing_sum
    >>> normal_crossing_sum([1], [2])[:2]  # K = w1^2 + w2^4
    (0.75, 1)
    >>> normal_crossing_sum(normal_crossing([1, 1]), [1])[:2]  # w1^2 w2^2 + w3^2
    (1.0, 2)
    """
    if not blocks:
        raise ValueError("blocks must hold at least one block, got none")
    total = Fraction(0)
    mult = 0
    sources: list[str] = []
    for b, block in enumerate(blocks):
        if isinstance(block, LearningCoefficient):
            rlct, m = block.rlct, block.multiplicity
            if (
                isinstance(rlct, bool)
                or not isinstance(rlct, Real)
                or not math.isfinite(rlct)
                or not rlct > 0
            ):
                raise ValueError(f"blocks[{b}].rlct must be a finite number > 0, got {rlct!r}")
            if isinstance(m, bool) or not isinstance(m, Integral) or m < 1:
                raise ValueError(f"blocks[{b}].multiplicity must be an integer >= 1, got {m!r}")
            total += Fraction(float(rlct))
            mult += int(m)
            source = block.source
        else:
            try:
                rlct_b, m_b = _exact(block, None)
            except ValueError as err:
                raise ValueError(f"blocks[{b}]: {err}") from None
            total += rlct_b
            mult += m_b
            source = _SOURCE
        if source not in sources:
            sources.append(source)
    mult -= len(blocks) - 1
    return LearningCoefficient(
        float(total),
        mult,
        f"{_SUM_SOURCE}; B = {len(blocks)} blocks; block sources: " + " | ".join(sources),
    )
