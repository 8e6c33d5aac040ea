"""Figures of an LLC run and of a validation table, as matplotlib figures and PNG bytes.

Every figure is drawn on matplotlib's Agg canvas without pyplot, except the rank plot, which
arviz-plots draws (through pyplot); :func:`to_png` closes such a figure once it is rendered, so
making reports never accumulates open figures.
"""

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "calibration_figure",
    "calibration_variable",
    "global_energy_figure",
    "global_fits",
    "global_trace_figure",
    "kept_chains",
    "loss_trace_figure",
    "plot_trajectory",
    "rank_figure",
    "running_llc",
    "running_llc_figure",
    "to_png",
    "validation_figure",
]

DPI = 110


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _colour(chain: int) -> str:
    return f"C{chain % 10}"


def to_png(fig: Figure) -> bytes:
    """``fig`` rendered as PNG bytes; a figure pyplot manages is closed afterwards."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.1)
    finally:
        if getattr(fig.canvas, "manager", None) is not None:
            import matplotlib.pyplot as plt

            plt.close(fig)
    return buf.getvalue()


def _stats(dt: xr.DataTree, group: str = "sample_stats") -> xr.Dataset | None:
    return dt[group].to_dataset() if group in dt.children else None


def _loss(dt: xr.DataTree) -> xr.DataArray:
    stats = _stats(dt)
    if stats is None or "loss" not in stats:
        raise ValueError("result has no sample_stats/loss variable to report on")
    return stats["loss"].transpose("chain", "draw")


def kept_chains(dt: xr.DataTree) -> np.ndarray:
    """Boolean mask over chains: those that never diverged and whose loss is finite."""
    loss = _loss(dt)
    keep = np.isfinite(loss.values).all(axis=1)
    stats = _stats(dt)
    if stats is not None and "diverging" in stats:
        keep &= ~stats["diverging"].transpose("chain", "draw").values.any(axis=1)
    return keep


def _init_loss(dt: xr.DataTree, num_chains: int) -> np.ndarray | None:
    """The per-chain initial loss from the root attrs, or None when absent or malformed."""
    value = dt.attrs.get("init_loss")
    if value is None or isinstance(value, str):
        return None
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.size == 1 and num_chains > 1:
        arr = np.full(num_chains, arr.item())
    return arr if arr.shape == (num_chains,) else None


def _nbeta(dt: xr.DataTree) -> float | None:
    try:
        value = float(dt.attrs["nbeta"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def loss_trace_figure(dt: xr.DataTree) -> Figure:
    """The loss of every chain against the draw, burn-in (if kept) at negative draws.

    Each chain's initial loss :math:`\\hat L(w^\\ast)` is a dashed line of the chain's colour;
    diverged chains are dotted and do not set the vertical range.
    """
    loss = _loss(dt)
    values = loss.values.astype(np.float64)
    num_chains, num_draws = values.shape
    keep = kept_chains(dt)
    init = _init_loss(dt, num_chains)
    warm = _stats(dt, "warmup_sample_stats")
    warm_values = None
    if warm is not None and "loss" in warm:
        warm_values = warm["loss"].transpose("chain", "draw").values.astype(np.float64)
        if warm_values.shape[0] != num_chains or warm_values.shape[1] == 0:
            warm_values = None

    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    for c in range(num_chains):
        colour = _colour(c)
        style = "-" if keep[c] else ":"
        label = f"chain {c}" if keep[c] else f"chain {c} (diverged)"
        if warm_values is not None:
            w = warm_values[c]
            ax.plot(
                np.arange(-len(w), 0),
                np.where(np.isfinite(w), w, np.nan),
                style,
                color=colour,
                lw=0.6,
                alpha=0.35,
            )
        ax.plot(
            np.arange(num_draws),
            np.where(np.isfinite(values[c]), values[c], np.nan),
            style,
            color=colour,
            lw=0.7,
            alpha=0.85,
            label=label,
        )
        if init is not None and math.isfinite(init[c]):
            ax.axhline(init[c], color=colour, ls="--", lw=1.0)
    if warm_values is not None:
        ax.axvline(0, color="0.4", lw=0.8)
        ax.text(
            0,
            0.98,
            "burn-in | draws",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            va="top",
            ha="center",
            color="0.4",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
    shown = values[keep] if keep.any() else values
    finite = shown[np.isfinite(shown)]
    if init is not None:
        finite = np.concatenate([finite, init[np.isfinite(init)]])
    if finite.size:
        lo, hi = np.quantile(finite, [0.001, 0.999])
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-12)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("draw")
    ax.set_ylabel("minibatch loss $L_b(w)$")
    ax.set_title("Loss per chain (dashed: initial loss $L_n(w^*)$)", fontsize=10)
    if num_chains <= 10:
        ax.legend(loc="upper right", fontsize=7, ncol=min(num_chains, 5), frameon=False)
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def _rank_histogram_figure(dt: xr.DataTree) -> Figure:
    """Per-chain histograms of the pooled ranks of the loss, against the uniform count."""
    loss = _loss(dt)
    keep = kept_chains(dt)
    chains = np.flatnonzero(keep) if keep.any() else np.arange(loss.shape[0])
    values = loss.values[chains].astype(np.float64)
    order = np.argsort(values, axis=None, kind="stable")
    flat = np.empty(values.size)
    flat[order] = np.arange(values.size)
    ranks = flat.reshape(values.shape)
    bins = int(np.clip(values.shape[1] // 10, 5, 20))
    edges = np.linspace(0, values.size, bins + 1).tolist()
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    for i, c in enumerate(chains):
        ax.hist(ranks[i], bins=edges, histtype="step", color=_colour(int(c)), label=f"chain {c}")
    ax.axhline(values.shape[1] / bins, color="0.3", ls="--", lw=1, label="uniform")
    ax.set_xlabel("rank of the loss among all kept draws")
    ax.set_ylabel("count")
    ax.set_title("Rank histogram of the loss per chain", fontsize=10)
    if len(chains) <= 10:
        ax.legend(loc="lower right", fontsize=7, ncol=min(len(chains) + 1, 6), frameon=False)
    fig.tight_layout()
    return fig


def rank_figure(dt: xr.DataTree) -> tuple[Figure, str]:
    """Rank plot of the loss over the kept chains, and which kind it is.

    Returns ``(figure, "arviz-plots")`` with arviz-plots' ``plot_rank`` (fractional-rank ECDF
    differences with a simultaneous envelope) or, when that fails on this tree or this version,
    ``(figure, "histogram")`` with a matplotlib rank histogram.
    """
    keep = kept_chains(dt)
    loss = _loss(dt)
    subset = loss.isel(chain=np.flatnonzero(keep)) if keep.any() else loss
    try:
        import arviz_plots

        tree = xr.DataTree.from_dict({"sample_stats": subset.to_dataset(name="loss")})
        pc = arviz_plots.plot_rank(
            tree,
            var_names=["loss"],
            group="sample_stats",
            backend="matplotlib",
            figure_kwargs={"figsize": (7.5, 3.4), "dpi": DPI},
        )
        if tree["sample_stats"].sizes["chain"] <= 10:
            pc.add_legend("chain", loc="upper right", fontsize=7, frameon=False)
        return pc.viz["figure"].item(), "arviz-plots"
    except Exception:  # any failure of the optional arviz-plots path: fall back to matplotlib
        _close_stray_figures()
        return _rank_histogram_figure(dt), "histogram"


def _close_stray_figures() -> None:
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def running_llc(dt: xr.DataTree) -> tuple[np.ndarray, np.ndarray] | None:
    r"""The running LLC :math:`n\beta(\bar L_{1:k} - L_n(w^\ast))` per chain and pooled, less
    the noise bias :math:`\tfrac d2\hat\tau` when the run subtracted it (attr
    ``noise_correction``), so that it ends at the reported λ̂.

    Returns ``(per_chain, pooled)`` with shapes (chain, draw) and (draw,), the pooled curve the
    mean over the kept chains; ``None`` when ``nbeta`` or ``init_loss`` is missing from the
    attrs.
    """
    loss = _loss(dt)
    values = loss.values.astype(np.float64)
    nbeta = _nbeta(dt)
    init = _init_loss(dt, values.shape[0])
    if nbeta is None or init is None:
        return None
    draws = np.arange(1, values.shape[1] + 1)
    per_chain = nbeta * (np.cumsum(values, axis=1) / draws - init[:, None])
    if int(dt.attrs.get("noise_correction", 0)):
        per_chain = per_chain - float(dt.attrs.get("noise_bias", 0.0))
    keep = kept_chains(dt)
    pooled = per_chain[keep].mean(axis=0) if keep.any() else np.full(values.shape[1], np.nan)
    return per_chain, pooled


def running_llc_figure(dt: xr.DataTree) -> Figure | None:
    """Running LLC per kept chain (thin) and pooled (thick), with λ̂ ± 2 MCSE from the attrs."""
    curves = running_llc(dt)
    if curves is None:
        return None
    per_chain, pooled = curves
    keep = kept_chains(dt)
    draws = np.arange(1, per_chain.shape[1] + 1)
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    for c in np.flatnonzero(keep):
        ax.plot(draws, per_chain[c], color=_colour(int(c)), lw=0.8, alpha=0.6)
    ax.plot(draws, pooled, color="k", lw=1.8, label="pooled")
    llc, mcse = _float_attr(dt, "llc"), _float_attr(dt, "llc_mcse")
    if llc is not None:
        ax.axhline(llc, color="k", ls="--", lw=0.8, label=f"λ̂ = {llc:.4g}")
        if mcse is not None:
            ax.axhspan(llc - 2 * mcse, llc + 2 * mcse, color="0.5", alpha=0.2, label="± 2 MCSE")
    tail = per_chain[keep][:, per_chain.shape[1] // 10 :] if keep.any() else per_chain
    finite = tail[np.isfinite(tail)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.1 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1e-12)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("draws used")
    ax.set_ylabel(r"$n\beta\,(\bar L - L_n(w^*))$")
    ax.set_title("Running LLC estimate (thin: chains; thick: pooled)", fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def _float_attr(dt: xr.DataTree, name: str) -> float | None:
    try:
        value = float(dt.attrs[name])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def calibration_variable(dt: xr.DataTree) -> xr.DataArray | None:
    """The 2-D variable of the ``calibration`` group to draw: ``score``, else ``llc``, else the
    first numeric 2-D variable; ``None`` when the group is absent or has none."""
    calib = _stats(dt, "calibration")
    if calib is None:
        return None
    names = [n for n in ("score", "llc") if n in calib.data_vars]
    names += [str(n) for n in calib.data_vars if n not in ("score", "llc")]
    for name in names:
        var = calib[name]
        if var.ndim == 2 and var.dtype.kind in "biuf":
            return var
    return None


def _tick(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float | np.floating) else str(value)


def calibration_figure(var: xr.DataArray) -> Figure:
    """A heat map of the 2-D ``var`` (rows: its first dim, columns: its second), cells labelled
    with their values when the grid is small."""
    from matplotlib import colormaps

    ydim, xdim = (str(d) for d in var.dims)
    raw = var.values.astype(np.float64)
    missing = ~np.isfinite(raw)
    values = np.ma.masked_array(raw, mask=missing)
    ny, nx = values.shape
    fig = _figure(min(2.5 + 0.9 * nx, 9.0), min(1.8 + 0.6 * ny, 7.0))
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap)
    xs = var[xdim].values if xdim in var.coords else np.arange(nx)
    ys = var[ydim].values if ydim in var.coords else np.arange(ny)
    ax.set_xticks(np.arange(nx), [_tick(v) for v in xs])
    ax.set_yticks(np.arange(ny), [_tick(v) for v in ys])
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    if nx * ny <= 100 and not missing.all():
        mid = 0.5 * (float(raw[~missing].min()) + float(raw[~missing].max()))
        for i in range(ny):
            for j in range(nx):
                if missing[i, j]:
                    continue
                v = float(raw[i, j])
                ax.text(
                    j,
                    i,
                    f"{v:.3g}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v < mid else "black",
                )
    fig.colorbar(image, ax=ax, label=str(var.name))
    ax.set_title(f"Calibration: {var.name} over {ydim} × {xdim}", fontsize=10)
    fig.tight_layout()
    return fig


def _row_error(row: Mapping[str, Any]) -> float:
    for key in ("mcse", "se"):
        value = row.get(key)
        if value is not None and math.isfinite(float(value)):
            return float(value)
    return 0.0


def _group(row: Mapping[str, Any]) -> str:
    for key in ("sampler", "family"):
        if row.get(key):
            return str(row[key])
    return "estimate"


def validation_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """Log-log scatter of estimated against exact λ: one colour per sampler, ± 2 MCSE error
    bars, the line y = x, the tolerance band when rows carry ``tolerance``; failed rows open.

    Rows whose exact value or estimate is not positive and finite cannot be drawn on log axes
    and are left out (the table still lists them).
    """
    drawable = [
        r
        for r in rows
        if all(math.isfinite(float(r[k])) and float(r[k]) > 0 for k in ("exact", "estimate"))
    ]
    fig = _figure(6.0, 5.5)
    ax = fig.add_subplot()
    points = [float(r[k]) for r in drawable for k in ("exact", "estimate")] or [0.1, 10.0]
    lo, hi = min(points) / 1.5, max(points) * 1.5
    grid = np.geomspace(lo, hi, 101)
    tolerances = [float(r["tolerance"]) for r in rows if r.get("tolerance") is not None]
    if tolerances:
        band = max(tolerances)
        ax.fill_between(
            grid, grid * (1 - band), grid * (1 + band), color="0.88", label=f"± {band:.0%}"
        )
    ax.plot(grid, grid, color="0.3", lw=1, label="y = x")
    for i, group in enumerate(dict.fromkeys(_group(r) for r in drawable)):
        colour = f"C{i % 10}"
        mine = [r for r in drawable if _group(r) == group]
        for passed in (True, False):
            sel = [r for r in mine if bool(r.get("passed", True)) == passed]
            if not sel:
                continue
            est = np.array([float(r["estimate"]) for r in sel])
            err = np.array([2 * _row_error(r) for r in sel])
            ax.errorbar(
                [float(r["exact"]) for r in sel],
                est,
                yerr=[np.minimum(err, 0.999 * est), err],
                fmt="o",
                ms=5,
                color=colour,
                mfc=colour if passed else "none",
                elinewidth=1,
                label=group if passed else f"{group} (failed)",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("exact λ")
    ax.set_ylabel("estimated λ̂ (± 2 MCSE)")
    ax.set_title(title or "Estimated against exact learning coefficient", fontsize=10)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def plot_trajectory(tree: xr.DataTree, ax: Axes | None = None, *, logx: bool = False) -> Figure:
    r"""The LLC along a training run (:func:`slt.llc_trajectory`), with the losses.

    Left axis: :math:`\hat\lambda(w_t)` against the training step t with ± 2 MCSE error bars;
    checkpoints where every chain diverged (verdict ``"diverged"``) are dotted vertical lines.
    Right axis (a twin): the full-data training loss :math:`L_n(w_t)` and, when the trajectory
    has it, the held-out ``test_loss``.

    Parameters
    ----------
    tree
        What :func:`slt.llc_trajectory` returns (or :func:`slt.load` reads back): root variables
        ``llc``, ``llc_mcse``, ``train_loss`` (and optionally ``test_loss``, ``verdict``) over
        the dimension ``checkpoint``, whose coordinate is the step.
    ax
        Axes to draw on (its figure is returned); default a new figure on the Agg canvas.
    logx
        Logarithmic step axis; symmetric-log (linear below the first positive step) when the
        steps include 0.

    Returns
    -------
    matplotlib.figure.Figure
        With two axes: the LLC axes and its twin with the losses.

    Raises
    ------
    ValueError
        When ``tree`` has no ``llc`` over a ``checkpoint`` dimension.
    """
    ds = tree.to_dataset(inherit=False)
    if "llc" not in ds or ds["llc"].dims != ("checkpoint",):
        raise ValueError("tree is not an LLC trajectory: no llc variable over checkpoint")
    steps = ds["checkpoint"].values.astype(np.float64)
    llc = ds["llc"].values.astype(np.float64)
    mcse = ds["llc_mcse"].values.astype(np.float64) if "llc_mcse" in ds else np.zeros_like(llc)
    err = np.where(np.isfinite(mcse), 2 * mcse, 0.0)
    if ax is None:
        fig = _figure(7.5, 3.8)
        ax = fig.add_subplot()
    else:
        parent = ax.figure
        fig = parent if isinstance(parent, Figure) else parent.figure  # a SubFigure's root
    handles: list[Any] = [
        ax.errorbar(
            steps,
            llc,
            yerr=err,
            fmt="o-",
            color="C0",
            ms=4,
            lw=1.4,
            capsize=3,
            label="LLC ± 2 MCSE",
        )
    ]
    if "verdict" in ds:
        diverged = steps[ds["verdict"].values.astype(str) == "diverged"]
        for i, step in enumerate(diverged):
            line = ax.axvline(step, color="C3", ls=":", lw=1.2, label="all chains diverged")
            handles += [line] if i == 0 else []
    ax.set_xlabel("training step")
    ax.set_ylabel("LLC $\\hat\\lambda(w_t)$", color="C0")
    ax.tick_params(axis="y", labelcolor="C0")
    ax.grid(True, lw=0.3, alpha=0.5)
    twin = ax.twinx()
    styles = {"train_loss": ("s--", "C1", "train loss"), "test_loss": ("^:", "C2", "test loss")}
    for name, (fmt, colour, label) in styles.items():
        if name in ds:
            values = ds[name].values.astype(np.float64)
            handles += twin.plot(steps, values, fmt, color=colour, ms=3.5, lw=1.0, label=label)
    twin.set_ylabel("loss")
    if logx:
        positive = steps[steps > 0]
        if positive.size == steps.size:
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
    # Below the axes, in one row: inside, it would hide a curve of one of the two axes.
    twin.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )
    ax.set_title("LLC over training", fontsize=10)
    fig.tight_layout()
    return fig


def global_fits(dt: xr.DataTree) -> list[xr.DataTree]:
    """The tempered fits ``t0``, ``t1``, … of a global estimate's DataTree, in order."""
    names = sorted(
        (k for k in dt.children if k[1:].isdigit() and k[0] == "t"), key=lambda k: int(k[1:])
    )
    return [dt.children[k] for k in names]


