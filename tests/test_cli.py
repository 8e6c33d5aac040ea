"""The command line: ``slt estimate`` end to end, and one-line errors with non-zero exits."""

import warnings

import pytest

import slt
from slt.cli import main
from slt.errors import NoiseTemperatureWarning
from slt.workflows.calibrate import CalibrationWarning


def test_estimate_rrr_saves_a_result_that_loads_back(tmp_path, capsys):
    out = tmp_path / "run.nc"
    argv = ["estimate", "rrr", "3", "2", "2", "1", "--n", "1000", "--chains", "2"]
    argv += ["--draws", "200", "--burnin", "50", "--batch-size", "100", "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "exact λ = 2.5" in printed and "verdict=" in printed
    res = slt.load(out)
    assert res.datatree.attrs["exact_rlct"] == 2.5
    assert res.datatree.attrs["num_draws"] == 200 and res.datatree.attrs["batch_size"] == 100


def test_estimate_passes_the_noise_burnin_step_and_rmsprop_freeze(tmp_path, capsys):
    out = tmp_path / "run.nc"
    argv = ["estimate", "rrr", "3", "2", "2", "1", "--n", "1000", "--chains", "2"]
    argv += ["--draws", "100", "--burnin", "50", "--batch-size", "100", "-o", str(out)]
    argv += ["--sampler", "rmsprop_sgld", "--step-size", "1e-5", "--adapt-steps", "50"]
    argv += ["--noise", "rademacher", "--burnin-step-size", "2e-5", "--hot-burnin", "30"]
    assert main(argv) == 0
    attrs = slt.load(out).datatree.attrs
    assert attrs["noise"] == "rademacher" and attrs["burnin_step_size"] == 2e-5
    assert attrs["num_hot_burnin"] == 30
    assert attrs["sampler_adapt_steps"] == 50
    # the defaults: iid batches and the control-variate trace; the noise correction is SGLD's
    assert (attrs["batching"], attrs["trace"], attrs["noise_correction"]) == (
        "iid",
        "control_variate",
        0,
    )


@pytest.mark.filterwarnings("ignore::slt.NoiseTemperatureWarning")  # a small model, d/2 = 5 λ
def test_estimate_takes_a_step_size_rule(tmp_path):
    out = tmp_path / "run.nc"
    argv = ["estimate", "rrr", "3", "2", "2", "1", "--n", "1000", "--chains", "2"]
    # batch 20: the noise step has eps nbeta of about 0.04 (0.22 at batch 100, beyond the
    # rule's 0.1)
    argv += ["--draws", "100", "--burnin", "50", "--batch-size", "20", "-o", str(out)]
    assert main([*argv, "--step-size", "noise"]) == 0
    assert slt.load(out).datatree.attrs["step_size_rule"] == "noise"


def test_estimate_passes_the_batching_trace_gradient_and_correction(tmp_path):
    out = tmp_path / "run.nc"
    argv = ["estimate", "rrr", "3", "2", "2", "1", "--n", "1000", "--chains", "2"]
    argv += ["--draws", "100", "--burnin", "50", "--batch-size", "100", "-o", str(out)]
    argv += ["--batching", "reshuffle", "--trace", "minibatch", "--gradient", "control_variate"]
    argv += ["--no-noise-correction"]
    assert main(argv) == 0
    res = slt.load(out)
    attrs = res.datatree.attrs
    assert (attrs["batching"], attrs["gradient"], attrs["noise_correction"]) == (
        "reshuffle",
        "control_variate",
        0,
    )
    assert res.llc == attrs["llc_uncorrected"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "dln", "--widths", "3,x", "--rank", "1"], "--widths must be"),
        (["estimate", "rrr", "3", "2", "2", "5"], "r"),
        (["estimate", "rrr", "3", "2", "2", "1", "--batch-size", "0"], "batch_size"),
        (["estimate", "rrr", "3", "2", "2", "1", "--step-size", "fast"], "'auto' or 'noise'"),
        (["report", "/nonexistent/result.nc"], "does not exist"),
        # Output paths are checked before the run, which for a suite takes minutes to hours.
        (["validate", "--json", "/nonexistent/q.json"], "--json '/nonexistent/q.json': the dir"),
        (["validate-ti", "--json", "/nonexistent/ti.json"], "'/nonexistent' does not exist"),
        (["estimate", "rrr", "3", "2", "2", "1", "-o", "."], "-o/--output '.' is a directory"),
        (["report", "run.nc", "-o", "/nonexistent/r.html"], "-o/--output"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slt: error:") and message in err and "\n" not in err


def test_warnings_print_as_one_line_without_source(tmp_path, capsys, monkeypatch):
    llc = slt.llc

    def heated(*args, **kwargs):
        warnings.warn("the chain is heated", NoiseTemperatureWarning, stacklevel=2)
        return llc(*args, **kwargs)

    monkeypatch.setattr(slt, "llc", heated)
    argv = ["estimate", "rrr", "3", "2", "2", "1", "--n", "500", "--batch-size", "100"]
    argv += ["--chains", "2", "--draws", "100", "--burnin", "20", "--step-size", "1e-4"]
    shown = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always", NoiseTemperatureWarning)
        assert main(argv) == 0
    assert warnings.showwarning is shown  # the command's format does not outlive it
    err = capsys.readouterr().err
    assert err == "slt: warning: the chain is heated (NoiseTemperatureWarning)\n"


def test_help_names_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("estimate", "validate", "validate-global", "validate-ti", "report"):
        assert command in text


def test_calibrate_prints_a_recommendation_and_reports_the_sweep(tmp_path, capsys, monkeypatch):
    calibrate, recs = slt.calibrate, []

    def falls_back(*args, **kwargs):
        # As a calibration that falls back: its first reason is also a CalibrationWarning,
        # which the command prints once, as a reason (the tests turn warnings into errors).
        recs.append(calibrate(*args, **kwargs))
        warnings.warn(recs[0].reasons[0], CalibrationWarning, stacklevel=2)
        return recs[0]

    monkeypatch.setattr(slt, "calibrate", falls_back)
    out, page = tmp_path / "cal.nc", tmp_path / "cal.html"
    argv = ["calibrate", "rrr", "3", "2", "2", "1", "--n", "1000", "--batch-size", "100"]
    argv += ["--chains", "2", "-o", str(out), "--report", str(page)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "recommended step size" in captured.out
    assert captured.out.count(recs[0].reasons[0]) == 1 and captured.err == ""
    tree = slt.load(out)
    assert int(tree["calibration"]["recommended"].sum()) == 1
    assert "data:image/png;base64," in page.read_text()
