"""slt.diagnostics.verdict: every rule fires on the tree made to trigger it, and only there."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from arviz_base import from_dict

import slt
from slt.diagnostics import verdict as v
from slt.diagnostics.verdict import THRESHOLDS, Diagnostics, diagnose


def tree(
    *,
    chains=4,
    draws=400,
    init=1.0,
    loss=None,
    diverging=None,
    acceptance=None,
    **attrs,
):
    """A DataTree shaped like slt.llc's that is 'trustworthy' unless told otherwise."""
    if loss is None:  # the chains sit above the default initial loss, as at a minimum
        loss = 1.1 + 0.01 * np.random.default_rng(0).normal(size=(chains, draws))
    stats = {
        "loss": np.asarray(loss, np.float32),
        "diverging": np.zeros(np.shape(loss), bool) if diverging is None else diverging,
    }
    if acceptance is not None:
        stats["acceptance_rate"] = np.broadcast_to(acceptance, np.shape(loss)).astype(np.float32)
    dt = from_dict({"sample_stats": stats})
    num_diverging = int(np.asarray(stats["diverging"]).any(axis=1).sum())
    dt.attrs.update(
        {
            "estimator": "llc",
            "init_loss": np.full(np.shape(loss)[0], init),
            "llc": 1.5,
            "llc_mcse": 0.03,
            "rhat": 1.002,
            "ess_bulk": 800.0,
            "ess_tail": 700.0,
            "num_diverging": num_diverging,
            "num_chains": np.shape(loss)[0],
        }
        | attrs
    )
    return dt


def first_chain_diverges(chains=4, draws=400, at=10):
    """The ``diverging`` flags of a run whose first chain diverges at draw ``at`` (sticky)."""
    flags = np.zeros((chains, draws), bool)
    flags[0, at:] = True
    return flags


def test_a_healthy_tree_is_trustworthy_and_the_numbers_are_read_back():
    d = diagnose(tree(acceptance=0.92))
    assert isinstance(d, Diagnostics)
    assert d.verdict == "trustworthy" and d.reasons == ()
    assert (d.rhat, d.ess_bulk, d.ess_tail, d.mcse) == (1.002, 800.0, 700.0, 0.03)
    assert d.relative_mcse == pytest.approx(0.02)
    assert (d.num_diverging, d.num_chains, d.frac_below_init) == (0, 4, 0.0)
    assert d.acceptance_rate == pytest.approx(0.92)


def test_acceptance_is_nan_when_not_recorded():
    assert np.isnan(diagnose(tree()).acceptance_rate)


@pytest.mark.parametrize(
    ("kwargs", "verdict", "reason"),
    [
        (
            {"diverging": first_chain_diverges()},
            "step too large",
            "1 of 4 chains diverged (> 0 allowed)",
        ),
        ({"acceptance": 0.31}, "step too large", "MALA acceptance 0.31 < 0.5 (target about 0.9)"),
        ({"init": 1.2}, "not at a minimum", "fraction of the loss trace below the initial loss 1"),
        ({"llc": -1.5}, "not at a minimum", "LLC -1.5 < 0: w* is not a local minimum"),
        ({"rhat": 1.034}, "needs more draws", "R-hat 1.034 > 1.01"),
        ({"rhat": 1.0101}, "needs more draws", "R-hat 1.0101 > 1.01"),
        ({"ess_bulk": 46.2}, "needs more draws", "bulk ESS 46 < 100"),
        ({"llc_mcse": 0.15}, "needs more draws", "relative MCSE 0.1 > 0.05"),
        ({"rhat": float("nan")}, "needs more draws", "R-hat is nan (not computable"),
        ({"llc": 0.0}, "needs more draws", "relative MCSE inf > 0.05"),
    ],
)
def test_each_rule_fires_alone_with_its_value_and_threshold(kwargs, verdict, reason):
    d = diagnose(tree(**kwargs))
    assert d.verdict == verdict
    assert len(d.reasons) == 1, d.reasons
    assert d.reasons[0].startswith(reason), d.reasons


