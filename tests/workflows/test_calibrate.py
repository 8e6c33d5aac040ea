"""slt.workflows.calibrate: the checks, the selection rule, the DataTree, bad input."""

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import slt
from slt.workflows.calibrate import (
    CalibrationError,
    CalibrationWarning,
    SettingScore,
    Thresholds,
    _choose,
    calibrate,
    default_step_sizes,
    score_setting,
)

# One run shape for every test, so the compiled program is shared.
SHORT = dict(batch_size=250, num_chains=4, num_draws=1000, num_burnin=200)
GRID = [1.5e-4, 3.2e-4, 6.9e-4, 1.5e-3]  # around the plateau of the problem below


def loss(params, batch):
    """Gaussian NLL up to a constant: y = x·w + N(0, 1)."""
    return 0.5 * jnp.mean((batch["y"] - batch["x"] @ params["w"]) ** 2)


def regression(n=1000, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ np.arange(1.0, d + 1) + rng.normal(size=n)).astype(np.float32)
    w = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0], dtype=jnp.float32)
    return loss, {"w": w}, {"x": x, "y": y}


def test_recommendation_gives_an_accurate_llc_on_a_regular_model():
    # Linear regression at the least-squares minimum: lambda = d/2.
    fn, params, data = regression(d=3)
    rec = calibrate(fn, params, data, **SHORT)
    assert rec.step_size in rec.datatree["calibration"]["step_size"].values
    assert rec.gamma == 1.0 and rec.nbeta == pytest.approx(1000 / math.log(1000))
    assert rec.reasons[0].startswith("chose step_size=")
    res = slt.llc(fn, params, data, **rec.llc_kwargs, num_chains=4, num_draws=4000)
    assert abs(res.llc - 1.5) < max(0.15, 3 * res.mcse), res


def test_too_large_steps_are_rejected_and_explained():
    fn, params, data = regression()
    steps = [1e-4, 3e-4, 1e-3, 1.0]  # nbeta = 145: eps * nbeta = 145 at 1.0 explodes
    rec = calibrate(fn, params, data, step_sizes=steps, exhaustive=True, **SHORT)
    cal = rec.datatree["calibration"].isel(gamma=0)
    big = cal.sel(step_size=1.0)
    assert not bool(big["accepted"]) and bool(big["ran"])
    assert bool(big["diverged"]) or float(big["acceptance_rate"]) < 0.9
    assert float(big["score"]) < 1
    assert rec.step_size < 1.0
    line = next(r for r in rec.reasons if r.startswith("step_size=1,"))
    assert "rejected" in line and ("diverged" in line or "acceptance" in line)


def test_no_acceptable_setting_raises_naming_the_check():
    fn, params, data = regression()
    with pytest.raises(CalibrationError, match="divergence check failed most"):
        calibrate(fn, params, data, step_sizes=[1.0, 3.0], **SHORT)


def test_fallback_warns_when_no_pair_agrees():
    fn, params, data = regression()
    never = Thresholds(agree_rel=0.0)  # estimates at two step sizes never agree exactly
    with pytest.warns(CalibrationWarning, match="FALLBACK"):
        rec = calibrate(
            fn, params, data, step_sizes=[3e-4, 1e-3], thresholds=never, exhaustive=True, **SHORT
        )
    assert rec.step_size == 1e-3  # the accepted step that differs least from its half step
    assert rec.datatree["calibration"].attrs["fallback"] == 1


