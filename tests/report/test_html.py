"""``slt report``: self-contained HTML pages of an LLC result and of a validation run."""

import base64
import html
import io
import json
import re
import shutil
import subprocess

import jax.numpy as jnp
import matplotlib
import matplotlib.image
import numpy as np
import pytest
import xarray as xr

import slt
from slt.cli import main
from slt.report import figures, render_html, render_validation_html, write_report
from slt.validation.runner import Row, write_json

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]*)\"")


@pytest.fixture(scope="module", autouse=True)
def agg_backend():
    """arviz-plots draws the rank plot through pyplot: keep it on the Agg canvas."""
    matplotlib.use("Agg")


@pytest.fixture(scope="module")
def result():
    """The regular linear regression of the ``slt.llc`` docstring, run short (a few seconds)."""
    x = np.random.default_rng(0).normal(size=(1000, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + np.random.default_rng(1).normal(size=1000)
    loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)
    w_star = jnp.asarray(np.linalg.lstsq(x, y, rcond=None)[0])
    return slt.llc(
        loss,
        w_star,
        {"x": x, "y": y},
        step_size=4e-4,
        batch_size=100,
        num_chains=3,
        num_draws=120,
        num_burnin=30,
        mala_diagnostic=True,
    )


@pytest.fixture(scope="module")
def page(result):
    return render_html(result)


def _rows() -> list[Row]:
    def row(case, sampler, exact, estimate, passed=True):
        rel = (estimate - exact) / exact
        return Row(case, sampler, exact, estimate, 0.01 * exact, rel, 1.0, 500.0, 1.0, passed, 0.15)

    return [
        row("a", "sgld", 85.0, 83.0),
        row("b", "sgld", 2030.5, 2500.0, passed=False),
        row("a", "rmsprop_sgld", 85.0, 86.0),
        Row("c", "sgld", 9.5, *[float("nan")] * 5, 1.0, False, 0.15),  # all chains diverged
    ]


def _decoded_images(page: str) -> list[np.ndarray]:
    """Every ``<img>`` of ``page`` as a decoded array; fails unless each is a base64 PNG."""
    sources = IMG.findall(page)
    images = []
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert data.startswith(PNG_SIGNATURE)
        image = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert image.ndim == 3 and min(image.shape[:2]) > 100
        assert np.ptp(image[..., :3]) > 0  # not a blank canvas
        images.append(image)
    assert len(images) == page.count("<img")
    return images


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    for needle in ("<script", "<link", "http://", "https://", "url("):
        assert needle not in page


def test_the_llc_page_has_every_section(result, page):
    _self_contained(page)
    for ident in ("summary", "settings", "loss-trace", "rank", "running-llc"):
        assert f'<section id="{ident}">' in page
    assert 'id="calibration"' not in page  # no calibration group in a plain run
    assert f"{result.llc:.4g} ± {result.mcse:.2g} (MCSE)" in page
    assert f"{result.rhat:.3f}" in page
    assert "MALA acceptance rate" in page
    assert "<th scope=row>batch_size</th><td>100</td>" in page


def test_the_verdict_recorded_by_llc_is_shown_with_its_reasons(result, page):
    if "verdict" not in result.datatree.attrs:
        pytest.skip("this slt.llc records no verdict in the attrs")
    verdict = str(result.datatree.attrs["verdict"])
    assert "<th scope=row>Verdict</th><td><span class=" in page and f">{verdict}</span>" in page
    for reason in result.diagnostics.reasons:
        assert f"<li>{html.escape(reason)}</li>" in page


def test_a_tree_without_a_verdict_has_no_verdict_row(result):
    dt = result.datatree.copy()
    for key in ("verdict", "verdict_reasons"):
        dt.attrs.pop(key, None)
    page = render_html(dt)
    assert "Verdict" not in page and "Reasons" not in page


def test_every_image_is_an_embedded_png_that_decodes(page):
    assert len(_decoded_images(page)) == 3  # loss traces, rank plot, running LLC


def test_verdict_reasons_and_calibration_come_from_the_tree(result):
    dt = result.datatree.copy()
    dt.attrs["verdict"] = "warn"
    dt.attrs["verdict_reasons"] = ["R-hat 1.2 > 1.01", "<script>alert(1)</script>"]
    grid = {"step_size": [1e-4, 1e-3, 1e-2], "gamma": [1.0, 100.0]}
    score = np.arange(6.0).reshape(3, 2)
    score[0, 1] = np.nan  # a failed cell is drawn grey, not an error
    dt["calibration"] = xr.DataTree(
        xr.Dataset({"score": (("step_size", "gamma"), score)}, coords=grid)
    )
    page = render_html(dt, title="A <title> & more")
    _self_contained(page)
    assert "<h1>A &lt;title&gt; &amp; more</h1>" in page
    assert '<span class="warn">warn</span>' in page
    assert "<li>R-hat 1.2 &gt; 1.01</li>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<section id="calibration">' in page and "score over the calibration grid" in page
    assert len(_decoded_images(page)) == 4


def test_a_calibration_group_without_a_2d_variable_is_noted_not_drawn(result):
    dt = result.datatree.copy()
    dt["calibration"] = xr.DataTree(xr.Dataset({"score": ("step_size", [1.0, 2.0])}))
    page = render_html(dt)
    assert "no numeric 2-D variable" in page and len(_decoded_images(page)) == 3


def test_a_diverged_chain_is_drawn_dotted_and_left_out_of_the_rank_and_running_plots(result):
    dt = result.datatree.copy(deep=True)
    stats = dt["sample_stats"]
    loss = stats["loss"].values.copy()
    loss[1, 60:] = np.inf
    diverging = stats["diverging"].values.copy()
    diverging[1, 60:] = True
    dt["sample_stats"] = stats.to_dataset().assign(
        loss=(("chain", "draw"), loss), diverging=(("chain", "draw"), diverging)
    )
    dt.attrs["num_diverging"] = 1
    np.testing.assert_array_equal(figures.kept_chains(dt), [True, False, True])
    per_chain, pooled = figures.running_llc(dt)
    np.testing.assert_allclose(pooled, per_chain[[0, 2]].mean(axis=0))
    page = render_html(dt)
    assert "1 of 3 chains left out; 60 diverging draws in all" in page
    assert len(_decoded_images(page)) == 3


def test_chains_restarted_after_a_hot_burnin_are_named_in_the_divergences_row(result):
    dt = result.datatree.copy()
    page = render_html(dt)
    assert "started over at w*" not in page
    dt.attrs["num_restarted"] = 2
    assert "2 diverged in the hot burn-in and started over at w*" in render_html(dt)


def test_the_running_llc_ends_at_the_estimate(result):
    per_chain, pooled = figures.running_llc(result.datatree)
    assert per_chain.shape == (3, 120)
    np.testing.assert_allclose(per_chain[:, -1], result.llc_per_chain, rtol=1e-4)
    np.testing.assert_allclose(pooled[-1], result.llc, rtol=1e-4)


def test_the_rank_plot_is_arviz_plots_plot_rank(result):
    fig, kind = figures.rank_figure(result.datatree)
    assert kind == "arviz-plots"
    assert figures.to_png(fig).startswith(PNG_SIGNATURE)


def test_write_report_is_atomic(result, tmp_path):
    out = tmp_path / "report.html"
    write_report(result, str(out))
    assert out.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left behind


def test_wrong_inputs_name_the_argument():
    with pytest.raises(TypeError, match="result must be"):
        render_html(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_stats"):
        render_html(xr.DataTree())
    with pytest.raises(ValueError, match="rows"):
        render_validation_html([], "empty")
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        render_validation_html([{"exact": 1.0}], "no estimate")


def test_the_validation_page_has_the_table_and_a_log_log_plot_with_y_equals_x():
    rows = _rows()
    page = render_validation_html(rows, "slt validate --suite test")
    _self_contained(page)
    assert "2 of 4 cases passed." in page
    assert page.count('<td class="pass">pass</td>') == 2
    assert page.count('<td class="fail">fail</td>') == 2
    assert '<td class="num">+23.1%</td>' in page  # (2500 - 2030.5) / 2030.5
    assert "y = x" in page and "1 row(s) without a positive estimate" in page
    assert len(_decoded_images(page)) == 1

    fig = figures.validation_figure([r._asdict() for r in rows])
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "y = x"]
    np.testing.assert_array_equal(line.get_xdata(), line.get_ydata())


def test_cli_reports_a_saved_result(result, tmp_path, capsys):
    path = tmp_path / "run.nc"
    try:
        from slt.io import save
    except ImportError:  # before slt.io existed: the netCDF of the DataTree itself
        result.datatree.to_netcdf(path, engine="h5netcdf")
    else:
        save(result, path)
    out = tmp_path / "run.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert '<section id="running-llc">' in page and f"{result.llc:.4g}" in page
    assert len(_decoded_images(page)) == 3


def test_cli_reports_a_validation_json(tmp_path):
    path = tmp_path / "rrr.json"
    write_json(_rows(), str(path))
    assert json.loads(path.read_text())[0]["exact"] == 85.0
    assert main(["report", str(path), "--title", "rrr suite"]) == 0  # default: rrr.html
    page = (tmp_path / "rrr.html").read_text(encoding="utf-8")
    assert "<h1>rrr suite</h1>" in page and '<section id="table">' in page


@pytest.mark.parametrize("content", [None, b"not a netCDF file", b'{"rows": 3}'])
def test_cli_fails_with_a_one_line_reason(tmp_path, capsys, content):
    path = tmp_path / "result.nc"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "out.html"
    assert main(["report", str(path), "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("slt: error: ") and err.count("\n") == 1
    assert ("does not exist" in err) if content is None else ("cannot read RESULT" in err)
    assert not out.exists()


_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", ok + "/" + images.length);
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def test_headless_chromium_renders_the_page_and_every_image(page, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip(
            "Chromium not installed: none of chromium, chromium-browser, google-chrome is on PATH"
        )
    # A copy of the page with a probe that writes how many images decoded into the DOM.
    probed = tmp_path / "report.html"
    probed.write_text(page.replace("</body>", _PROBE + "\n</body>"), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    counts = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    assert counts is not None, dom.stdout[-2000:]
    assert counts.group(1) == counts.group(2) == "3"

    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [exe, *flags, "--window-size=1000,2400", f"--screenshot={shot}", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    image = matplotlib.image.imread(str(shot))
    assert image.shape[:2] == (2400, 1000) and np.ptp(image[..., :3]) > 0


@pytest.fixture(scope="module")
def global_estimate():
    """slt.rlct of a Gaussian mean (λ = 1/2) at three temperatures, run short."""
    import numpyro
    import numpyro.distributions as dist

    def model(x):
        w = numpyro.sample("w", dist.Normal(0.0, 2.0))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("x", dist.Normal(w, 1.0), obs=x)

    x = np.random.default_rng(0).normal(0.7, 1.0, size=200)
    return slt.rlct(
        model, {"x": x}, num_temperatures=3, num_chains=4, num_warmup=200, num_samples=600
    )


def test_cli_reports_a_saved_global_estimate(global_estimate, tmp_path, capsys):
    path = tmp_path / "rlct.nc"
    slt.io.save(global_estimate.datatree, path)
    assert main(["report", str(path)]) == 0
    page = (tmp_path / "rlct.html").read_text(encoding="utf-8")
    for section in ("summary", "temperatures", "energies", "traces"):
        assert f'<section id="{section}">' in page, section
    assert f"{global_estimate.value:.4g} ± {global_estimate.se:.2g}" in html.unescape(page)
    body = page[page.index('<section id="temperatures">') :]
    assert body.count("<tr><td>t") == 3  # one row per temperature
    for k, beta in enumerate(global_estimate.datatree["beta"].values):
        assert f'<td>t{k}</td><td class="num">{beta:.4g}</td>' in body
    assert len(_decoded_images(page)) == 2


def test_a_global_fit_that_did_not_mix_is_marked(global_estimate):
    marks = r"<tr><td>(t\d)</td>.*?<span class=\"(\w+)\">"
    # These fits mix (R-hat 1.002-1.003, bulk ESS above 1000 in this run).
    assert dict(re.findall(marks, render_html(global_estimate.datatree))) == dict.fromkeys(
        ("t0", "t1", "t2"), "ok"
    )
    tree = global_estimate.datatree.copy(deep=True)
    stats = tree["t1"]["sample_stats"].to_dataset()
    loss = stats["loss"].values.copy()
    loss[1] += 10 * loss.std()  # the second chain stuck elsewhere: R-hat far above 1.01
    tree["t1/sample_stats"] = xr.DataTree(stats.assign(loss=(("chain", "draw"), loss)))
    page = render_html(tree)
    assert dict(re.findall(marks, page)) == {"t0": "ok", "t1": "warn", "t2": "ok"}
    loss[1, 5] = np.nan  # a non-finite trace: R-hat and ESS are NaN, and the row is flagged
    tree["t1/sample_stats"] = xr.DataTree(stats.assign(loss=(("chain", "draw"), loss)))
    assert dict(re.findall(marks, render_html(tree)))["t1"] == "warn"
    assert "1 with R-hat &gt; 1.01, bulk ESS &lt; 100 or divergences" in page