@pytest.mark.parametrize(("fallback", "verdict"), [(1, "needs more draws"), (0, "trustworthy")])
def test_a_fallback_calibration_cannot_certify_the_step(fallback, verdict):
    import xarray as xr

    dt = tree()
    dt["calibration"] = xr.DataTree(xr.Dataset(attrs={"fallback": fallback}))
    d = diagnose(dt)
    assert d.verdict == verdict
    if fallback:
        assert d.reasons == (
            "step_size='auto' found no plateau and fell back: the step is not validated "
            "(raise num_draws and num_burnin, which also lengthens the calibration)",
        )


def test_not_at_a_minimum_names_both_explanations():
    (reason,) = diagnose(tree(init=1.2)).reasons
    assert "not a local minimum" in reason and "step size is too large" in reason


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rhat": 1.01},
        {"ess_bulk": 100.0},
        {"llc": 2.0, "llc_mcse": 0.1},  # relative MCSE exactly 0.05
        {"acceptance": 0.5},
    ],
)
def test_the_thresholds_themselves_pass(kwargs):
    d = diagnose(tree(**kwargs))
    assert d.verdict == "trustworthy", d.reasons


def test_frac_below_init_is_strict_and_exactly_at_the_threshold_passes():
    loss = np.full((4, 10), 1.1)
    loss[:, :2] = 0.9  # 2 of 10 below: 0.2, not above it
    assert diagnose(tree(loss=loss)).frac_below_init == pytest.approx(0.2)
    assert diagnose(tree(loss=loss)).verdict == "trustworthy"
    loss[:, 2] = 1.0  # equal to init_loss: not strictly below
    assert diagnose(tree(loss=loss)).verdict == "trustworthy"
    loss[:, 2] = 0.99
    assert diagnose(tree(loss=loss)).verdict == "not at a minimum"


def test_frac_below_init_is_per_chain_init_loss():
    loss = np.full((2, 10), 1.0)
    dt = tree(loss=loss, init=1.0)
    dt.attrs["init_loss"] = np.array([0.5, 1.5])  # chain 1 lies entirely below its own w* loss
    assert diagnose(dt).frac_below_init == pytest.approx(0.5)


def test_frac_below_init_averages_epoch_blocks_so_minibatch_noise_does_not_fire_it():
    # Draws alternate 0.05 below and 0.1 above the initial loss: minibatch noise around a mean
    # that is above it. Half the raw draws are below; no epoch (block of 2) mean is.
    loss = np.tile([0.95, 1.1], (4, 50))
    assert diagnose(tree(loss=loss)).frac_below_init == 0.5
    d = diagnose(tree(loss=loss, diagnostic_block=2))
    assert d.frac_below_init == 0.0 and d.verdict == "trustworthy"


def test_diverged_chains_are_left_out_of_frac_below_init_and_acceptance():
    loss = np.full((4, 20), 1.1)
    loss[0] = -50.0  # the diverged chain ran off below
    diverging = np.zeros((4, 20), bool)
    diverging[0, 5:] = True
    acceptance = np.array([[0.0], [0.9], [0.9], [0.9]])
    d = diagnose(tree(loss=loss, diverging=diverging, acceptance=acceptance))
    assert d.frac_below_init == 0.0 and d.acceptance_rate == pytest.approx(0.9)
    assert d.verdict == "step too large" and d.num_diverging == 1


def test_counts_fall_back_to_the_trace_when_the_attrs_are_missing():
    diverging = np.zeros((3, 20), bool)
    diverging[1, 3:] = True
    dt = tree(chains=3, draws=20, diverging=diverging)
    del dt.attrs["num_diverging"], dt.attrs["num_chains"]
    d = diagnose(dt)
    assert (d.num_diverging, d.num_chains) == (1, 3)


