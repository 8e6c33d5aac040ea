r"""Four architectures on the digits at matched parameter counts (issue 6).

An MLP, a CNN, a small ResNet (GroupNorm) and a causal Transformer, each with
:math:`d \approx 4{,}600\text{--}5{,}100` parameters, are trained on scikit-learn's digits
(:func:`slt.nets.digits`, n = 1,438 training images) with the same optimizer until the same
training loss, and then compared by

* :math:`\hat\lambda` along training (:func:`slt.llc_trajectory` over the checkpoints) and at the
  final checkpoint, with the same :func:`slt.llc` settings for every architecture
  (:data:`LLC_SETTINGS`);
* :math:`\hat\lambda/d` and :math:`N_{\mathrm{eff}}(H, z = 1/n)/2` from the top ``k`` Hessian
  eigenvalues by Lanczos (:func:`slt.geometry.effective_parameters`; a lower bound when k < d);
* training and test loss and test accuracy.

Training protocol (:func:`train_architecture`): AdamW (learning rate 3e-3, weight decay 1e-2),
batch 128, a checkpoint every ``checkpoint_every`` steps; the *final* checkpoint is the first
whose full-data training cross-entropy is at most :data:`TARGET_LOSS` (the last one when
``max_steps`` runs out first, which the record says with ``reached_target``), and the
trajectory uses ``num_checkpoints`` checkpoints evenly spaced from the start to it. So every
network stops at the same training loss, after a different number of steps.

The Transformer reads the 8×8 image as a sequence of 8 row tokens of 8 pixels
(``input_dim=8``) and classifies from the last position, so its causal attention sees every row.

:func:`run_architectures` returns one JSON-ready dict per architecture; :func:`to_markdown`
renders the table and :func:`write_plot` the figure. ``validation/architectures.py`` is the
command line; ``docs/architectures.md`` the results and their discussion.
"""

import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.tree import tree_size
from slt.validation.networks import fit_adamw

__all__ = [
    "ARCHITECTURES",
    "COLUMNS",
    "LLC_SETTINGS",
    "QUICK",
    "TARGET_LOSS",
    "architecture_case",
    "build",
    "run_architectures",
    "to_markdown",
    "train_architecture",
    "write_plot",
]

ARCHITECTURES = ("MLP", "CNN", "ResNet", "Transformer")
"""The four architectures, in table order."""

TARGET_LOSS = 0.01
"""Training stops (the final checkpoint is taken) at this full-data training cross-entropy."""

LLC_SETTINGS: dict[str, Any] = dict(
    sampler="sgld",
    step_size=3e-4,
    gamma=10.0,
    batch_size=32,
    num_chains=4,
    num_draws=2500,
    num_burnin=500,
)
"""The :func:`slt.llc` settings shared by every architecture and checkpoint (nβ is the default
n / log n). docs/architectures.md says how they were chosen."""

QUICK: dict[str, Any] = dict(
    llc=dict(
        sampler="sgld",
        step_size=1e-4,
        gamma=10.0,
        batch_size=32,
        num_chains=2,
        num_draws=20,
        num_burnin=4,
    ),
    max_steps=20,
    checkpoint_every=10,
    num_train=128,
    num_checkpoints=1,
    lanczos_k=4,
    lanczos_iterations=8,
    target_loss=TARGET_LOSS,
)
"""Tiny settings for a smoke run (``--quick``): every code path, no meaningful numbers."""

COLUMNS = (
    "architecture",
    "d",
    "steps",
    "train loss",
    "test loss",
    "test acc",
    "λ̂ ± MCSE",
    "λ̂/d",
    "N_eff/2",
    "R-hat",
    "τ̂",
    "verdict",
)
"""The columns of :func:`to_markdown`'s table."""


def _seq_loss(model: Any, batch: Batch) -> jax.Array:
    """Cross-entropy of the logits at the last position of a sequence model."""
    from slt.nets import cross_entropy

    return cross_entropy(model(batch["x"])[:, -1], batch["y"])


