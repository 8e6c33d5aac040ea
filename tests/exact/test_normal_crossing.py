"""Tests for the normal crossing RLCT and sums in disjoint variables (MATH.md §5)."""

from fractions import Fraction

import numpy as np
import pytest

from slt.exact import LearningCoefficient, normal_crossing, normal_crossing_sum


def _check(lc: LearningCoefficient, rlct: Fraction, multiplicity: int) -> None:
    assert isinstance(lc, LearningCoefficient)
    assert type(lc.rlct) is float and type(lc.multiplicity) is int
    assert lc.rlct == float(rlct)  # the correctly rounded exact fraction
    assert lc.multiplicity == multiplicity
    assert "Watanabe (2009)" in lc.source


@pytest.mark.parametrize(
    ("k", "h", "rlct", "multiplicity"),
    [
        ([1], None, Fraction(1, 2), 1),  # w^2
        ([1, 1], None, Fraction(1, 2), 2),  # w1^2 w2^2
        ([1, 2], None, Fraction(1, 4), 1),  # w1^2 w2^4
        ([3], None, Fraction(1, 6), 1),  # w^6
        ([2, 2, 2], None, Fraction(1, 4), 3),
        ([1], [1], Fraction(1), 1),  # w^2 with prior ~ |w|
        ([1, 2], [0, 1], Fraction(1, 2), 2),  # (0+1)/2 = (1+1)/4
        ([1, 2], [0.5, 0], Fraction(1, 4), 1),
        ([3, 1], [-0.5, 0], Fraction(1, 12), 1),  # a singular prior, h > -1
        ([0, 1], [5, 0], Fraction(1, 2), 1),  # k_j = 0: w_1 is not in K, left out of the min
    ],
)
def test_math_examples(k, h, rlct, multiplicity) -> None:
    _check(normal_crossing(k, h), rlct, multiplicity)


def test_numpy_inputs_and_exact_ties() -> None:
    # 0.1 is not a binary fraction: the tie (0.1+1)/2 vs (0.1+1)/2 must still be exact.
    lc = normal_crossing(np.array([1, 1, 2]), np.array([0.1, 0.1, 3.0], dtype=np.float32))
    assert lc.multiplicity == 2
    assert lc.rlct == pytest.approx(1.1 / 2)


@pytest.mark.parametrize(
    ("blocks", "rlct", "multiplicity"),
    [
        (([1], [2]), Fraction(3, 4), 1),  # w1^2 + w2^4
        (([1],), Fraction(1, 2), 1),  # a single block
        (([1, 1], [1, 1]), Fraction(1), 3),  # m = 2 + 2 - 1
        (([1], [1], [1]), Fraction(3, 2), 1),  # three regular directions: d/2
    ],
)
def test_sums(blocks, rlct, multiplicity) -> None:
    lc = normal_crossing_sum(*blocks)
    _check(lc, rlct, multiplicity)
    assert "disjoint" in lc.source


@pytest.mark.parametrize("powers", [(2,), (2, 4), (2, 4, 6), (4, 6, 8, 10), (2, 2, 12)])
def test_half_sum_of_powers(powers) -> None:
    # MATH.md: (1/2) sum_i w_i^{p_i} -> sum_i 1/p_i (the factor 1/2 does not change lambda).
    lc = normal_crossing_sum(*[[p // 2] for p in powers])
    assert lc.rlct == float(sum(Fraction(1, p) for p in powers))
    assert lc.multiplicity == 1


def test_sum_of_learning_coefficients() -> None:
    lc = normal_crossing_sum(normal_crossing([1, 1]), normal_crossing([1], [1]), [2])
    assert lc.rlct == 0.5 + 1.0 + 0.25
    assert lc.multiplicity == 2 + 1 + 1 - 2
    # Other models' coefficients add too, and their sources are kept.
    other = LearningCoefficient(1.5, 2, "somewhere")
    lc = normal_crossing_sum(other, [1])
    assert (lc.rlct, lc.multiplicity) == (2.0, 2)
    assert "somewhere" in lc.source


@pytest.mark.parametrize(
    ("k", "h", "match"),
    [
        ([], None, "k must be a non-empty"),
        ("12", None, "k must be a non-empty"),
        (3, None, "k must be a non-empty"),
        ([0, 0], None, "k must have at least one"),
        ([1, -1], None, r"k must hold integers k_j >= 0, got k\[1\]"),
        ([1.0], None, "k must hold integers"),
        ([True], None, "k must hold integers"),
        ([1, 1], [0], "h must have one entry per entry of k"),
        ([1], [-1], r"h must hold finite numbers h_j > -1, got h\[0\]"),
        ([1], [float("nan")], "h must hold finite"),
        ([1], [float("inf")], "h must hold finite"),
        ([1], ["0"], "h must hold finite"),
        ([1], [], "h must be a non-empty"),
    ],
)
def test_bad_arguments(k, h, match) -> None:
    with pytest.raises(ValueError, match=match):
        normal_crossing(k, h)


def test_bad_blocks() -> None:
    with pytest.raises(ValueError, match="blocks must hold at least one"):
        normal_crossing_sum()
    with pytest.raises(ValueError, match=r"blocks\[1\]: k must"):
        normal_crossing_sum([1], [0])
    with pytest.raises(ValueError, match=r"blocks\[0\]\.rlct"):
        normal_crossing_sum(LearningCoefficient(0.0, 1, "x"))
    with pytest.raises(ValueError, match=r"blocks\[0\]\.multiplicity"):
        normal_crossing_sum(LearningCoefficient(1.0, 0, "x"))