def test_every_rule_fires_at_once_in_priority_order():
    d = diagnose(
        tree(
            init=1.2,
            acceptance=0.2,
            llc=-0.5,  # relative MCSE 0.06
            rhat=1.2,
            ess_bulk=10.0,
            diverging=first_chain_diverges(),
        )
    )
    assert d.verdict == "step too large"
    kinds = [r.split(" ")[0] for r in d.reasons]
    assert kinds == ["1", "MALA", "fraction", "LLC", "R-hat", "bulk", "relative"], d.reasons


def test_not_at_a_minimum_outranks_needs_more_draws():
    d = diagnose(tree(llc=-1.5, rhat=1.5))
    assert d.verdict == "not at a minimum" and len(d.reasons) == 2


def test_thresholds_are_exposed_read_only():
    assert THRESHOLDS == {
        "num_diverging": 0,
        "acceptance_rate": 0.5,
        "noise_temperature": 0.03,
        "noise_bias": 0.05,
        "frac_below_init": 0.2,
        "llc": 0.0,
        "rhat": 1.01,
        "ess_bulk": 100,
        "relative_mcse": 0.05,
    }
    assert THRESHOLDS["rhat"] == v.MAX_RHAT and THRESHOLDS["ess_bulk"] == v.MIN_ESS_BULK
    with pytest.raises(TypeError):
        THRESHOLDS["rhat"] = 2.0  # type: ignore[index]
    assert v.VERDICTS == ("step too large", "not at a minimum", "needs more draws", "trustworthy")


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="datatree_or_result must be an xarray.DataTree"):
        diagnose(np.zeros(3))
    with pytest.raises(ValueError, match="no sample_stats/loss"):
        diagnose(xr.DataTree())
    dt = tree()
    del dt.attrs["llc_mcse"], dt.attrs["rhat"]
    with pytest.raises(ValueError, match=r"lacks the root attrs \['llc_mcse', 'rhat'\]"):
        diagnose(dt)
    dt = tree()
    dt.attrs["init_loss"] = np.ones(3)
    with pytest.raises(ValueError, match=r"init_loss must hold one value per chain \(4\)"):
        diagnose(dt)
    bad = from_dict({"sample_stats": {"loss": np.ones((2, 5, 3))}})
    bad.attrs.update(tree().attrs)
    with pytest.raises(ValueError, match="must have dims"):
        diagnose(bad)


def result_of(dt):
    a = dt.attrs
    return slt.LLCResult(
        llc=a["llc"],
        mcse=a["llc_mcse"],
        llc_per_chain=np.full(4, a["llc"]),
        init_loss=a["init_loss"],
        rhat=a["rhat"],
        ess_bulk=a["ess_bulk"],
        ess_tail=a["ess_tail"],
        num_diverging=a["num_diverging"],
        datatree=dt,
    )


def test_llc_result_has_diagnostics_verdict_and_a_repr_that_says_it():
    res = result_of(tree(rhat=1.034))
    assert res.diagnostics == diagnose(res.datatree) == diagnose(res)
    assert res.verdict == "needs more draws"
    assert repr(res).endswith("verdict='needs more draws')")
    assert "llc=1.5" in repr(res) and "chains=4/4 kept" in repr(res)
    assert "verdict='trustworthy'" in repr(result_of(tree()))


def squared_error(w, batch):
    return 0.5 * jnp.mean((batch["y"] - batch["x"] @ w) ** 2)


def regression():
    """The linear regression of the slt.llc docstring (a regular model: lambda = d/2 = 1.5)."""
    x = np.random.default_rng(0).normal(size=(1000, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + np.random.default_rng(1).normal(size=1000)
    w_star = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0])
    return squared_error, w_star, {"x": x, "y": y}


RUN = dict(step_size=4e-4, batch_size=100, num_chains=4, num_draws=6000, num_burnin=100)


def test_a_real_run_at_the_minimum_is_trustworthy_and_records_it():
    loss, w_star, data = regression()
    res = slt.llc(loss, w_star, data, **RUN)
    d = res.diagnostics
    assert d.verdict == "trustworthy", d
    assert res.verdict == res.datatree.attrs["verdict"] == "trustworthy"
    assert res.datatree.attrs["frac_below_init"] == d.frac_below_init < 0.05
    assert 1.0 < res.llc < 2.0