def test_datatree_dims_and_attrs():
    fn, params, data = regression()
    rec = calibrate(fn, params, data, step_sizes=GRID, gammas=(1.0, 10.0), **SHORT)
    cal = rec.datatree["calibration"].to_dataset()
    for name in [
        "llc",
        "llc_mcse",
        "rhat",
        "acceptance_rate",
        "frac_below_init",
        "drift_z",
        "diverged",
        "accepted",
        "score",
        "llc_jump",
        "recommended",
        "ran",
    ]:
        assert cal[name].dims == ("step_size", "gamma"), name
        assert cal[name].shape == (len(GRID), 2), name
    assert int(cal["recommended"].sum()) == 1
    i, g = np.argwhere(cal["recommended"].values)[0]
    assert cal["step_size"].values[i] == rec.step_size and cal["gamma"].values[g] == rec.gamma
    assert cal.attrs["step_size"] == rec.step_size and cal.attrs["nbeta"] == rec.nbeta
    assert list(cal.attrs["reasons"]) == list(rec.reasons)
    assert rec.datatree.attrs["n"] == 1000 and rec.datatree.attrs["estimator"] == "calibrate"
    # Settings the search did not reach are NaN, not zeros.
    skipped = ~cal["ran"].values
    assert np.all(np.isnan(cal["llc"].values[skipped]))
    assert rec.gamma == 1.0  # the smallest gamma with a recommendation wins


