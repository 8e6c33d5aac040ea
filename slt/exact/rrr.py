"""Exact learning coefficient of reduced-rank regression.

References
----------
M. Aoyagi and S. Watanabe, "Stochastic complexities of reduced rank regression in Bayesian
estimation", *Neural Networks* 18(7):924-933, 2005, Main Theorem.
"""

from numbers import Integral

from slt.exact.base import LearningCoefficient

_SOURCE = "Aoyagi & Watanabe (2005), Neural Networks 18:924, Main Theorem"


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer in ``[low, high]``.

    Python and numpy integers are accepted; ``bool`` (and everything else) is rejected.
    """
    bounds = f"{low} <= {name}" + ("" if high is None else f" <= {high}")
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(
            f"{name} must be an integer with {bounds}, got {value!r} of type {type(value).__name__}"
        )
    v = int(value)
    if v < low or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer with {bounds}, got {v}")
    return v


def rrr_dimension(M: int, N: int, H: int) -> int:
    """Number of parameters of the reduced-rank regression model ``y = B A x + noise``.

    Parameters
    ----------
    M : int
        Input dimension, ``M >= 1``.
    N : int
        Output dimension, ``N >= 1``.
    H : int
        Inner width (the rank of the model), ``H >= 0``.

    Returns
    -------
    int
        ``d = H (M + N)``: the entries of ``A`` (``H x M``) and ``B`` (``N x H``). A regular
        model of this dimension would have learning coefficient ``d / 2``.

    Raises
    ------
    ValueError
        If an argument is not an integer in its valid range.
    """
    M = _check_int("M", M, 1)
    N = _check_int("N", N, 1)
    H = _check_int("H", H, 0)
    return H * (M + N)


def rrr(M: int, N: int, H: int, r: int) -> LearningCoefficient:
    """Exact RLCT and multiplicity of reduced-rank regression.

    The model is ``y = B A x + noise`` with ``x`` in ``R^M``, ``y`` in ``R^N``,
    ``A`` an ``H x M`` matrix and ``B`` an ``N x H`` matrix, Gaussian noise, a prior positive
    on the true parameters, and an input distribution with positive-definite second moment.
    The true regression matrix ``B0 A0`` has rank ``r``.

    With ``r`` the effective true rank (see below), Aoyagi & Watanabe (2005, Main Theorem)
    give, in four disjoint cases:

    1. ``N + r <= M + H``, ``M + r <= N + H`` and ``H + r <= M + N``: with
       ``b = 2 (H + r)(M + N) - (M - N)^2 - (H + r)^2``,

       - if ``M + N + H + r`` is even: ``lambda = b / 8``, ``m = 1``;
       - if ``M + N + H + r`` is odd: ``lambda = (b + 1) / 8``, ``m = 2``.

    2. ``M + H < N + r``: ``lambda = (H M - H r + N r) / 2``, ``m = 1``.
    3. ``N + H < M + r``: ``lambda = (H N - H r + M r) / 2``, ``m = 1``.
    4. ``M + N < H + r``: ``lambda = M N / 2``, ``m = 1``.

    A true rank above the model's rank, ``r > H``, is accepted: the model cannot reach the
    true matrix, and the coefficient is the one at its best rank-``H`` approximation, i.e.
    the formula is applied with the effective true rank ``min(r, H)``. This is the
    convention of the singular BIC for reduced-rank regression (Drton & Plummer, JRSS-B
    79(2):323-380, 2017, Section 5.1), where ``lambda`` is tabulated for every model rank
    ``H`` against a fixed true rank. With ``H = 0`` the model is the single point
    ``B A = 0`` and ``lambda = 0``, ``m = 1``.

    Parameters
    ----------
    M : int
        Input dimension, ``M >= 1``.
    N : int
        Output dimension, ``N >= 1``.
    H : int
        Inner width (the rank of the model), ``H >= 0``.
    r : int
        Rank of the true regression matrix, ``0 <= r <= min(M, N)``. Values ``r > H`` are
        replaced by ``H`` (see above).

    Returns
    -------
    LearningCoefficient
        ``rlct`` (a Python ``float``, an exact multiple of 1/8), ``multiplicity``
        (a Python ``int``) and ``source``, naming the paper and the case that applied.

    Raises
    ------
    ValueError
        If ``M`` or ``N`` is not an integer ``>= 1``, ``H`` is not an integer ``>= 0``, or
        ``r`` is not an integer with ``0 <= r <= min(M, N)``. ``bool`` is not an integer
        here; numpy integers are.

    Examples
    --------
    >>> from slt.exact import rrr
    >>> lc = rrr(5, 5, 3, 0)
    >>> lc.rlct, lc.multiplicity
    (6.5, 2)
    >>> rrr(5, 5, 3, 0).source
    'Aoyagi & Watanabe (2005), Neural Networks 18:924, Main Theorem, case 1 (M+N+H+r odd)'
    """
    M = _check_int("M", M, 1)
    N = _check_int("N", N, 1)
    H = _check_int("H", H, 0)
    r_true = _check_int("r", r, 0, min(M, N))
    r = min(r_true, H)
    note = (
        ""
        if r_true <= H
        else (
            f"; true rank r={r_true} > H={H}, so the effective true rank min(r, H)={r} is used "
            "(Drton & Plummer (2017), JRSS-B 79:323, Section 5.1)"
        )
    )

    if M + H < N + r:
        num2, mult, case = H * M - H * r + N * r, 1, "case 2 (M+H < N+r)"
    elif N + H < M + r:
        num2, mult, case = H * N - H * r + M * r, 1, "case 3 (N+H < M+r)"
    elif M + N < H + r:
        num2, mult, case = M * N, 1, "case 4 (M+N < H+r)"
    else:
        base = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + N + H + r) % 2 == 0:
            num8, mult, case = base, 1, "case 1 (M+N+H+r even)"
        else:
            num8, mult, case = base + 1, 2, "case 1 (M+N+H+r odd)"
        # num8 / 8 is exact in binary floating point.
        return LearningCoefficient(num8 / 8, mult, f"{_SOURCE}, {case}{note}")
    return LearningCoefficient(num2 / 2, mult, f"{_SOURCE}, {case}{note}")
