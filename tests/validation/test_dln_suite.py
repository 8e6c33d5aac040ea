"""The deep-linear-network validation suites: their cases, exact values and a smoke run."""

import math

import pytest

from slt.exact import dln, dln_dimension
from slt.validation.runner import run_case
from slt.validation.suites import (
    DLN_CASES,
    DLN_N_SAMPLES,
    SAMPLER_SETTINGS,
    get_suite,
    sampler_settings,
)


def test_dln_suite_spans_1e3_to_1e5_parameters():
    suite = get_suite("dln")
    assert len(suite) >= 20 and len(suite) == len(DLN_CASES)
    sizes = sorted(dln_dimension(w) for w, _ in DLN_CASES)
    assert 1_000 <= sizes[0] < 2_000 and 50_000 < sizes[-1] <= 100_000
    # roughly log-uniform: every decade-half [10^3, 10^3.5), ..., [10^4.5, 10^5] holds >= 3 cases
    bins = [math.floor(2 * (math.log10(d) - 3)) for d in sizes]
    assert all(bins.count(b) >= 3 for b in range(4)), bins
    full = [r == min(w) for w, r in DLN_CASES]
    assert 5 <= sum(full) <= len(full) - 5  # both full-rank and rank-reduced truths
    assert all(r >= 1 for _, r in DLN_CASES)  # no all-zero teacher (RMSProp-SGLD diverges there)
    assert all(case.rel_tol == 0.15 for case in suite)


def test_dln_quick_is_the_two_smallest():
    quick = get_suite("dln_quick")
    assert [c.name for c in quick] == [c.name for c in get_suite("dln")[:2]]
    assert all(dln_dimension(w) < 2_000 for w, _ in DLN_CASES[:2])


@pytest.mark.parametrize("index", range(3))
def test_smallest_cases_build_with_their_exact_value(index):
    by_size = sorted(range(len(DLN_CASES)), key=lambda i: dln_dimension(DLN_CASES[i][0]))
    i = by_size[index]
    widths, r = DLN_CASES[i]
    problem = get_suite("dln")[i].make()
    assert problem.exact == dln(widths, r)
    assert problem.data["x"].shape == (DLN_N_SAMPLES, widths[0])
    assert problem.data["y"].shape == (DLN_N_SAMPLES, widths[-1])
    assert [problem.params[f"W{k}"].shape for k in range(len(widths) - 1)] == [
        (b, a) for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]


def test_every_case_names_its_widths_and_rank():
    for case, (widths, r) in zip(get_suite("dln"), DLN_CASES, strict=True):
        assert case.name == f"dln({'-'.join(map(str, widths))},r={r})"
        assert dln(widths, r).rlct > 0 or r == 0


def test_rrr_settings_are_unchanged_and_dln_has_its_own():
    for suite in ("quick", "rrr"):
        for sampler in ("sgld", "rmsprop_sgld"):
            assert sampler_settings(suite, sampler) is SAMPLER_SETTINGS[sampler]
    for sampler in ("sgld", "rmsprop_sgld"):
        assert sampler_settings("dln", sampler) == sampler_settings("dln_quick", sampler)
        assert sampler_settings("dln", sampler)["gamma"] == 1.0


def test_runner_produces_a_row_for_a_tiny_dln_case():
    case = get_suite("dln_quick")[0]
    run_length = dict(num_chains=2, num_draws=200, num_burnin=100)
    row = run_case(case, "sgld", run_length, settings=sampler_settings("dln_quick", "sgld"))
    widths, r = DLN_CASES[0]
    assert row.case == case.name and row.sampler == "sgld"
    assert row.exact == dln(widths, r).rlct
    assert math.isfinite(row.estimate) and row.estimate > 0
    assert row.tolerance == 0.15 and row.seconds > 0