def test_a_real_run_away_from_the_minimum_is_not_at_a_minimum():
    loss, w_star, data = regression()  # same loss and settings: the program is reused
    res = slt.llc(loss, w_star + 0.3, data, **RUN)
    assert res.verdict == res.datatree.attrs["verdict"] == "not at a minimum"
    assert res.llc < 0 and res.datatree.attrs["frac_below_init"] > 0.9


def test_a_run_where_every_chain_diverged_gets_a_verdict_without_warnings():
    # Pytest turns warnings into errors: no "mean of empty slice" from the empty kept set.
    dt = tree(
        diverging=np.ones((4, 400), bool),
        acceptance=np.nan,
        llc=float("nan"),
        llc_mcse=float("nan"),
        rhat=float("nan"),
    )
    d = diagnose(dt)
    assert np.isnan(d.frac_below_init) and np.isnan(d.acceptance_rate)
    assert d.verdict == "step too large" and d.reasons[0] == "4 of 4 chains diverged (> 0 allowed)"
    assert "R-hat is nan" in d.reasons[1] and "relative MCSE is nan" in d.reasons[2]


def test_a_hot_chain_is_step_too_large_and_names_tau():
    d = diagnose(tree(noise_temperature=0.08))
    assert d.verdict == "step too large" and d.noise_temperature == 0.08
    assert d.reasons[0].startswith("noise temperature tau 0.08 > 0.03")
    assert "batch_size" in d.reasons[0]
    # At the threshold itself, and when not recorded, the rule does not fire.
    assert diagnose(tree(noise_temperature=0.03)).verdict == "trustworthy"
    assert np.isnan(diagnose(tree()).noise_temperature)


def test_a_cool_chain_whose_predicted_bias_is_large_is_step_too_large():
    # tau = 0.01 is under its bound, but (d/2) tau = 0.15 is 10% of the LLC of 1.5.
    d = diagnose(tree(noise_temperature=0.01, noise_bias=0.15))
    assert d.verdict == "step too large"
    assert d.reasons[0].startswith(
        "the noise bias (d/2) tau = 0.15 is 10.0% of the uncorrected LLC (> 5%)"
    )
    assert "batch_size" in d.reasons[0]
    assert diagnose(tree(noise_temperature=0.01, noise_bias=0.075)).verdict == "trustworthy"


def test_a_corrected_estimate_is_allowed_a_larger_noise_bias():
    # With the bias subtracted (noise_correction) the bound is 15% of the uncorrected reading:
    # 0.15 of 1.65 (9%) passes, 0.3 of 1.8 (17%) does not.
    ok = tree(noise_temperature=0.01, noise_bias=0.15, llc_uncorrected=1.65, noise_correction=1)
    assert diagnose(ok).verdict == "trustworthy"
    hot = tree(noise_temperature=0.01, noise_bias=0.3, llc_uncorrected=1.8, noise_correction=1)
    d = diagnose(hot)
    assert d.verdict == "step too large"
    assert "16.7% of the uncorrected LLC (> 15%, after subtracting it)" in d.reasons[0]


def test_a_corrected_estimate_is_allowed_a_hotter_chain():
    # With the bias subtracted, tau-hat is bounded by 0.1 instead of 0.03; the bias bound
    # (15% of the uncorrected reading) still applies: 0.08 with a 5% bias passes, 0.12 does not.
    ok = tree(noise_temperature=0.08, noise_bias=0.08, llc_uncorrected=1.6, noise_correction=1)
    assert diagnose(ok).verdict == "trustworthy"
    hot = tree(noise_temperature=0.12, noise_bias=0.08, llc_uncorrected=1.6, noise_correction=1)
    d = diagnose(hot)
    assert d.verdict == "step too large"
    assert d.reasons[0].startswith("noise temperature tau 0.12 > 0.1")
    # Uncorrected, the same chain at 0.08 is too hot.
    assert diagnose(tree(noise_temperature=0.08, noise_bias=0.08)).verdict == "step too large"
