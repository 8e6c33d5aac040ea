"""Self-contained HTML reports: one file, inline CSS, figures embedded as base64 PNG, no JS."""

import base64
import html
import math
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np
import xarray as xr

from slt.diagnostics.verdict import diagnose
from slt.estimators import base as estimators
from slt.io import write_atomic
from slt.report import figures
from slt.result import LLCResult

__all__ = ["render_html", "render_validation_html", "write_report"]

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:60rem;margin:0 auto;padding:1.5rem 1.25rem 3rem;background:#fff;min-height:100vh}
h1{font-size:1.55rem;margin:0 0 .2rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid #d0d7de}
p.lead{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;margin:.4rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .7rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;border-bottom:1px solid #d0d7de}
tbody th{font-weight:600;white-space:nowrap}
td.num{text-align:right}
figure{margin:.75rem 0}
img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption,.note{color:#57606a;font-size:.9rem}
ul{margin:.2rem 0;padding-left:1.2rem}
.pass,.ok{color:#1a7f37;font-weight:600}
.fail,.bad{color:#cf222e;font-weight:600}
.warn{color:#9a6700;font-weight:600}
footer{margin-top:2.5rem;color:#6e7781;font-size:.85rem}
"""

# Root attrs shown in the summary (or the footer), hence left out of the settings table.
_SUMMARY_KEYS = {
    "llc",
    "llc_mcse",
    "llc_per_chain",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "num_diverging",
    "init_loss",
    "verdict",
    "verdict_reasons",
    "frac_below_init",
    "inference_library",
    "slt_version",
    "jax_version",
}

_VERDICT_CLASS = {  # slt.diagnostics.verdict's verdicts, and a few generic words
    "trustworthy": "ok",
    "needs more draws": "warn",
    "not at a minimum": "bad",
    "step too large": "bad",
    "ok": "ok",
    "pass": "ok",
    "passed": "ok",
    "good": "ok",
    "reliable": "ok",
    "warn": "warn",
    "warning": "warn",
    "caution": "warn",
    "suspect": "warn",
    "fail": "bad",
    "failed": "bad",
    "bad": "bad",
    "unreliable": "bad",
}


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: Any, digits: int = 4) -> str:
    """A value of the attrs or a table as short text ("—" for missing)."""
    if value is None or (isinstance(value, str) and value == "none"):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "—"
        return f"{v:.{digits}g}" if math.isfinite(v) else str(v)
    if isinstance(value, list | tuple | np.ndarray):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return _fmt(arr.item(), digits)
        items = arr.ravel().tolist()
        text = ", ".join(_fmt(v, digits) for v in items[:16])
        return text + (f", … ({len(items)} in all)" if len(items) > 16 else "")
    return str(value)


def _num(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec`` ("—" when missing or NaN)."""
    v = _float(value)
    return "—" if math.isnan(v) else format(v, spec)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _figure_html(png: bytes, alt: str, caption: str) -> str:
    return f"<figure>{_img(png, alt)}<figcaption>{_e(caption)}</figcaption></figure>"


def _section(ident: str, heading: str, body: str) -> str:
    return f'<section id="{_e(ident)}">\n<h2>{_e(heading)}</h2>\n{body}\n</section>'


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; values are HTML already (escape before passing)."""
    body = "\n".join(f"<tr><th scope=row>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>\n<tbody>\n{body}\n</tbody>\n</table>"


def _page(title: str, lead: str, sections: Sequence[str], footer: str) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="lead">{_e(lead)}</p>',
            *sections,
            f"<footer>{_e(footer)}</footer>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _as_datatree(result: Any) -> xr.DataTree:
    if isinstance(result, LLCResult):
        return result.datatree
    if isinstance(result, xr.DataTree):
        return result
    raise TypeError(
        f"result must be an LLCResult or an xarray.DataTree; got {type(result).__name__}"
    )


def _reasons(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()] if value != "none" else []
    return [str(v) for v in np.asarray(value).ravel().tolist() if str(v).strip()]


def _verdict_reasons(dt: xr.DataTree) -> list[str]:
    """The attr ``verdict_reasons``; else, for a tree with a ``verdict``, the reasons
    :func:`slt.diagnostics.verdict.diagnose` gives (none when it cannot run on this tree)."""
    if "verdict_reasons" in dt.attrs:
        return _reasons(dt.attrs["verdict_reasons"])
    if "verdict" not in dt.attrs:
        return []
    try:
        return [str(r) for r in diagnose(dt).reasons]
    except (KeyError, ValueError):  # a tree diagnose cannot read: no reasons to show
        return []


def _summary_rows(dt: xr.DataTree) -> list[tuple[str, str]]:
    attrs = dt.attrs
    llc, mcse = _float(attrs.get("llc")), _float(attrs.get("llc_mcse"))
    estimate = f"{_fmt(llc)} ± {_fmt(mcse, 2)} (MCSE)" if "llc" in attrs else "—"
    rows = [
        ("λ̂ (local learning coefficient)", f"<strong>{_e(estimate)}</strong>"),
        ("λ̂ per chain", _e(_fmt(attrs.get("llc_per_chain")))),
        ("R-hat (loss)", _e(_num(attrs.get("rhat"), ".3f"))),
        (
            "ESS bulk / tail (loss)",
            _e(f"{_num(attrs.get('ess_bulk'), '.0f')} / {_num(attrs.get('ess_tail'), '.0f')}"),
        ),
    ]
    stats = dt["sample_stats"].to_dataset() if "sample_stats" in dt.children else None
    num_chains = int(stats.sizes["chain"]) if stats is not None else attrs.get("num_chains")
    parts = []
    if "num_diverging" in attrs:
        parts.append(f"{_fmt(attrs['num_diverging'])} of {_fmt(num_chains)} chains left out")
    if stats is not None and "diverging" in stats:
        steps = int(np.asarray(stats["diverging"].values).sum())
        parts.append(f"{steps} diverging draws in all")
    if attrs.get("num_restarted"):
        parts.append(
            f"{_fmt(attrs['num_restarted'])} diverged in the hot burn-in and started over at w*"
        )
    rows.append(("Divergences", _e("; ".join(parts) or "—")))
    if stats is not None and "acceptance_rate" in stats:
        keep = figures.kept_chains(dt)
        rate = stats["acceptance_rate"].transpose("chain", "draw").values
        mean = float(np.nanmean(rate[keep])) if keep.any() else math.nan
        rows.append(("MALA acceptance rate (mean)", _e(_num(mean, ".3f"))))
    rows.append(("Initial loss L(w*) per chain", _e(_fmt(attrs.get("init_loss")))))
    if "frac_below_init" in attrs:
        rows.append(
            ("Loss draws below the initial loss", _e(_num(attrs["frac_below_init"], ".1%")))
        )
    if "verdict" in attrs:
        verdict = str(attrs["verdict"])
        cls = _VERDICT_CLASS.get(verdict.strip().lower(), "")
        cls_attr = f' class="{cls}"' if cls else ""
        rows.append(("Verdict", f"<span{cls_attr}>{_e(verdict)}</span>"))
    reasons = _verdict_reasons(dt)
    if reasons:
        items = "".join(f"<li>{_e(r)}</li>" for r in reasons)
        rows.append(("Reasons", f"<ul>{items}</ul>"))
    return rows


def _lead(dt: xr.DataTree) -> str:
    a = dt.attrs
    parts = []
    if "llc" in a:
        parts.append(f"λ̂ = {_fmt(a['llc'])} ± {_fmt(a.get('llc_mcse'), 2)}")
    if "sampler" in a:
        parts.append(f"sampler {a['sampler']}")
    if "n" in a:
        parts.append(f"n = {_fmt(a['n'])}")
    if "num_chains" in a and "num_draws" in a:
        parts.append(f"{_fmt(a['num_chains'])} chains × {_fmt(a['num_draws'])} draws")
    return " · ".join(parts)


def _footer(attrs: Mapping[Any, Any]) -> str:
    versions = [
        f"{name} {attrs[f'{name}_version']}"
        for name in ("slt", "jax")
        if f"{name}_version" in attrs
    ]
    return "Report by slt" + (f" ({', '.join(versions)})" if versions else "") + "."


def render_html(result: LLCResult | xr.DataTree, *, title: str | None = None) -> str:
    """A self-contained HTML page on an LLC result.

    Sections: a summary (λ̂ ± MCSE, R-hat, bulk/tail ESS, divergences, the verdict and its
    reasons when the attrs carry them), the settings from the root attrs, loss traces per chain
    with each chain's initial loss dashed, rank plots of the loss, the running LLC over draws
    per chain and pooled, and a heat map of the ``calibration`` group when there is one.

    A :func:`slt.calibrate` sweep alone gets its recommendation and heat map, and the DataTree
    of a :class:`slt.GlobalEstimate` a page of its own: the estimate, a row per temperature
    (mean energy ± se, R-hat, bulk ESS, divergences), the energies against the temperature and
    the traces of :math:`nL_n`.

    Parameters
    ----------
    result
        What :func:`slt.llc` returns, or its ``datatree`` (e.g. read back from a file).
    title
        The page title (default: "LLC report").

    Raises
    ------
    TypeError
        When ``result`` is neither an :class:`~slt.LLCResult` nor an ``xarray.DataTree``.
    ValueError
        When ``result`` has no ``sample_stats`` group with a ``loss`` variable, no
        ``calibration`` group and is no global estimate.
    """
    dt = _as_datatree(result)
    if "sample_stats" not in dt.children and "calibration" in dt.children:
        return _calibration_page(dt, title)
    if "sample_stats" not in dt.children and _is_global(dt):
        return _global_page(dt, title)
    if "sample_stats" not in dt.children or "loss" not in dt["sample_stats"].data_vars:
        raise ValueError(
            "result has no sample_stats group with a loss variable (nor a calibration group, "
            "nor the fits of a global estimate) to report on"
        )
    title = title or "LLC report"
    sections = [_section("summary", "Summary", _table(_summary_rows(dt)))]
    settings = [(str(k), _e(_fmt(v))) for k, v in dt.attrs.items() if k not in _SUMMARY_KEYS]
    if settings:
        sections.append(_section("settings", "Settings", _table(settings)))

    png = figures.to_png(figures.loss_trace_figure(dt))
    sections.append(
        _section(
            "loss-trace",
            "Loss traces",
            _figure_html(
                png,
                "loss trace per chain",
                "Minibatch loss of every chain against the draw (burn-in, when kept, at "
                "negative draws); the dashed line of each chain's colour is its initial loss "
                "L(w*). Diverged chains are dotted.",
            ),
        )
    )

    fig, kind = figures.rank_figure(dt)
    caption = (
        "Rank plot of the loss per kept chain (arviz-plots plot_rank): the ECDF of each "
        "chain's fractional ranks minus the uniform one. Chains that mix stay near zero; the "
        "p-value printed on the plot tests that the ranks are uniform across chains."
        if kind == "arviz-plots"
        else "Histograms of the ranks of the loss per kept chain among all kept draws: chains "
        "that mix have flat histograms near the dashed uniform count."
    )
    sections.append(
        _section("rank", "Rank plots", _figure_html(figures.to_png(fig), "rank plot", caption))
    )

    running = figures.running_llc_figure(dt)
    if running is None:
        body = '<p class="note">No running LLC: the attrs lack nbeta or init_loss.</p>'
    else:
        body = _figure_html(
            figures.to_png(running),
            "running LLC over draws",
            "nβ · (cumulative mean of the loss − initial loss) per kept chain (thin) and "
            "pooled over them (thick), with λ̂ ± 2 MCSE shaded. A curve still drifting at the "
            "end means the chains have not equilibrated.",
        )
    sections.append(_section("running-llc", "Running LLC", body))

    if "calibration" in dt.children:
        sections.append(_calibration_section(dt))
    return _page(title, _lead(dt), sections, _footer(dt.attrs))


_GLOBAL_NAMES = {
    "rlct": "λ̂ (global RLCT)",
    "wbic": "WBIC = E^β[nL_n] at β = 1/log n",
    "free_energy": "F_n (Bayes free energy)",
    "waic": "WAIC W_n (per observation)",
}
# Root attrs of a global estimate shown in its summary, hence left out of its settings table.
_GLOBAL_SUMMARY_KEYS = {"estimator", "method", "value", "se", "n", "rlct", "rlct_se"}


def _is_global(dt: xr.DataTree) -> bool:
    return dt.attrs.get("estimator") in _GLOBAL_NAMES and bool(figures.global_fits(dt))


def _fit_row(name: str, fit: xr.DataTree, mean: float, se: float) -> tuple[str, bool]:
    """One temperature's row (β, E^β[nL_n] ± se, R-hat and bulk ESS of nL_n, divergences),
    and whether it is flagged."""
    stats = fit["sample_stats"].to_dataset()
    loss = stats["loss"].transpose("chain", "draw").values.astype(np.float64)
    rhat, ess = estimators.rhat(loss), estimators.ess_bulk(loss)
    divergent = int(np.asarray(stats["diverging"].values).sum()) if "diverging" in stats else 0
    # The LLC verdict's own limits; a NaN R-hat or ESS (a non-finite trace) is flagged too.
    flag = not (rhat <= 1.01 and ess >= 100) or divergent > 0
    cells = [
        _e(name),
        _e(_num(fit.attrs.get("beta"), ".4g")),
        _e(f"{_num(mean, '.6g')} ± {_num(se, '.2g')}"),
        _e(_num(rhat, ".3f")),
        _e(_num(ess, ".0f")),
        _e(str(divergent)),
        f'<span class="{"warn" if flag else "ok"}">{"check" if flag else "ok"}</span>',
    ]
    tds = "".join(
        f'<td class="num">{c}</td>' if 0 < i < 6 else f"<td>{c}</td>" for i, c in enumerate(cells)
    )
    return f"<tr>{tds}</tr>", flag


def _global_page(dt: xr.DataTree, title: str | None) -> str:
    """A page for a :class:`slt.GlobalEstimate`'s DataTree: the estimate, its settings, and
    for every temperature the mean energy with the fit's R-hat, ESS and divergences, the
    energies against the temperature and the traces of nL_n."""
    attrs = dt.attrs
    estimator = str(attrs["estimator"])
    value, se = (
        _float(attrs.get("value", attrs.get("rlct"))),
        _float(attrs.get("se", attrs.get("rlct_se"))),
    )
    summary = [
        (_GLOBAL_NAMES[estimator], f"<strong>{_e(_fmt(value))} ± {_e(_fmt(se, 2))}</strong>"),
        ("Method", _e(_fmt(attrs.get("method")))),
        ("n", _e(_fmt(attrs.get("n")))),
    ]
    fits = figures.global_fits(dt)
    root = dt.to_dataset()
    means = (
        np.asarray(root["energy_mean"].values) if "energy_mean" in root else [math.nan] * len(fits)
    )
    ses = np.asarray(root["energy_se"].values) if "energy_se" in root else [math.nan] * len(fits)
    rows, flags = zip(
        *(_fit_row(f"t{k}", fit, means[k], ses[k]) for k, fit in enumerate(fits)), strict=True
    )
    checked = sum(flags)
    summary.append(
        (
            "Fits",
            _e(
                f"{len(fits)} temperature(s); {checked} with R-hat > 1.01, bulk ESS < 100 or "
                "divergences"
                if checked
                else f"{len(fits)} temperature(s), every one with R-hat ≤ 1.01, bulk ESS ≥ 100 "
                "and no divergence"
            ),
        )
    )
    sections = [_section("summary", "Summary", _table(summary))]
    settings = [
        (str(k), _e(_fmt(v)))
        for k, v in attrs.items()
        if k not in _GLOBAL_SUMMARY_KEYS | _SUMMARY_KEYS
    ]
    if settings:
        sections.append(_section("settings", "Settings", _table(settings)))
    head = "".join(
        f"<th>{h}</th>"
        for h in ("fit", "β", "E^β[nL_n] ± se", "R-hat", "ESS bulk", "divergent", "")
    )
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows)
    table += "\n</tbody>\n</table>"
    note = (
        '<p class="note">R-hat and bulk ESS are those of nL_n in each fit (arviz-stats); '
        "the rows marked check exceed the limits the LLC verdict uses (R-hat 1.01, ESS 100) "
        "or have divergent transitions.</p>"
    )
    sections.append(_section("temperatures", "Temperatures", table + note))
    energy = figures.global_energy_figure(dt)
    if energy is not None:
        caption = (
            "Mean energy of each fit against 1/β, ± 2 standard errors, with the fitted line "
            "whose slope is λ̂."
            if estimator == "rlct"
            else "Mean energy of each fit against the temperature, ± 2 standard errors."
        )
        sections.append(
            _section(
                "energies", "Energies", _figure_html(figures.to_png(energy), "energies", caption)
            )
        )
    traces = figures.global_trace_figure(dt)
    if traces is not None:
        sections.append(
            _section(
                "traces",
                "Traces",
                _figure_html(
                    figures.to_png(traces),
                    "traces of nL_n",
                    "nL_n per chain against the draw at each temperature (at most 12, evenly "
                    "spaced over the schedule). Chains that mix overlap and show no trend.",
                ),
            )
        )
    lead = f"{_GLOBAL_NAMES[estimator]} = {_fmt(value)} ± {_fmt(se, 2)}"
    lead += f" · method {_fmt(attrs.get('method'))} · n = {_fmt(attrs.get('n'))}"
    return _page(title or f"{estimator} report", lead, sections, _footer(fits[0].attrs))


def _calibration_section(dt: xr.DataTree) -> str:
    var = figures.calibration_variable(dt)
    if var is None:
        body = '<p class="note">The calibration group has no numeric 2-D variable.</p>'
    else:
        body = _figure_html(
            figures.to_png(figures.calibration_figure(var)),
            f"calibration heat map of {var.name}",
            f"{var.name} over the calibration grid {var.dims[0]} × {var.dims[1]}.",
        )
    return _section("calibration", "Calibration", body)


def _calibration_page(dt: xr.DataTree, title: str | None) -> str:
    """A page for a :func:`slt.calibrate` sweep alone: its recommendation, reasons, heat map."""
    attrs = dict(dt["calibration"].attrs)
    rows = [(str(k), _e(_fmt(v))) for k, v in attrs.items()]
    sections = [_section("settings", "Recommendation and reasons", _table(rows))]
    sections.append(_calibration_section(dt))
    return _page(title or "Calibration report", "", sections, _footer(dt.attrs))


def _row_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(rows):
        if hasattr(row, "_asdict"):
            row = row._asdict()
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{i}] must be a validation Row or a mapping")
        if "exact" not in row or "estimate" not in row:
            raise ValueError(f"rows[{i}] has no 'exact' and 'estimate'")
        out.append(dict(row))
    return out


def _rel_error(row: Mapping[str, Any]) -> float:
    if row.get("rel_error") is not None:
        return _float(row["rel_error"])
    exact, estimate = _float(row["exact"]), _float(row["estimate"])
    return (estimate - exact) / exact if exact else math.nan


def _passed(row: Mapping[str, Any]) -> bool | None:
    if row.get("passed") is not None:
        return bool(row["passed"])
    if row.get("tolerance") is not None:
        return abs(_rel_error(row)) <= _float(row["tolerance"])
    return None


_VALIDATION_COLUMNS = [  # (key, header, number format or "" for text); some are derived
    ("case", "case", ""),
    ("sampler", "sampler", ""),
    ("family", "family", ""),
    ("exact", "exact λ", ".5g"),
    ("estimate", "estimate λ̂", ".5g"),
    ("mcse", "MCSE", ".2g"),
    ("se", "SE", ".2g"),
    ("rel_error", "rel. error", "+.1%"),
    ("tolerance", "tolerance", ".0%"),
    ("rhat", "R-hat", ".3f"),
    ("ess", "ESS", ".0f"),
    ("seconds", "seconds", ".1f"),
    ("passed", "result", ""),
]


def _validation_cell(key: str, row: Mapping[str, Any], spec: str) -> str:
    if key == "passed":
        ok = _passed(row)
        if ok is None:
            return "<td>—</td>"
        return f'<td class="{"pass" if ok else "fail"}">{"pass" if ok else "fail"}</td>'
    value = _rel_error(row) if key == "rel_error" else row.get(key)
    if spec:
        return f'<td class="num">{_e(_num(value, spec))}</td>'
    return f"<td>{_e(_fmt(value))}</td>"


def _validation_summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    groups = dict.fromkeys(str(r.get("sampler") or r.get("family") or "all") for r in rows)
    for group in groups:
        mine = [r for r in rows if str(r.get("sampler") or r.get("family") or "all") == group]
        errs = [abs(e) for e in map(_rel_error, mine) if math.isfinite(e)]
        passed = sum(_passed(r) is True for r in mine)
        text = f"{group}: {passed}/{len(mine)} passed"
        if errs:
            text += f"; median |rel. error| {median(errs):.1%}, worst {max(errs):.1%}"
        lines.append(f"<li>{_e(text)}</li>")
    return f"<ul>{''.join(lines)}</ul>"


def render_validation_html(
    rows: Sequence[Any], title: str = "Validation against exact learning coefficients"
) -> str:
    """A self-contained HTML page on validation rows against exact learning coefficients.

    A summary per sampler, the table of estimates against exact values (relative error, pass
    or fail) and a log-log plot of estimated against exact λ with the line y = x and ± 2 MCSE
    error bars.

    Parameters
    ----------
    rows
        :class:`slt.validation.runner.Row` records or mappings with at least ``exact`` and
        ``estimate`` (e.g. the objects of a ``slt validate --json`` file); ``mcse`` (or ``se``),
        ``rel_error``, ``passed``, ``tolerance`` and the rest are used when present.
    title
        The page title.

    Raises
    ------
    ValueError
        When ``rows`` is empty or a row lacks ``exact`` or ``estimate``.
    """
    if not rows:
        raise ValueError("rows must hold at least one validation row")
    data = _row_dicts(rows)
    columns = [
        (key, header, spec)
        for key, header, spec in _VALIDATION_COLUMNS
        if key in ("rel_error", "passed") or any(r.get(key) is not None for r in data)
    ]
    head = "".join(f"<th scope=col>{_e(h)}</th>" for _, h, _ in columns)
    body = "\n".join(
        "<tr>" + "".join(_validation_cell(k, r, d) for k, _, d in columns) + "</tr>" for r in data
    )
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    drawn = sum(
        all(math.isfinite(_float(r[k])) and _float(r[k]) > 0 for k in ("exact", "estimate"))
        for r in data
    )
    caption = (
        "Estimated against exact λ on log-log axes; the line is y = x, error bars ± 2 MCSE, "
        "open markers failed cases, the grey band the tolerance."
    )
    if drawn < len(data):
        caption += f" {len(data) - drawn} row(s) without a positive estimate are not drawn."
    png = figures.to_png(figures.validation_figure(data, title))
    passed = sum(_passed(r) is True for r in data)
    sections = [
        _section("summary", "Summary", _validation_summary(data)),
        _section("table", "Estimates against exact values", table),
        _section("plot", "Estimated against exact", _figure_html(png, "log-log plot", caption)),
    ]
    lead = f"{passed} of {len(data)} cases passed."
    return _page(title, lead, sections, "Report by slt.")


def write_report(
    result: LLCResult | xr.DataTree | Sequence[Any], path: str, *, title: str | None = None
) -> None:
    """Write the HTML report of ``result`` to ``path`` whole or not at all.

    ``result`` is an :class:`~slt.LLCResult` or its DataTree (:func:`render_html`), or a list
    of validation rows (:func:`render_validation_html`). The page goes to a temporary file in
    the same folder, then replaces ``path``.
    """
    if isinstance(result, LLCResult | xr.DataTree):
        text = render_html(result, title=title)
    elif isinstance(result, Sequence) and not isinstance(result, str | bytes):
        text = render_validation_html(result, title) if title else render_validation_html(result)
    else:
        raise TypeError(
            "result must be an LLCResult, an xarray.DataTree or a list of validation rows; "
            f"got {type(result).__name__}"
        )
    write_atomic(path, text)
