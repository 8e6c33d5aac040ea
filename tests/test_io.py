"""slt.io: results go to netCDF and come back identical; a failed write changes nothing."""

import os
import stat

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from arviz_base import from_dict

import slt
from slt import io


def squared_error(params, batch):
    return 0.5 * jnp.mean((batch["y"] - batch["x"] @ params["w"]) ** 2)


@pytest.fixture(scope="module")
def result():
    """A tiny real run with every group: warm-up, posterior draws, MALA acceptance."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=200)).astype(np.float32)
    w = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0])
    return slt.llc(
        squared_error,
        {"w": w},
        {"x": x, "y": y},
        step_size=4e-4,
        batch_size=50,
        num_chains=2,
        num_draws=40,
        num_burnin=8,
        params_every=10,
        mala_diagnostic=True,
        sampler="rmsprop_sgld",
        sampler_options={"eps": 1e-4},
    )


def synthetic(chains=1, **attrs):
    """An LLC-shaped DataTree without running anything."""
    loss = 1.1 + 0.01 * np.random.default_rng(0).normal(size=(chains, 30))
    dt = from_dict({"sample_stats": {"loss": loss, "diverging": np.zeros((chains, 30), bool)}})
    dt.attrs.update(
        {
            "inference_library": "slt",
            "estimator": "llc",
            "init_loss": np.full(chains, 1.0),
            "llc": 1.5,
            "llc_mcse": 0.03,
            "llc_per_chain": np.full(chains, 1.5),
            "rhat": 1.0,
            "ess_bulk": 500.0,
            "ess_tail": 400.0,
            "num_diverging": 0,
            "num_chains": chains,
        }
        | attrs
    )
    return dt


def test_a_real_result_comes_back_identical(result, tmp_path):
    path = tmp_path / "run.nc"
    assert result.save(path) == path
    loaded = slt.load(path)
    assert isinstance(loaded, slt.LLCResult)
    xr.testing.assert_identical(loaded.datatree, result.datatree)
    assert set(loaded.datatree.children) == {"sample_stats", "warmup_sample_stats", "posterior"}
    for name in ["llc", "mcse", "rhat", "ess_bulk", "ess_tail", "num_diverging"]:
        assert getattr(loaded, name) == getattr(result, name), name
    np.testing.assert_array_equal(loaded.llc_per_chain, result.llc_per_chain)
    np.testing.assert_array_equal(loaded.init_loss, result.init_loss)
    attrs = loaded.datatree.attrs
    assert isinstance(attrs["init_loss"], np.ndarray) and attrs["init_loss"].shape == (2,)
    assert attrs["sampler_eps"] == 1e-4 and attrs["prior_scale"] == "none"
    assert loaded.diagnostics == result.diagnostics and attrs["verdict"] == result.verdict
    assert repr(loaded) == repr(result)


def test_the_file_is_plain_netcdf_that_xarray_reads(result, tmp_path):
    path = io.save(result, tmp_path / "run.nc")
    with xr.open_datatree(path) as dt:
        assert dt.attrs["estimator"] == "llc"
        np.testing.assert_array_equal(
            dt["sample_stats"]["loss"].values, result.datatree["sample_stats"]["loss"].values
        )


def test_one_element_attributes_and_the_root_name_survive(tmp_path):
    # netCDF keeps a one-element array as a scalar and has no root name: both are restored.
    dt = synthetic(chains=1, observed_sites=["y"])
    dt.name = "one chain"
    dt["sample_stats"]["loss"].attrs["units"] = ["nats"]
    path = io.save(dt, tmp_path / "one.nc")
    loaded = slt.load(path)
    xr.testing.assert_identical(loaded.datatree, dt)
    assert loaded.init_loss.shape == (1,) and loaded.llc_per_chain.shape == (1,)
    assert loaded.datatree.attrs["observed_sites"] == ["y"]
    assert {io.LENGTH1_ATTR, io.NAME_ATTR}.isdisjoint(loaded.datatree.attrs)


def test_save_does_not_change_the_tree_it_saves(tmp_path):
    dt = synthetic(chains=1)
    dt["sample_stats"]["loss"].attrs["units"] = ["nats"]
    before = dt.copy(deep=True)
    io.save(dt, tmp_path / "x.nc")
    xr.testing.assert_identical(dt, before)
    assert io.LENGTH1_ATTR not in dt["sample_stats"]["loss"].attrs


def test_a_tree_of_another_estimator_comes_back_as_a_datatree(tmp_path):
    dt = xr.DataTree.from_dict(
        {
            "/": xr.Dataset({"beta": ("temperature", [0.1, 0.2])}, attrs={"estimator": "wbic"}),
            "/t0/posterior": xr.Dataset({"w": (("chain", "draw"), np.ones((1, 4)))}),
        }
    )
    dt["t0"].attrs["inference_library"] = "slt"
    loaded = slt.load(io.save(dt, tmp_path / "wbic.nc"))
    assert isinstance(loaded, xr.DataTree)
    xr.testing.assert_identical(loaded, dt)


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "run.nc"
    io.save(synthetic(llc=1.0), path)
    io.save(synthetic(llc=2.0), path)
    assert slt.load(path).llc == 2.0
    assert os.listdir(tmp_path) == ["run.nc"]


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_the_previous_file_and_no_temporary(
    tmp_path, monkeypatch, interruption
):
    path = tmp_path / "run.nc"
    io.save(synthetic(llc=1.0), path)
    before = path.read_bytes()
    written = []

    def write_half_then_fail(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:  # half a file where the writer was told to write
            f.write(before[: len(before) // 2])
        written.append(filepath)
        raise interruption

    monkeypatch.setattr(xr.DataTree, "to_netcdf", write_half_then_fail)
    with pytest.raises(type(interruption)):
        io.save(synthetic(llc=2.0), path)
    assert written and os.path.dirname(written[0]) == str(tmp_path)  # a sibling, not the target
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.nc"]
    monkeypatch.undo()
    assert slt.load(path).llc == 1.0


def test_an_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(self, filepath, *args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", fail)
    with pytest.raises(OSError, match="no space"):
        io.save(synthetic(), tmp_path / "run.nc")
    assert os.listdir(tmp_path) == []


def test_the_temporary_is_flushed_to_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        fsync(fd)

    def recording_replace(src, dst):
        events.append(("replace", os.path.basename(src)))
        replace(src, dst)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name file descriptors")
    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    io.save(synthetic(), tmp_path / "run.nc")
    tmp_name = events[0][1]
    assert tmp_name.startswith(".run.nc.") and tmp_name.endswith(".tmp")
    assert events[:2] == [("fsync", tmp_name), ("replace", tmp_name)]
    assert events[2] == ("fsync", tmp_path.name)  # the directory entry too


def test_the_file_has_the_permissions_of_an_ordinary_file(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = io.save(synthetic(), tmp_path / "run.nc")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def test_bad_paths_and_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no slt result at .*missing.nc.*does not exist"):
        slt.load(tmp_path / "missing.nc")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        slt.load(tmp_path)
    text = tmp_path / "notes.nc"
    text.write_text("not a netCDF file")
    with pytest.raises(ValueError, match="notes.nc' is not an slt result: it cannot be read"):
        slt.load(text)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(foreign, engine=io.ENGINE)
    with pytest.raises(ValueError, match="foreign.nc' is not an slt result: no group"):
        slt.load(foreign)
    broken = synthetic()
    del broken.attrs["llc_mcse"]
    io.save(broken, tmp_path / "broken.nc")
    with pytest.raises(ValueError, match=r"says estimator='llc' but lacks .*\['llc_mcse'\]"):
        slt.load(tmp_path / "broken.nc")

    with pytest.raises(FileNotFoundError, match="the directory .*nowhere.* does not exist"):
        io.save(synthetic(), tmp_path / "nowhere" / "run.nc")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        io.save(synthetic(), tmp_path)
    with pytest.raises(TypeError, match="datatree_or_result must be an xarray.DataTree"):
        io.save({"llc": 1.5}, tmp_path / "dict.nc")
    reserved = synthetic(**{io.LENGTH1_ATTR: "{}"})
    with pytest.raises(ValueError, match="reserved"):
        io.save(reserved, tmp_path / "reserved.nc")
    assert sorted(os.listdir(tmp_path)) == ["broken.nc", "foreign.nc", "notes.nc"]


def test_every_other_file_is_written_atomically_as_an_ordinary_file(tmp_path, monkeypatch):
    # Reports, validation tables, figures and checkpoints go through io.write_atomic; they were
    # written by tempfile.mkstemp before, which left them readable by their owner alone.
    from slt.report import write_report
    from slt.train import Checkpoint, load_checkpoints, save_checkpoints

    umask = os.umask(0o022)
    os.umask(umask)
    io.write_atomic(tmp_path / "table.md", "| λ |\n")
    io.write_atomic(tmp_path / "figure.png", b"\x89PNG")
    write_report(synthetic(), tmp_path / "run.html")
    save_checkpoints(tmp_path / "ckpt.pkl", [Checkpoint(3, {"w": np.ones(2)}, 0.5, None)])
    for name in ("table.md", "figure.png", "run.html", "ckpt.pkl"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask, name
    assert (tmp_path / "table.md").read_text(encoding="utf-8") == "| λ |\n"
    assert (tmp_path / "figure.png").read_bytes() == b"\x89PNG"
    assert load_checkpoints(tmp_path / "ckpt.pkl")[0].step == 3

    def fail(self, data, *args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(type(tmp_path), "write_text", fail)
    with pytest.raises(OSError, match="no space"):
        io.write_atomic(tmp_path / "table.md", "| replaced |\n")
    assert (tmp_path / "table.md").read_text(encoding="utf-8") == "| λ |\n"
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pkl", "figure.png", "run.html", "table.md"]
    with pytest.raises(FileNotFoundError, match="the directory .*nowhere.* does not exist"):
        io.write_atomic(tmp_path / "nowhere" / "table.md", "x")
