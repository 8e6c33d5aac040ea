"""Tests for the exact RLCT of deep linear networks (Aoyagi 2024; Furman & Lau 2024, Thm B.1)."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from slt.exact import LearningCoefficient, dln, dln_dimension, rrr

# --------------------------------------------------------------------------- worked values


@pytest.mark.parametrize(
    ("widths", "r", "rlct"),
    [
        ([5, 4, 3, 5], 0, 5.5),
        ([10, 10, 10, 10], 0, 33.5),
        ([10, 10, 10, 10], 5, 46.0),
        ([3, 2, 2, 3], 1, 3.0),
        ([20, 5, 20, 5, 20], 3, 57.5),
        ([4, 4, 4, 4, 4, 4], 2, 7.5),
    ],
)
def test_worked_values(widths: list[int], r: int, rlct: float) -> None:
    lc = dln(widths, r)
    assert isinstance(lc, LearningCoefficient)
    assert lc.rlct == rlct
    assert type(lc.rlct) is float
    assert type(lc.multiplicity) is int
    assert lc.multiplicity in (1, 2)
    assert "Aoyagi (2024)" in lc.source and "Thm B.1" in lc.source
    assert "not verified for L > 2" in lc.source


def test_source_names_sigma() -> None:
    assert dln([20, 5, 20, 5, 20], 3).source.endswith(
        "Sigma = [1, 3], ell = 1, a = 1; "
        "multiplicity m = 1 if a = ell else 2 not verified for L > 2"
    )
    assert "multiplicity verified (L <= 2)" in dln([5, 3, 5], 0).source


# ----------------------------------------------- L = 2 is reduced-rank regression exactly


def test_two_layers_equal_reduced_rank_regression() -> None:
    # widths [M, H, N] is y = B A x with A: H x M, B: N x H, i.e. rrr(M, N, H, r).
    for M, N, H in itertools.product(range(1, 9), repeat=3):
        for r in range(min(M, N, H) + 1):
            a, b = dln([M, H, N], r), rrr(M, N, H, r)
            assert (a.rlct, a.multiplicity) == (b.rlct, b.multiplicity), (M, N, H, r)


def test_one_layer_is_regular() -> None:
    for h0, h1 in itertools.product(range(1, 9), repeat=2):
        for r in range(min(h0, h1) + 1):
            lc = dln([h0, h1], r)
            assert (lc.rlct, lc.multiplicity) == (h0 * h1 / 2, 1), (h0, h1, r)
            assert lc.rlct == dln_dimension([h0, h1]) / 2


# ---------------------------------------------------- brute force over all subsets Sigma


def _brute_force(widths: list[int], r: int) -> Fraction:
    """Search every Sigma, |Sigma| >= 2, for conditions (1)-(3); evaluate the formula on it.

    Written from Furman & Lau (2024), Thm B.1 without the sorted-prefix shortcut; also checks
    that exactly one index set is admissible.
    """
    deltas = [h - r for h in widths]
    found = []
    for k in range(2, len(widths) + 1):
        for sigma in itertools.combinations(range(len(widths)), k):
            inside = [deltas[i] for i in sigma]
            outside = [deltas[i] for i in range(len(widths)) if i not in sigma]
            ell, s = k - 1, sum(inside)
            lowest_out = min(outside, default=math.inf)
            if max(inside) < lowest_out and s >= ell * max(inside) and s < ell * lowest_out:
                found.append(sigma)
    assert len(found) == 1, (widths, r, found)
    sigma = found[0]
    ell = len(sigma) - 1
    s = sum(deltas[i] for i in sigma)
    a = s - (math.ceil(Fraction(s, ell)) - 1) * ell
    assert 1 <= a <= ell
    return (
        Fraction(-(r**2) + r * (widths[0] + widths[-1]), 2)
        + Fraction(a * (ell - a), 4 * ell)
        - Fraction(ell - 1, 4 * ell) * s**2
        + Fraction(sum(x * y for x, y in itertools.combinations([deltas[i] for i in sigma], 2)), 2)
    )


def _random_networks(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        num_layers = int(rng.integers(2, 7))  # L in 2..6
        widths = [int(w) for w in rng.integers(1, 13, size=num_layers + 1)]
        r = int(rng.integers(0, min(widths) + 1))
        yield widths, r


def test_sorted_prefix_matches_brute_force() -> None:
    # Widths 1..12 with up to 7 entries make ties between the Delta_i common.
    for widths, r in _random_networks(3000):
        lc = dln(widths, r)
        assert lc.rlct == float(_brute_force(widths, r)), (widths, r)


def test_bounds_and_reversal() -> None:
    for widths, r in _random_networks(1000, seed=1):
        lc = dln(widths, r)
        assert 0 < lc.rlct <= dln_dimension(widths) / 2, (widths, r)
        rev = dln(widths[::-1], r)
        assert (rev.rlct, rev.multiplicity) == (lc.rlct, lc.multiplicity), (widths, r)


def test_dimension() -> None:
    assert dln_dimension([5, 4, 3, 5]) == 20 + 12 + 15
    assert dln_dimension([7, 2]) == 14
    assert dln_dimension(np.array([3, 3, 3])) == 18  # type: ignore[arg-type]


def test_numpy_integers_accepted() -> None:
    lc = dln([np.int64(5), np.int32(4), np.uint8(3), 5], np.int16(0))  # type: ignore[list-item,arg-type]
    assert (lc.rlct, type(lc.rlct), type(lc.multiplicity)) == (5.5, float, int)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("widths", "r", "match"),
    [
        ([5], 0, r"^widths must be a sequence of at least 2"),
        ([], 0, r"^widths must be a sequence of at least 2"),
        (5, 0, r"^widths must be a sequence"),
        ("55", 0, r"^widths must be a sequence"),
        ([5, 0, 5], 0, r"^widths\[1\] must be an integer with 1 <= widths\[1\]"),
        ([5, 2.5, 5], 0, r"^widths\[1\] must be an integer"),
        ([True, 3], 0, r"^widths\[0\] must be an integer"),
        ([5, 3, 5], 4, r"^r must be an integer with 0 <= r <= 3"),
        ([5, 3, 5], -1, r"^r must be an integer with 0 <= r <= 3"),
        ([5, 3, 5], 1.0, r"^r must be an integer"),
        ([5, 3, 5], False, r"^r must be an integer"),
    ],
)
def test_bad_input(widths: object, r: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dln(widths, r)  # type: ignore[arg-type]


def test_dimension_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^widths must be a sequence of at least 2"):
        dln_dimension([3])
    with pytest.raises(ValueError, match=r"^widths\[2\] must be an integer"):
        dln_dimension([3, 3, -1])
