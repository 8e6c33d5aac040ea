"""Tests for the exact RLCT of reduced-rank regression (Aoyagi & Watanabe 2005)."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from slt.exact import LearningCoefficient, rrr, rrr_dimension

SIZES = range(1, 9)


# --------------------------------------------------------------------------- worked values


@pytest.mark.parametrize(
    ("M", "N", "H", "r", "rlct", "multiplicity"),
    [
        (5, 5, 3, 0, 6.5, 2),
        (5, 5, 4, 0, 8.0, 1),
        (4, 8, 3, 0, 6.0, 1),
        (6, 6, 6, 3, 17.0, 2),
    ],
)
def test_worked_values(M: int, N: int, H: int, r: int, rlct: float, multiplicity: int) -> None:
    lc = rrr(M, N, H, r)
    assert isinstance(lc, LearningCoefficient)
    assert lc.rlct == rlct
    assert lc.multiplicity == multiplicity
    assert type(lc.rlct) is float
    assert type(lc.multiplicity) is int
    assert "Aoyagi & Watanabe (2005)" in lc.source


def test_source_names_case() -> None:
    assert rrr(5, 5, 3, 0).source == (
        "Aoyagi & Watanabe (2005), Neural Networks 18:924, Main Theorem, case 1 (M+N+H+r odd)"
    )
    assert "case 1 (M+N+H+r even)" in rrr(5, 5, 4, 0).source
    assert "case 2" in rrr(4, 8, 3, 0).source
    assert "case 3" in rrr(8, 4, 3, 0).source
    assert "case 4" in rrr(2, 2, 5, 2).source


# ----------------------------------------------------- Drton & Plummer (JRSS-B 2017), §5.1

DRTON_PLUMMER_M, DRTON_PLUMMER_N, DRTON_PLUMMER_R = 15, 10, 5
DRTON_PLUMMER_ROW = [0, 12, 23, 33, 42, 50, 52.5, 55, 57.5, 60, 62.5]


@pytest.mark.parametrize(("H", "rlct"), list(enumerate(DRTON_PLUMMER_ROW)))
def test_drton_plummer_row(H: int, rlct: float) -> None:
    # The true rank r = 5 is passed literally; for H < 5 the effective true rank is H.
    lc = rrr(DRTON_PLUMMER_M, DRTON_PLUMMER_N, H, DRTON_PLUMMER_R)
    assert lc.rlct == rlct
    if H < DRTON_PLUMMER_R:
        assert "min(r, H)" in lc.source


def test_zero_width_model() -> None:
    for M, N in itertools.product(SIZES, SIZES):
        assert rrr(M, N, 0, 0) == (0.0, 1, rrr(M, N, 0, 0).source)
        assert rrr(M, N, 0, min(M, N)).rlct == 0.0
        assert rrr(M, N, 0, min(M, N)).multiplicity == 1


# ------------------------------------------------------------------ independent properties


def _all_cases(cap_r_at_h: bool = True):
    for M, N, H in itertools.product(SIZES, SIZES, SIZES):
        top = min(M, N, H) if cap_r_at_h else min(M, N)
        for r in range(top + 1):
            yield M, N, H, r


def test_symmetric_in_input_and_output() -> None:
    for M, N, H, r in _all_cases(cap_r_at_h=False):
        a, b = rrr(M, N, H, r), rrr(N, M, H, r)
        assert (a.rlct, a.multiplicity) == (b.rlct, b.multiplicity), (M, N, H, r)


def test_bounded_by_half_dimension_and_positive() -> None:
    for M, N, H, r in _all_cases(cap_r_at_h=False):
        lc = rrr(M, N, H, r)
        d = rrr_dimension(M, N, H)
        assert d == H * (M + N)
        assert 0 < lc.rlct <= d / 2, (M, N, H, r)
        assert lc.multiplicity in (1, 2)


def test_true_rank_equals_model_rank_is_regular_on_manifold() -> None:
    # When r = H the true set is (locally) the manifold of rank-H N x M matrices, of dimension
    # H (M + N - H), and the learning coefficient is half of it, with m = 1.
    for M, N in itertools.product(SIZES, SIZES):
        for H in range(1, min(M, N) + 1):
            lc = rrr(M, N, H, H)
            assert Fraction(lc.rlct) == Fraction(H * (M + N - H), 2), (M, N, H)
            assert lc.multiplicity == 1


def test_monotone_in_width() -> None:
    for M, N in itertools.product(SIZES, SIZES):
        for r in range(min(M, N) + 1):
            values = [rrr(M, N, H, r).rlct for H in range(0, 9)]
            assert values == sorted(values), (M, N, r, values)


def test_r_above_h_equals_r_capped() -> None:
    for M, N, H in itertools.product(SIZES, SIZES, range(0, 9)):
        for r in range(H + 1, min(M, N) + 1):
            a, b = rrr(M, N, H, r), rrr(M, N, H, H)
            assert (a.rlct, a.multiplicity) == (b.rlct, b.multiplicity)


# ---------------------------------------------- cross-check: two-layer deep linear network


def _dln_rlct(widths: list[int], r: int) -> Fraction:
    """RLCT of a deep linear network (Aoyagi 2024), written independently of ``slt.exact``.

    M. Aoyagi, "Consideration on the learning efficiency of multiple-layered neural networks
    with linear units", Neural Networks 172:106132, 2024, Main Theorem. ``widths`` are
    ``H_0`` (input), ..., ``H_L`` (output); ``r`` is the true rank, ``r <= min(widths)``.
    """
    deltas = [h - r for h in widths]
    order = sorted(range(len(widths)), key=lambda i: deltas[i])
    for k in range(2, len(widths) + 1):
        sigma, rest = order[:k], order[k:]
        ell = k - 1
        s = sum(deltas[i] for i in sigma)
        min_rest = min((deltas[i] for i in rest), default=math.inf)
        if s >= ell * max(deltas[i] for i in sigma) and s < ell * min_rest:
            break
    else:  # pragma: no cover - the theorem guarantees some prefix works
        raise AssertionError("no admissible set Sigma")
    a = s - (-(-s // ell) - 1) * ell  # s - (ceil(s / ell) - 1) * ell
    pairs = sum(deltas[i] * deltas[j] for i, j in itertools.combinations(sigma, 2))
    return (
        Fraction(-(r**2) + r * (widths[0] + widths[-1]), 2)
        + Fraction(a * (ell - a), 4 * ell)
        - Fraction(ell - 1, 4 * ell) * s**2
        + Fraction(pairs, 2)
    )


def test_matches_two_layer_deep_linear_network() -> None:
    for M, N, H, r in _all_cases(cap_r_at_h=True):
        assert Fraction(rrr(M, N, H, r).rlct) == _dln_rlct([M, H, N], r), (M, N, H, r)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"M": 0, "N": 3, "H": 2, "r": 0}, "M"),
        ({"M": 3, "N": -1, "H": 2, "r": 0}, "N"),
        ({"M": 3, "N": 3, "H": -1, "r": 0}, "H"),
        ({"M": 3, "N": 3, "H": 2, "r": -1}, "r"),
        ({"M": 3, "N": 2, "H": 2, "r": 3}, "r"),
        ({"M": 2, "N": 4, "H": 4, "r": 3}, "r"),
        ({"M": 2.5, "N": 3, "H": 2, "r": 0}, "M"),
        ({"M": True, "N": 3, "H": 2, "r": 0}, "M"),
        ({"M": 3, "N": 3, "H": 2, "r": False}, "r"),
        ({"M": 3, "N": "3", "H": 2, "r": 0}, "N"),
        ({"M": 3, "N": 3, "H": 2.0, "r": 0}, "H"),
    ],
)
def test_bad_input(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be an integer"):
        rrr(**kwargs)  # type: ignore[arg-type]


def test_bad_input_message_gives_range() -> None:
    with pytest.raises(ValueError, match=r"0 <= r <= 2"):
        rrr(3, 2, 2, 3)
    with pytest.raises(ValueError, match=r"1 <= M"):
        rrr(0, 2, 2, 0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"M": 0, "N": 1, "H": 1}, "M"), ({"M": 1, "N": 1, "H": -1}, "H")],
)
def test_dimension_bad_input(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be an integer"):
        rrr_dimension(**kwargs)  # type: ignore[arg-type]


def test_numpy_integers_accepted() -> None:
    lc = rrr(np.int64(5), np.int32(5), np.int16(3), np.uint8(0))  # type: ignore[arg-type]
    assert (lc.rlct, lc.multiplicity) == (6.5, 2)
    assert type(lc.rlct) is float
    assert type(lc.multiplicity) is int
    assert rrr_dimension(np.int64(5), 5, 3) == 30  # type: ignore[arg-type]
