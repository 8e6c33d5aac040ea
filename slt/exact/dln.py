r"""Exact learning coefficient of deep linear networks.

The model is :math:`y = W_L \cdots W_1 x + \varepsilon` with :math:`W_i` an
:math:`H_i \times H_{i-1}` matrix, Gaussian noise and a true product of rank :math:`r`.
Aoyagi (2024) found its RLCT for every depth, widths and true rank; Furman & Lau (2024)
restate the result as their Theorem B.1 and use it as the ground truth of LLC estimates.

References
----------
M. Aoyagi, "Consideration on the learning efficiency of multiple-layered neural networks with
linear units", *Neural Networks* 172:106132, 2024, Main Theorem.
Z. Furman and E. Lau, "Estimating the local learning coefficient at scale", arXiv:2402.03698,
2024, Theorem B.1.
"""

import itertools
from collections.abc import Iterable, Sequence
from fractions import Fraction

from slt.exact.base import LearningCoefficient
from slt.exact.rrr import _check_int

__all__ = ["dln", "dln_dimension"]

_SOURCE = (
    "Aoyagi (2024), Neural Networks 172:106132, Main Theorem; "
    "Furman & Lau (2024), arXiv:2402.03698, Thm B.1"
)


def _check_widths(widths: object) -> list[int]:
    """Return ``widths`` as a list of ``int`` after checking it holds >= 2 integers >= 1."""
    if isinstance(widths, str | bytes) or not isinstance(widths, Iterable):
        raise ValueError(
            "widths must be a sequence of at least 2 integers >= 1 (input, hidden..., output), "
            f"got {widths!r}"
        )
    values = list(widths)
    if len(values) < 2:
        raise ValueError(
            "widths must be a sequence of at least 2 integers >= 1 (input, hidden..., output), "
            f"got {len(values)} entries"
        )
    return [_check_int(f"widths[{i}]", h, 1) for i, h in enumerate(values)]


def dln_dimension(widths: Sequence[int]) -> int:
    """Number of parameters of the deep linear network ``y = W_L ... W_1 x + noise``.

    Parameters
    ----------
    widths : sequence of int
        ``[H_0, H_1, ..., H_L]``: input width, hidden widths, output width; at least two
        entries, each ``>= 1``.

    Returns
    -------
    int
        ``d = sum_i H_i H_{i+1}``, the entries of all weight matrices (no biases).

    Raises
    ------
    ValueError
        If ``widths`` is not a sequence of at least two integers ``>= 1``.

    Examples
    --------
    >>> from slt.exact import dln_dimension
    >>> dln_dimension([5, 4, 3, 5])
    47
    """
    h = _check_widths(widths)
    return sum(a * b for a, b in itertools.pairwise(h))


def _admissible_set(deltas: list[int]) -> list[int]:
    """The indices of the set Sigma of Aoyagi's theorem: the first admissible sorted prefix.

    Conditions (2) ``S >= ell max_Sigma Delta`` and (3) ``S < ell min_rest Delta`` together
    imply condition (1) ``max_Sigma Delta < min_rest Delta``, so ties between the largest
    Delta of a prefix and the smallest one left out never need breaking: such a prefix fails
    (2)-(3). An admissible prefix exists: the 2-prefix satisfies (2), and the longest prefix
    satisfying (2) satisfies (3), because if the (k+1)-prefix fails (2) then
    ``S_k < (k - 1) Delta_(k+1)``. It is unique: if the k-prefix satisfies (3), every longer
    prefix violates (2).
    """
    order = sorted(range(len(deltas)), key=lambda i: (deltas[i], i))
    for k in range(2, len(deltas) + 1):
        sigma, rest = order[:k], order[k:]
        ell = k - 1
        s = sum(deltas[i] for i in sigma)
        cond2 = s >= ell * max(deltas[i] for i in sigma)
        cond3 = not rest or s < ell * min(deltas[i] for i in rest)
        if cond2 and cond3:
            return sigma
    raise AssertionError("unreachable: an admissible prefix always exists")


