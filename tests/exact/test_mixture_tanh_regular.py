"""Tests for the exact values of Gaussian mixtures, the tanh network and regular models."""

import math
from fractions import Fraction

import numpy as np
import pytest

from slt.exact import (
    LearningCoefficient,
    mixture_regular,
    mixture_singular,
    mixture_two_means,
    normal_crossing,
    regular,
    tanh_network,
)


def test_mixtures() -> None:
    for fn, rlct, m in [
        (mixture_singular, 0.5, 2),
        (mixture_regular, 1.0, 1),
        (mixture_two_means, 0.75, 1),
    ]:
        lc = fn()
        assert isinstance(lc, LearningCoefficient)
        assert (lc.rlct, lc.multiplicity) == (rlct, m)
        assert type(lc.rlct) is float and type(lc.multiplicity) is int
    assert "Watanabe (2009)" in mixture_singular().source
    assert "(check)" in mixture_two_means().source
    assert "confirmed numerically" in mixture_two_means().source
    # The singular mixture is the normal crossing a^2 b^2.
    assert mixture_singular()[:2] == normal_crossing([1, 1])[:2]
    assert mixture_regular()[:2] == regular(2)[:2]


# MATH.md §5: H = 1..9 -> 0.5, 0.667, 0.833, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5
TANH_TABLE = [
    Fraction(1, 2),
    Fraction(2, 3),
    Fraction(5, 6),
    Fraction(1),
    Fraction(11, 10),
    Fraction(6, 5),
    Fraction(13, 10),
    Fraction(7, 5),
    Fraction(3, 2),
]


@pytest.mark.parametrize(("H", "rlct"), list(enumerate(TANH_TABLE, start=1)))
def test_tanh_table(H: int, rlct: Fraction) -> None:
    lc = tanh_network(H)
    assert lc.rlct == float(rlct)
    assert "Aoyagi & Watanabe (2005)" in lc.source
    assert type(lc.multiplicity) is int
    if H == 1:  # K ~ a^2 b^2: a normal crossing with m = 2
        assert lc.multiplicity == 2
    else:
        assert lc.multiplicity == 1 and "multiplicity not verified" in lc.source


def test_tanh_rounded_table_and_growth() -> None:
    rounded = [0.5, 0.667, 0.833, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    assert [round(tanh_network(H).rlct, 3) for H in range(1, 10)] == rounded
    values = [tanh_network(H).rlct for H in range(1, 200)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    # lambda <= d/2 = H with d = 2H parameters; lambda ~ sqrt(H)/2 for large H.
    assert all(v <= H for H, v in enumerate(values, start=1))
    assert tanh_network(10_000).rlct == pytest.approx(math.sqrt(10_000) / 2, rel=0.02)


@pytest.mark.parametrize("d", [1, 2, 3, 7, np.int64(10)])
def test_regular(d) -> None:
    lc = regular(d)
    assert (lc.rlct, lc.multiplicity) == (int(d) / 2, 1)
    assert type(lc.rlct) is float


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_bad_arguments(bad) -> None:
    with pytest.raises(ValueError, match="^d must be an integer"):
        regular(bad)
    with pytest.raises(ValueError, match="^H must be an integer"):
        tanh_network(bad)
