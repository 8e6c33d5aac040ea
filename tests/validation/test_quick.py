"""The fast subset of the validation suite, run in make test.

The cases, settings and 15% band are those of ``slt.validation.suites.SUITES["quick"]``; the band
is justified there (about three MCSE plus the measured step-size and finite-n bias), so a correct
estimator fails it rarely while the errors a careless implementation makes (initial-loss bias of
+50-130%, burn-in averaged in, nβ from the batch size) fail it by a wide margin.
"""

import json

import pytest

from slt.cli import main
from slt.validation.runner import run_case
from slt.validation.suites import RUN_LENGTH, get_suite, sampler_settings


@pytest.mark.parametrize("sampler", ["sgld", "rmsprop_sgld"])
@pytest.mark.parametrize("case", get_suite("quick"), ids=lambda c: c.name)
def test_quick_case_within_tolerance(case, sampler):
    row = run_case(case, sampler, RUN_LENGTH["quick"])
    assert row.rhat < 1.05, row
    assert abs(row.rel_error) <= case.rel_tol, (
        f"{case.name} with {sampler}: estimate {row.estimate:.3f} ± {row.mcse:.3f} vs exact "
        f"{row.exact} ({row.rel_error:+.1%}, tolerance {case.rel_tol:.0%})"
    )


@pytest.mark.parametrize("case", get_suite("quick"), ids=lambda c: c.name)
def test_quick_case_within_tolerance_with_rademacher_noise(case):
    # The weak Euler increment (slt.tree.tree_noise_like) on the same cases, settings and band.
    # R-hat of these 4 x 4000 draws on rrr(5,5,3,1), seeds 0-5, was 1.02-1.08 with Gaussian
    # noise and 1.02-1.07 with signs (λ̂ -0.1% to -8.5% and -3.0% to -9.3%): the bound here is
    # the one of a run that mixed, not the tighter one the Gaussian test happens to meet.
    settings = sampler_settings("quick", "sgld") | {"noise": "rademacher"}
    row = run_case(case, "sgld", RUN_LENGTH["quick"], settings=settings)
    assert row.rhat < 1.1, row
    assert abs(row.rel_error) <= case.rel_tol, row


def test_cli_rejects_a_bad_suite(capsys):
    assert main(["validate", "--suite", "nope"]) == 2
    assert "--suite must be one of" in capsys.readouterr().err


def test_cli_writes_json_rows(tmp_path, monkeypatch):
    from slt.validation import runner

    fake = runner.Row("c", "sgld", 1.0, 1.02, 0.01, 0.02, 1.0, 1000.0, 0.1, True, 0.1)
    monkeypatch.setattr(runner, "run_case", lambda *a, **k: fake)
    out = tmp_path / "rows.json"
    assert main(["validate", "--suite", "quick", "--sampler", "sgld", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    keys = {"case", "exact", "estimate", "mcse", "rel_error", "rhat", "ess", "seconds", "passed"}
    assert len(rows) == 2 and keys <= set(rows[0])


def test_cli_overrides_reach_every_case_and_name_themselves(tmp_path, monkeypatch):
    from slt.validation import runner
    from slt.validation.suites import BETA0, RUN_LENGTH, sampler_settings

    base = dict(sampler_settings("dln_quick", "sgld"))
    calls = []

    def record(case, sampler, run_length, seed=0, settings=None, *, beta0):
        calls.append((run_length, settings, beta0))
        return runner.Row(case.name, sampler, 1.0, 1.0, 0.01, 0.0, 1.0, 1e3, 0.1, True, 0.15)

    monkeypatch.setattr(runner, "run_case", record)
    report = tmp_path / "report.md"
    argv = ["validate", "--suite", "dln_quick", "--sampler", "sgld", "--beta0", "1"]
    argv += ["--batch-size", "3000", "--burnin", "48000", "--burnin-step-factor", "10"]
    assert main([*argv, "--report", str(report)]) == 0
    assert len(calls) == 2
    for run_length, settings, beta0 in calls:
        assert beta0 == 1.0
        # ε·nβ is kept: the step scales as BETA0 / beta0
        assert settings["step_size"] == pytest.approx(base["step_size"] * BETA0 / 1.0)
        assert settings["batch_size"] == 3000 and settings["gamma"] == base["gamma"]
        assert settings["burnin_step_size"] == pytest.approx(10 * settings["step_size"])
        assert run_length == RUN_LENGTH["dln_quick"] | {"num_burnin": 48000}
    flags = "--beta0 1 --batch-size 3000 --burnin 48000 --burnin-step-factor 10"
    assert flags in report.read_text()
    assert sampler_settings("dln_quick", "sgld") == base  # the suite's own settings untouched


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--suite", "quick", "--beta0", "0"], "beta0 must be a positive number"),
        (["--suite", "networks", "--gamma", "10"], "not 'networks'"),
    ],
)
def test_cli_rejects_bad_overrides(argv, message, capsys):
    assert main(["validate", *argv]) == 2
    assert message in capsys.readouterr().err