def global_energy_figure(dt: xr.DataTree) -> Figure | None:
    """:math:`\\mathbb{E}^{\\beta}[nL_n]` ± 2 se at each temperature of a global estimate.

    Against :math:`1/\\beta` for the RLCT (the reweighted energies when it has them), with the
    fitted line of slope λ̂ when the root has its ``intercept``. Against :math:`t` on a log
    axis otherwise (the free energy's schedule; :math:`t = 0`, the prior, cannot be drawn
    there), the energies too on a log axis when they are positive and span more than a factor
    10. ``None`` for a single temperature.
    """
    root = dt.to_dataset()
    prefix = "reweighted_" if "reweighted_beta" in root else ""  # slt.rlct(..., reweight=True)
    if f"{prefix}beta" not in root or root[f"{prefix}beta"].size < 2:
        return None
    beta = np.asarray(root[f"{prefix}beta"].values, dtype=np.float64)
    mean = np.asarray(root[f"{prefix}energy_mean"].values, dtype=np.float64)
    se = np.asarray(root[f"{prefix}energy_se"].values, dtype=np.float64)
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    if dt.attrs.get("estimator") == "rlct":
        x = 1.0 / beta
        label = "reweighted from one fit" if prefix else "fits"
        ax.errorbar(x, mean, yerr=2 * se, fmt="o", ms=4, capsize=3, color="C0", label=label)
        intercept = _float_attr(dt, "intercept")
        slope = _float_attr(dt, "value")
        if intercept is not None and slope is not None:
            grid = np.linspace(x.min(), x.max(), 50)
            ax.plot(
                grid, intercept + slope * grid, color="C3", lw=1, label=f"slope λ̂ = {slope:.4g}"
            )
            ax.legend(fontsize=8, frameon=False)
        ax.set_xlabel("1/β")
    else:
        shown = beta > 0
        ax.errorbar(beta[shown], mean[shown], yerr=2 * se[shown], fmt="o-", ms=3, lw=0.7, capsize=2)
        ax.set_xscale("log")
        ax.set_xlabel("t (log scale; t = 0 not drawn)")
        drawn = mean[shown]
        if drawn.size and drawn.min() > 0 and drawn.max() > 10 * drawn.min():
            ax.set_yscale("log")  # from the prior's energy down to the likelihood's
    ax.set_ylabel("$E^\\beta[nL_n]$ ± 2 se")
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def global_trace_figure(dt: xr.DataTree, max_panels: int = 12) -> Figure | None:
    """:math:`nL_n` per chain against the draw, one panel per temperature (at most
    ``max_panels``, evenly spaced over the schedule); ``None`` without fits."""
    fits = global_fits(dt)
    if not fits:
        return None
    picks = np.unique(np.linspace(0, len(fits) - 1, min(len(fits), max_panels)).round().astype(int))
    cols = min(3, len(picks))
    rows = -(-len(picks) // cols)
    fig = _figure(3.0 * cols + 0.5, 2.2 * rows + 0.3)
    for i, k in enumerate(picks):
        ax = fig.add_subplot(rows, cols, i + 1)
        fit = fits[k]
        n = _float_attr(fit, "n") or 1.0
        loss = fit["sample_stats"]["loss"].transpose("chain", "draw").values * n
        for c in range(loss.shape[0]):
            ax.plot(loss[c], color=_colour(c), lw=0.5, alpha=0.8)
        beta = _float_attr(fit, "beta")
        ax.set_title(f"t{k}: β = {beta:.3g}" if beta is not None else f"t{k}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, lw=0.3, alpha=0.5)
    fig.supxlabel("draw", fontsize=8)
    fig.supylabel("$nL_n(w)$ per chain", fontsize=8)
    fig.tight_layout()
    return fig