def build(
    name: str, *, seed: int = 0, num_train: int | None = None
) -> tuple[Any, Batch, Batch, Callable]:
    """The architecture ``name`` as ``(model, train, test, accuracy)``.

    ``model`` is the :func:`slt.adapters.from_nnx` adapter (``.loss_fn``, ``.params``,
    ``.merge``), ``train`` and ``test`` the digits shaped for it (vectors of 64 for the MLP,
    8×8×1 images for the CNN and ResNet, 8 rows of 8 pixels for the Transformer) and
    ``accuracy(params, batch)`` its classification accuracy. ``num_train`` keeps only the
    first images of the training set (for smoke runs).

    Examples
    --------
    >>> from slt.tree import tree_size
    >>> model, train, test, acc = build("Transformer")
    >>> tree_size(model.params), train["x"].shape
    (4922, (1438, 8, 8))
    """
    from flax import nnx

    from slt.adapters.nnx import from_nnx
    from slt.nets import CNN, MLP, Transformer, classification_loss, digits, small_resnet

    rngs = nnx.Rngs(seed)
    train, test = digits(seed=seed)
    last = False
    if name == "MLP":
        net: Any = MLP(64, [64], 10, rngs=rngs)
        shape: tuple[int, ...] = (64,)
    elif name == "CNN":
        net = CNN(10, channels=(16, 24), rngs=rngs)
        shape = (8, 8, 1)
    elif name == "ResNet":
        net = small_resnet(10, widths=(8, 16), norm="group", groups=4, rngs=rngs)
        shape = (8, 8, 1)
    elif name == "Transformer":
        net = Transformer(
            input_dim=8,
            max_len=8,
            d_model=16,
            num_heads=2,
            num_layers=2,
            d_mlp=32,
            out_features=10,
            rngs=rngs,
        )
        shape, last = (8, 8), True
    else:
        raise ValueError(f"unknown architecture {name!r}; expected one of {ARCHITECTURES}")
    model = from_nnx(net, _seq_loss if last else classification_loss)
    train, test = ({"x": b["x"].reshape(-1, *shape), "y": b["y"]} for b in (train, test))
    if num_train is not None:
        train = {k: v[:num_train] for k, v in train.items()}

    def accuracy(params: ArrayTree, batch: Batch) -> float:
        logits = model.merge(params)(batch["x"])
        logits = logits[:, -1] if last else logits
        return float(jnp.mean(jnp.argmax(logits, axis=-1) == batch["y"]))

    return model, train, test, accuracy