def dln(widths: Sequence[int], r: int) -> LearningCoefficient:
    r"""Exact RLCT (and multiplicity) of a deep linear network with a true product of rank r.

    The model is :math:`y = W_L \cdots W_1 x + \varepsilon` with widths
    ``widths = [H_0, ..., H_L]`` (:math:`W_i` is :math:`H_i \times H_{i-1}`), Gaussian noise, a
    prior positive on the true parameters and an input distribution with positive-definite
    second moment; the true matrix :math:`W^0_L \cdots W^0_1` has rank :math:`r`. With
    :math:`\Delta_i = H_i - r \ge 0`, let :math:`\Sigma \subseteq \{0, \dots, L\}`,
    :math:`|\Sigma| \ge 2`, :math:`\ell = |\Sigma| - 1`, satisfy

    1. :math:`\max_{i \in \Sigma} \Delta_i < \min_{i \notin \Sigma} \Delta_i`,
    2. :math:`\sum_{i \in \Sigma} \Delta_i \ge \ell \max_{i \in \Sigma} \Delta_i`,
    3. :math:`\sum_{i \in \Sigma} \Delta_i < \ell \min_{i \notin \Sigma} \Delta_i`

    (a minimum over the empty set is :math:`+\infty`). Condition 1 makes :math:`\Sigma` a
    set of the :math:`k` smallest :math:`\Delta_i`, so the sorted prefixes
    :math:`k = 2, \dots, L + 1` are tried in turn; exactly one of them is admissible (the
    longest prefix satisfying condition 2 satisfies condition 3, and no longer prefix can
    satisfy 2 once a shorter one satisfies 3). Ties need no rule: conditions 2 and 3 together imply
    condition 1, so a prefix cut through a run of equal :math:`\Delta` fails 2-3 whichever
    tied index it holds. With :math:`S = \sum_{i \in \Sigma} \Delta_i` and
    :math:`a = S - (\lceil S / \ell \rceil - 1)\ell \in \{1, \dots, \ell\}`,

    .. math::

        \lambda = \tfrac12\bigl(-r^2 + r(H_0 + H_L)\bigr)
        + \frac{a(\ell - a)}{4\ell} - \frac{\ell - 1}{4\ell} S^2
        + \tfrac12 \sum_{i < j \in \Sigma} \Delta_i \Delta_j

    (Aoyagi 2024, Main Theorem; Furman & Lau 2024, Theorem B.1). The arithmetic is exact
    (integers and fractions); the result is rounded to ``float`` once.

    Special cases. For ``L = 2`` (``widths = [M, H, N]``) this is reduced-rank regression and
    agrees exactly with :func:`slt.exact.rrr` ``(M, N, H, r)``, multiplicity included. For
    ``L = 1`` the only candidate is :math:`\Sigma = \{0, 1\}`, :math:`\ell = a = 1`, and the
    formula gives :math:`\lambda = H_0 H_1 / 2`, :math:`m = 1` for every ``r``: a single
    linear layer is a regular model (its Kullback-Leibler divergence is a non-degenerate
    quadratic form in :math:`W_1 - W_1^0`), so no special branch is needed.

    Multiplicity: ``m = 1`` if ``a == ell`` else ``m = 2``. This reproduces the reduced-rank
    regression multiplicity for ``L = 2`` and the regular ``m = 1`` for ``L = 1``; for
    ``L > 2`` it has not been verified against the paper, and ``source`` says so.

    Parameters
    ----------
    widths : sequence of int
        ``[H_0, H_1, ..., H_L]``: input width, hidden widths, output width; ``L >= 1``
        (at least two entries), each ``>= 1``.
    r : int
        Rank of the true product, ``0 <= r <= min(widths)``.

    Returns
    -------
    LearningCoefficient
        ``rlct`` (a Python ``float``), ``multiplicity`` (a Python ``int``) and ``source``,
        naming the papers, the set :math:`\Sigma`, :math:`\ell`, :math:`a`, and whether the
        multiplicity is verified.

    Raises
    ------
    ValueError
        If ``widths`` is not a sequence of at least two integers ``>= 1``, or ``r`` is not an
        integer with ``0 <= r <= min(widths)``. ``bool`` is not an integer here; numpy
        integers are.

    Examples
    --------
    >>> from slt.exact import dln
    >>> dln([5, 4, 3, 5], 0).rlct
    5.5
    >>> dln([10, 10, 10, 10], 5)[:2]
    (46.0, 2)
    >>> dln([3, 4], 1)[:2]  # one layer: regular, lambda = 3 * 4 / 2
    (6.0, 1)
    """
    h = _check_widths(widths)
    r = _check_int("r", r, 0, min(h))
    deltas = [w - r for w in h]
    sigma = _admissible_set(deltas)
    ell = len(sigma) - 1
    s = sum(deltas[i] for i in sigma)
    a = s - (-(-s // ell) - 1) * ell  # s - (ceil(s / ell) - 1) * ell, in 1..ell
    pairs = sum(deltas[i] * deltas[j] for i, j in itertools.combinations(sigma, 2))
    rlct = (
        Fraction(-(r**2) + r * (h[0] + h[-1]), 2)
        + Fraction(a * (ell - a), 4 * ell)
        - Fraction((ell - 1) * s**2, 4 * ell)
        + Fraction(pairs, 2)
    )
    mult = 1 if a == ell else 2
    num_layers = len(h) - 1
    verified = (
        "multiplicity verified (L <= 2)"
        if num_layers <= 2
        else "multiplicity m = 1 if a = ell else 2 not verified for L > 2"
    )
    source = f"{_SOURCE}: Sigma = {sorted(sigma)}, ell = {ell}, a = {a}; {verified}"
    return LearningCoefficient(float(rlct), mult, source)