def test_nbetas_add_a_dim():
    fn, params, data = regression()
    rec = calibrate(fn, params, data, step_sizes=GRID, nbetas=[100.0, 145.0], **SHORT)
    cal = rec.datatree["calibration"]
    assert cal["llc"].dims == ("step_size", "gamma", "nbeta")
    assert cal["llc"].shape == (len(GRID), 1, 2)
    assert rec.nbeta in (100.0, 145.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(step_sizes=[]), "step_sizes must be a non-empty"),
        (dict(step_sizes=[1e-3, -1e-3]), "step_sizes must be a finite number > 0"),
        (dict(step_sizes=[1e-3, 1e-3]), "step_sizes must not repeat"),
        (dict(step_sizes=1e-3), "step_sizes must be a non-empty sequence"),
        (dict(gammas=(-1.0,)), "gammas must be a finite number >= 0"),
        (dict(nbetas=[10.0], nbeta=5.0), "give nbetas or one of nbeta/beta"),
        (dict(nbetas=[0.0]), "nbetas must be a finite number > 0"),
        (dict(num_chains=1), "num_chains must be an integer >= 2"),
        (dict(num_draws=50), "num_draws must be an integer >= 100"),
        (dict(sampler="hmc"), "sampler must be one of"),
        (dict(thresholds={"max_rhat": 1.1}), "thresholds must be a Thresholds"),
        (dict(nbeta=1.0, beta=0.1), "give nbeta or beta, not both"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    fn, params, data = regression(n=200)
    with pytest.raises(ValueError, match=match):
        calibrate(fn, params, data, **kwargs)


def test_default_grid_spans_the_range_for_every_nbeta():
    grid = default_step_sizes([100.0, 1000.0])
    assert grid[0] == pytest.approx(1e-7) and grid[-1] == pytest.approx(1e-2)
    np.testing.assert_allclose(np.diff(np.log10(grid)), 1 / 3)


def test_score_flags_divergence_low_acceptance_and_a_point_that_is_not_a_minimum():
    rng = np.random.default_rng(0)
    trace = 1.0 + 0.01 * rng.normal(size=(4, 400))
    ok = np.zeros((4, 400), bool)
    diverging = ok.copy()
    diverging[1, 200:] = True
    s = score_setting(trace, 0.99, diverging, 100.0, block=10)
    assert [c for c, _ in s.failures] == ["divergence"] and s.num_diverged == 1
    assert np.isfinite(s.llc)  # from the three chains kept
    s = score_setting(trace, 0.99, ok, 100.0, block=10, acceptance=np.full((4, 400), 0.7))
    assert [c for c, _ in s.failures] == ["acceptance"] and s.score == pytest.approx(0.8)
    s = score_setting(trace, 0.99, ok, 100.0, block=10, noise_temperature=0.2)
    assert [c for c, _ in s.failures] == ["noise"] and s.noise_temperature == 0.2
    assert "noise temperature 0.2 > 0.03" in s.failures[0][1]
    s = score_setting(trace, 1.01, ok, 100.0, block=10)  # the loss sits below L(w*)
    assert [c for c, _ in s.failures] == ["below_init"] and s.llc < 0
    with pytest.raises(ValueError, match="block must be an integer"):
        score_setting(trace, 0.99, ok, 100.0, block=100)


def _score(llc, mcse=0.1, accepted=True):
    failures = () if accepted else (("rhat", "R-hat 1.3 > 1.1"),)
    return SettingScore(
        llc=llc,
        llc_mcse=mcse,
        rhat=1.0,
        ess_bulk=100.0,
        acceptance_rate=0.99,
        noise_temperature=0.01,
        frac_below_init=0.2,
        drift_z=0.0,
        drift_rel=0.0,
        num_diverged=0,
        failures=failures,
        checks_run=5,
    )


def test_rule_takes_the_smaller_step_of_the_top_pair_of_the_first_plateau():
    steps = 2.0 ** np.arange(7)  # neighbours a factor 2 apart
    th = Thresholds()
    # Under-mixed (rejected) at the bottom, flat, then biased upward, and the bias levels off
    # at the top (8.0 and 8.1 agree): the plateau counted from below wins.
    scores = [
        _score(3.0, accepted=False),
        _score(4.9),
        _score(5.0),
        _score(5.1),
        _score(6.0),
        _score(8.0),
        _score(8.1),
    ]
    assert _choose(steps, scores, th) == (2, 3)
    # Nothing agrees: the flattest accepted step (least change from its half step), as a
    # fallback; here 6.0 against 4.0.
    scores = [_score(v) for v in [1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0]]
    assert _choose(steps, scores, th) == (3, None)
    # Nothing accepted: no choice.
    assert _choose(steps, [_score(5.0, accepted=False)] * 7, th) is None


@pytest.mark.validation
def test_auto_step_size_meets_the_suite_tolerance_on_reduced_rank_regression():
    # About a minute on 2 cores: bench/calibrate_rrr.py runs the whole suite this way.
    from slt.models import rrr
    from slt.validation.suites import BETA0, N_SAMPLES, RUN_LENGTH

    problem = rrr.make(3, 3, 6, 1, n=N_SAMPLES, seed=0, w_star="teacher")
    beta = BETA0 / math.log(N_SAMPLES)
    rec = calibrate(problem.loss_fn, problem.params, problem.data, beta=beta)
    res = slt.llc(
        problem.loss_fn, problem.params, problem.data, **rec.llc_kwargs, **RUN_LENGTH["rrr"]
    )
    assert abs(res.llc - problem.exact.rlct) <= 0.10 * problem.exact.rlct, (rec.reasons[0], res)


def test_llc_with_step_size_auto_calibrates_and_keeps_the_sweep():
    fn, w, data = regression(d=3)
    with warnings.catch_warnings():  # short runs on a flat problem may show no agreeing pair
        warnings.simplefilter("ignore", CalibrationWarning)
        res = slt.llc(fn, w, data, step_size="auto", batch_size=100, num_chains=4, num_draws=16000)
    # lambda = d/2 = 1.5; 0.2 is about four MCSEs of this run (MCSE ~ 0.05).
    assert abs(res.llc - 1.5) < 0.2
    calib = res.datatree["calibration"]
    assert int(calib["recommended"].sum()) == 1
    assert res.datatree.attrs["step_size"] in calib["step_size"].values
    assert res.datatree.attrs["calibration_reasons"]
    # n = 1000, b = 100: the noise step (eps nbeta about 0.08) climbs in about 150 steps, and
    # the calibration's short runs are about 1000, so "auto" calibrates.
    assert res.datatree.attrs["step_size_auto_method"] == "calibrate"
    # The calibration stays within 20% of the run's own gradient evaluations.
    budget = 0.2 * 4 * (500 + 16000)
    assert calib.attrs["budget"] == int(budget)
    assert calib.attrs["cost_gradients"] <= budget
    with pytest.raises(ValueError, match="step_size must be a positive number, 'auto' or 'noise'"):
        slt.llc(fn, w, data, step_size="fast")


def test_llc_auto_with_control_variate_makes_one_full_data_pass(monkeypatch):
    # The calibration's short runs and the run share the anchor that slt.llc computes once.
    import slt.workflows.calibrate as calibrate_module
    import slt.workflows.llc as llc_module
    from slt.gradient import full_loss_and_grad

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return full_loss_and_grad(*args, **kwargs)

    monkeypatch.setattr(llc_module, "full_loss_and_grad", counting)
    monkeypatch.setattr(calibrate_module, "full_loss_and_grad", counting)
    fn, w, data = regression(d=3)
    with warnings.catch_warnings():  # short runs on a flat problem may show no agreeing pair
        warnings.simplefilter("ignore", CalibrationWarning)
        res = slt.llc(
            fn,
            w,
            data,
            gradient="control_variate",
            step_size="auto",
            batch_size=100,
            num_chains=4,
            num_draws=16000,
            progress=False,
        )
    assert res.datatree.attrs["gradient"] == "control_variate"
    assert len(calls) == 1


def test_descent_starts_at_the_largest_step_predicted_cool_enough():
    from slt.workflows.calibrate import _descent_start

    steps = np.array([1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3])
    th = Thresholds()  # max_noise_temperature 0.03: the start needs half of it
    # tau 0.05 measured at 8e-4 predicts 0.0125 at 2e-4 (tau grows like the step).
    assert _descent_start(steps, 3, 0.05, th) == 1
    assert _descent_start(steps, 3, 0.01, th) == 3  # the hot step itself is cool enough
    assert _descent_start(steps, 3, 10.0, th) == 0  # nothing is: the smallest step
    assert _descent_start(steps, 3, float("nan"), th) == 3  # no tau (SGNHT): start there


def test_the_descending_pair_is_the_first_agreeing_one_from_the_top():
    from slt.workflows.calibrate import _agreeing_pair_from_top, _choose_descending

    steps = np.array([1e-4, 2e-4, 4e-4, 8e-4])
    scores = [None, _score(1.0), _score(1.02), _score(1.5)]
    assert _agreeing_pair_from_top(steps, scores, Thresholds()) == (1, 2)
    assert _choose_descending(steps, scores, Thresholds()) == (1, 2)
    scores = [None, None, _score(1.0), _score(1.5)]  # no pair agrees: the smallest accepted
    assert _choose_descending(steps, scores, Thresholds()) == (2, None)


def test_descend_runs_few_settings_from_the_top_and_records_its_cost():
    fn, params, data = regression()
    rec = calibrate(fn, params, data, **SHORT)
    cal = rec.datatree["calibration"]
    assert cal.attrs["search"] == "descend" and cal.attrs["mala_every"] == 16
    ran = int(cal["ran"].sum())
    assert 2 <= ran <= 5
    # Every run costs num_chains x (burn-in + draws) steps, plus one gradient for each of the
    # steps (one in 16) that record the MALA acceptance.
    steps = ran * 4 * (200 + 1000)
    assert cal.attrs["cost_steps"] == steps
    assert cal.attrs["cost_gradients"] == steps + ran * (4 * 1200 // 16)
    # The acceptance is recorded on one step in 16 and averaged over those only.
    accepted = cal["acceptance_rate"].values[cal["ran"].values]
    assert np.all((accepted > 0.5) & (accepted <= 1.0))
    res = slt.llc(fn, params, data, **rec.llc_kwargs, num_chains=4, num_draws=4000)
    assert abs(res.llc - 1.5) < max(0.15, 3 * res.mcse), res


def test_an_unknown_search_is_rejected():
    fn, params, data = regression(n=200)
    with pytest.raises(ValueError, match="search must be 'descend' or 'ascend'"):
        calibrate(fn, params, data, search="bisect")


def test_the_budget_stops_the_search_before_a_run_it_cannot_afford():
    fn, params, data = regression()
    per_run = 4 * (200 + 1000) + 4 * 1200 // 16
    with warnings.catch_warnings():  # two runs may not show an agreeing pair
        warnings.simplefilter("ignore", CalibrationWarning)
        rec = calibrate(fn, params, data, budget=2 * per_run + 1, **SHORT)
    cal = rec.datatree["calibration"]
    assert int(cal["ran"].sum()) <= 2 and cal.attrs["cost_gradients"] <= 2 * per_run + 1
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        calibrate(fn, params, data, budget=0, **SHORT)