def train_architecture(
    name: str,
    *,
    target_loss: float = TARGET_LOSS,
    max_steps: int = 1500,
    checkpoint_every: int = 25,
    num_checkpoints: int = 4,
    num_train: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``name`` (AdamW 3e-3, weight decay 1e-2, batch 128) until the training loss is at
    most ``target_loss`` and pick ``num_checkpoints`` checkpoints up to that point.

    Returns a dict with ``model``, ``train``, ``test``, ``accuracy``, ``checkpoints`` (the
    chosen :class:`slt.train.Checkpoint` list, the last being the final point), ``curve``
    (step and training loss of every checkpoint kept), ``reached_target`` and
    ``train_seconds``.
    """
    model, train_data, test_data, accuracy = build(name, seed=seed, num_train=num_train)
    start = time.perf_counter()
    run = fit_adamw(
        model, train_data, num_steps=max_steps, seed=seed, checkpoint_every=checkpoint_every
    )
    seconds = time.perf_counter() - start
    cps = run.checkpoints
    hit = [i for i, c in enumerate(cps) if c.train_loss <= target_loss]
    final = hit[0] if hit else len(cps) - 1
    want = np.linspace(0, cps[final].step, num_checkpoints + 1)[1:]
    picks = sorted({int(np.argmin([abs(c.step - w) for c in cps[: final + 1]])) for w in want})
    picks = [i for i in picks if cps[i].step > 0] or [final]
    return {
        "model": model,
        "train": train_data,
        "test": test_data,
        "accuracy": accuracy,
        "checkpoints": [cps[i] for i in picks],
        "curve": {
            "step": [int(c.step) for c in cps[: final + 1]],
            "train_loss": [float(c.train_loss) for c in cps[: final + 1]],
        },
        "reached_target": bool(hit),
        "train_seconds": seconds,
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def architecture_case(
    name: str,
    *,
    settings: dict[str, Any] | None = None,
    target_loss: float = TARGET_LOSS,
    max_steps: int = 1500,
    checkpoint_every: int = 25,
    num_checkpoints: int = 4,
    lanczos_k: int = 64,
    lanczos_iterations: int = 128,
    num_train: int | None = None,
    seed: int = 0,
    echo: bool = False,
) -> dict[str, Any]:
    """Train one architecture, estimate its LLC trajectory and the Hessian counts at the end.

    The LLC at every checkpoint uses ``settings`` (default :data:`LLC_SETTINGS`) through
    :func:`slt.llc_trajectory`; the noise-temperature warning is recorded (τ̂ and the verdict)
    rather than raised. :math:`N_{\\mathrm{eff}}` uses the top ``lanczos_k`` Hessian eigenvalues
    by magnitude (``lanczos_iterations`` Lanczos steps) with z = 1/n at the final checkpoint.

    Returns a JSON-ready dict: the row of the table (``d``, ``steps``, losses, accuracies,
    ``llc``, ``mcse``, ``llc_per_d``, ``n_eff``, ``half_n_eff``, ``n_eff_lower_bound``,
    ``rank``, ``hessian_top``, ``rhat``, ``ess``, ``noise_temperature``, ``verdict``) and the
    ``trajectory`` (step, λ̂, MCSE, R-hat, verdict and training loss per checkpoint) and
    ``curve`` (the training loss of every checkpoint up to the final one).
    """
    from slt.errors import NoiseTemperatureWarning
    from slt.geometry import effective_parameters
    from slt.workflows.trajectory import llc_trajectory

    settings = dict(LLC_SETTINGS if settings is None else settings)
    run = train_architecture(
        name,
        target_loss=target_loss,
        max_steps=max_steps,
        checkpoint_every=checkpoint_every,
        num_checkpoints=num_checkpoints,
        num_train=num_train,
        seed=seed,
    )
    model, train_data, test_data = run["model"], run["train"], run["test"]
    final = run["checkpoints"][-1]
    params = jax.tree.map(jnp.asarray, final.params)
    n = len(train_data["y"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoiseTemperatureWarning)
        tree = llc_trajectory(
            model.loss_fn, run["checkpoints"], train_data, progress=False, seed=seed, **settings
        )
    llc_seconds = time.perf_counter() - start
    ds = tree.to_dataset(inherit=False)
    last = {k: ds[k].values[-1] for k in ("llc", "llc_mcse", "rhat", "ess_bulk")}
    start = time.perf_counter()
    d = tree_size(params)
    ep = effective_parameters(
        model.loss_fn,
        params,
        train_data,
        method="lanczos",
        k=min(lanczos_k, d),
        num_iterations=min(lanczos_iterations, d),
        seed=seed,
    )
    hessian_seconds = time.perf_counter() - start
    llc_value = float(last["llc"])
    record = {
        "architecture": name,
        "d": d,
        "n": n,
        "steps": int(final.step),
        "reached_target": run["reached_target"],
        "train_loss": float(model.loss_fn(params, train_data)),
        "test_loss": float(model.loss_fn(params, test_data)),
        "train_accuracy": run["accuracy"](params, train_data),
        "test_accuracy": run["accuracy"](params, test_data),
        "llc": _finite(llc_value),
        "mcse": _finite(float(last["llc_mcse"])),
        "llc_per_d": _finite(llc_value / d),
        "n_eff": ep.n_eff,
        "half_n_eff": ep.half_n_eff,
        "n_eff_z": ep.z,
        "n_eff_lower_bound": ep.lower_bound,
        "lanczos_k": int(ep.eigenvalues.size),
        "rank": ep.rank,
        "rank_lower_bound": ep.rank_is_bound,
        "hessian_top": float(ep.eigenvalues[0]),
        "hessian_min_found": float(ep.eigenvalues[-1]),
        "rhat": _finite(float(last["rhat"])),
        "ess": _finite(float(last["ess_bulk"])),
        "noise_temperature": _finite(float(ds["noise_temperature"].values[-1])),
        "verdict": str(ds["verdict"].values[-1]),
        "nbeta": float(tree.attrs["nbeta"]),
        "settings": {k: (dict(v) if isinstance(v, dict) else v) for k, v in settings.items()},
        "train_seconds": run["train_seconds"],
        "llc_seconds": llc_seconds,
        "hessian_seconds": hessian_seconds,
        "trajectory": {
            "step": [int(s) for s in ds["checkpoint"].values],
            "llc": [_finite(float(v)) for v in ds["llc"].values],
            "mcse": [_finite(float(v)) for v in ds["llc_mcse"].values],
            "rhat": [_finite(float(v)) for v in ds["rhat"].values],
            "noise_temperature": [_finite(float(v)) for v in ds["noise_temperature"].values],
            "verdict": [str(v) for v in ds["verdict"].values],
            "train_loss": [float(v) for v in ds["train_loss"].values],
        },
        "curve": run["curve"],
    }
    if echo:
        print(_line(record), flush=True)
    return record


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['architecture']}: d={r['d']} steps={r['steps']} train={r['train_loss']:.4f} "
        f"test_acc={r['test_accuracy']:.3f} llc={_fmt(r['llc'], '.1f')}±{_fmt(r['mcse'], '.1f')} "
        f"N_eff/2={r['half_n_eff']:.1f} rhat={_fmt(r['rhat'], '.3f')} "
        f"tau={_fmt(r['noise_temperature'], '.3g')} verdict={r['verdict']} "
        f"traj={[_fmt(v, '.1f') for v in r['trajectory']['llc']]} "
        f"({r['train_seconds']:.0f}+{r['llc_seconds']:.0f}+{r['hessian_seconds']:.0f} s)"
    )


def run_architectures(
    names: Sequence[str] = ARCHITECTURES, *, quick: bool = False, echo: bool = False
) -> list[dict[str, Any]]:
    """:func:`architecture_case` for every name, with the full settings or :data:`QUICK`."""
    kwargs: dict[str, Any] = {}
    if quick:
        kwargs = {k: v for k, v in QUICK.items() if k != "llc"} | {"settings": QUICK["llc"]}
    return [architecture_case(name, echo=echo, **kwargs) for name in names]


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "nan"
    return format(value, spec)


def to_markdown(results: Sequence[dict[str, Any]]) -> str:
    """The table of :data:`COLUMNS`, one row per architecture, then the shared settings.

    Examples
    --------
    >>> r = {"architecture": "MLP", "d": 4810, "steps": 1200, "train_loss": 0.0099,
    ...      "test_loss": 0.08, "test_accuracy": 0.97, "llc": 90.0, "mcse": 2.0,
    ...      "llc_per_d": 0.0187, "half_n_eff": 120.0, "n_eff_lower_bound": True, "rhat": 1.01,
    ...      "noise_temperature": 0.01, "verdict": "trustworthy", "settings": {"gamma": 100.0},
    ...      "nbeta": 198.0, "n_eff_z": 0.0007, "lanczos_k": 100}
    >>> print(to_markdown([r]).splitlines()[2])
    | MLP | 4810 | 1200 | 0.0099 | 0.080 | 0.970 | 90.0 ± 2.0 | 0.0187 | ≥ 120.0 | 1.010 | 0.01 | trustworthy |
    """  # noqa: E501
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in results:
        bound = "≥ " if r["n_eff_lower_bound"] else ""
        lines.append(
            f"| {r['architecture']} | {r['d']} | {r['steps']} | {r['train_loss']:.4f} | "
            f"{r['test_loss']:.3f} | {r['test_accuracy']:.3f} | {_fmt(r['llc'], '.1f')} ± "
            f"{_fmt(r['mcse'], '.1f')} | {_fmt(r['llc_per_d'], '.4f')} | "
            f"{bound}{r['half_n_eff']:.1f} | {_fmt(r['rhat'], '.3f')} | "
            f"{_fmt(r['noise_temperature'], '.2g')} | {r['verdict']} |"
        )
    if results:
        r = results[0]
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        lines += [
            "",
            f"LLC settings (all architectures and checkpoints): {settings}, "
            f"nβ = n/log n = {r['nbeta']:.1f}. N_eff uses the top {r['lanczos_k']} Hessian "
            f"eigenvalues (Lanczos) with z = 1/n = {r['n_eff_z']:.3g}; ≥ marks a lower bound.",
        ]
    return "\n".join(lines)


def write_plot(results: Sequence[dict[str, Any]], path: str) -> None:
    """Two panels as a PNG at ``path``: λ̂ (± 2 MCSE) at each checkpoint against the training
    step, one line per architecture, and the training loss of every checkpoint (log scale)."""
    from matplotlib.figure import Figure

    from slt.io import write_atomic
    from slt.report.figures import to_png

    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for i, r in enumerate(results):
        t = r["trajectory"]
        llc = np.array([np.nan if v is None else v for v in t["llc"]], dtype=float)
        err = np.array([0.0 if v is None else 2 * v for v in t["mcse"]], dtype=float)
        colour = f"C{i}"
        label = f"{r['architecture']} (d = {r['d']})"
        left.errorbar(
            t["step"], llc, yerr=err, fmt="o-", color=colour, ms=4, capsize=3, label=label
        )
        ok = np.array([v == "trustworthy" for v in t["verdict"]])
        if ok.any():
            left.plot(np.asarray(t["step"])[ok], llc[ok], "o", mfc="none", mec="k", ms=9, lw=0)
        right.plot(r["curve"]["step"], r["curve"]["train_loss"], "-", color=colour, label=label)
    if any(v == "trustworthy" for r in results for v in r["trajectory"]["verdict"]):
        left.plot([], [], "o", mfc="none", mec="k", ms=9, label="verdict trustworthy")
    left.axhline(0.0, color="0.5", lw=0.6)
    left.set_xlabel("training step")
    left.set_ylabel("LLC $\\hat\\lambda(w_t)$, ±2 MCSE")
    left.set_title("LLC over training (same sampler settings)", fontsize=10)
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_xlabel("training step")
    right.set_ylabel("training cross-entropy $L_n(w_t)$")
    right.set_title("training loss", fontsize=10)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(True, lw=0.3, alpha=0.5)
    write_atomic(path, to_png(fig))
