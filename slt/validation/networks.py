r"""Validation on neural networks, where no exact learning coefficient is known.

Three cases (``slt validate --suite networks``; results and discussion in ``docs/networks.md``):

* **ReLU rescaling invariance.** For a ReLU layer, :math:`(W_1, b_1, W_2) \mapsto (\alpha W_1,
  \alpha b_1, W_2/\alpha)` leaves the function, hence the likelihood and the learning
  coefficient, unchanged, while the Hessian trace and every other curvature measure change with
  :math:`\alpha` (Dinh, Pascanu, Bengio & Bengio 2017, arXiv:1703.04933). Lau, Furman, Wang,
  Murfet & Wei (2025, arXiv:2308.12108) measured :math:`\hat\lambda \approx 165\text{--}168` over
  :math:`\alpha \in [10^{-4}, 10^4]` with per-layer preconditioning. Here a 64-32-10 ReLU MLP is
  trained on the digits, rescaled, and its LLC estimated with RMSProp-SGLD in per-leaf
  normalized coordinates (``slt.llc(coordinates="normalized")``: u = w / RMS of each leaf at
  :math:`w^\ast`) next to the Hutchinson Hessian trace. Pass: every :math:`\hat\lambda` within
  :data:`RESCALE_REL_TOL` of its :math:`\alpha = 1` value. In raw coordinates neither the
  localization :math:`\tfrac\gamma2\lVert w - w^\ast\rVert^2` (one :math:`\gamma` for every
  coordinate) nor RMSProp's :math:`\epsilon/\sqrt{\hat v}` step is invariant (the step scales as
  :math:`\alpha` on the rescaled layer where invariance needs :math:`\alpha^2`), and the case
  fails (−60% at α = 10); in normalized coordinates the rescaling leaves u, the loss in u, the
  preconditioner and the localization unchanged, and it passes (docs/networks.md).
* **Digits CNN** (:class:`slt.nets.CNN`) and a **small Transformer on modular addition**
  (:class:`slt.nets.Transformer`, p = 23): trained here, then one LLC run each. Pass: the
  verdict is ``"trustworthy"`` (R-hat, ESS, MCSE, noise temperature,
  :mod:`slt.diagnostics.verdict`).

Every case returns a plain dict (JSON-ready); :func:`run_networks` returns them in a list and
:func:`to_markdown` renders them.
"""

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from slt._types import ArrayTree, Batch
from slt.tree import tree_size

__all__ = [
    "CNN_SETTINGS",
    "RESCALE_ALPHAS",
    "RESCALE_REL_TOL",
    "RESCALE_SETTINGS",
    "TRANSFORMER_SETTINGS",
    "accuracy_fn",
    "cnn_case",
    "llc_record",
    "rescale_relu",
    "rescaling_case",
    "run_networks",
    "to_markdown",
    "train_digits_mlp",
    "transformer_case",
    "write_rescaling_plot",
]

RESCALE_ALPHAS = (1e-2, 1e-1, 1.0, 10.0, 1e2)
"""The rescaling factors α of the invariance case."""

RESCALE_REL_TOL = 0.05
"""Every λ̂(α) must be within 5% of λ̂(1)."""

# slt.llc settings of each case (measured on 2 CPU cores; docs/networks.md says how they were
# chosen). nβ is the slt.llc default n / log n throughout.
RESCALE_SETTINGS: dict[str, Any] = dict(
    coordinates="normalized",  # one gamma and step per leaf relative to its scale
    sampler="rmsprop_sgld",
    step_size=1e-4,
    gamma=1.0,
    batch_size=1438,  # the whole training set: no minibatch noise (tau = 0)
    sampler_options=dict(eps=1e-4),
    num_chains=4,
    num_draws=6000,
    num_burnin=500,
)
CNN_SETTINGS: dict[str, Any] = dict(
    sampler="sgld",
    step_size=1e-4,
    gamma=100.0,
    batch_size=256,
    num_chains=4,
    num_draws=3000,
    num_burnin=1000,
)
TRANSFORMER_SETTINGS: dict[str, Any] = dict(
    sampler="sgld",
    step_size=1e-4,
    gamma=100.0,
    batch_size=128,
    num_chains=4,
    num_draws=4000,
    num_burnin=1000,
)


def rescale_relu(params: dict[Any, Any], alpha: float, first: Any = 0, second: Any = 1) -> dict:
    r"""``params`` with layer ``first`` (kernel and bias) times α and layer ``second``'s kernel
    divided by α: the same function when a ReLU sits between the two layers.

    ``params`` is the plain dict of :func:`slt.adapters.from_nnx` for an :class:`slt.nets.MLP`
    (``params["layers"][i]["kernel" | "bias"]``); the input is not modified.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> p = {"layers": {0: {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)},
    ...                 1: {"kernel": jnp.ones((3, 1)), "bias": jnp.zeros(1)}}}
    >>> q = rescale_relu(p, 10.0)
    >>> float(q["layers"][0]["bias"][0]), round(float(q["layers"][1]["kernel"][0, 0]), 6)
    (10.0, 0.1)
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be positive (ReLU is positively homogeneous); got {alpha!r}")
    layers = dict(params["layers"])
    one, two = dict(layers[first]), dict(layers[second])
    one["kernel"] = one["kernel"] * alpha
    if "bias" in one:
        one["bias"] = one["bias"] * alpha
    two["kernel"] = two["kernel"] / alpha
    layers[first], layers[second] = one, two
    return {**params, "layers": layers}


def accuracy_fn(apply: Callable[[ArrayTree, Any], jax.Array], *, last: bool = False):
    """``fn(params, batch) -> accuracy`` of ``argmax apply(params, x)`` against ``batch["y"]``
    (at the last position of a sequence model with ``last=True``)."""

    def fn(params: ArrayTree, batch: Batch) -> float:
        logits = apply(params, batch["x"])
        logits = logits[:, -1] if last else logits
        return float(jnp.mean(jnp.argmax(logits, axis=-1) == batch["y"]))

    return fn


def _metrics(loss_fn, accuracy, params, train: Batch, test: Batch) -> dict[str, float]:
    return {
        "train_loss": float(loss_fn(params, train)),
        "test_loss": float(loss_fn(params, test)),
        "train_accuracy": accuracy(params, train),
        "test_accuracy": accuracy(params, test),
    }


def llc_record(result: Any, seconds: float) -> dict[str, Any]:
    """The numbers of one :func:`slt.llc` result that the tables show."""
    attrs = result.datatree.attrs
    return {
        "llc": float(result.llc),
        "mcse": float(result.mcse),
        "rhat": float(result.rhat),
        "ess": float(result.ess_bulk),
        "noise_temperature": float(attrs["noise_temperature"]),
        "verdict": str(attrs["verdict"]),
        "num_diverging": int(result.num_diverging),
        "seconds": seconds,
    }


def _llc(loss_fn, params, data, settings: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """:func:`slt.llc` with ``settings``; the noise-temperature warning is recorded (τ̂ and the
    verdict), not raised, so one hot run does not end the suite."""
    import warnings

    from slt.errors import DivergenceError, NoiseTemperatureWarning
    from slt.workflows.llc import llc

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoiseTemperatureWarning)
            res = llc(loss_fn, params, data, seed=seed, progress=False, **settings)
    except DivergenceError:
        nan = math.nan
        return {
            "llc": nan,
            "mcse": nan,
            "rhat": nan,
            "ess": nan,
            "noise_temperature": nan,
            "verdict": "diverged",
            "num_diverging": int(settings.get("num_chains", 8)),
            "seconds": time.perf_counter() - start,
        }
    return llc_record(res, time.perf_counter() - start)


def fit_adamw(
    model: Any,
    train_data: Batch,
    *,
    num_steps: int,
    seed: int,
    batch_size: int = 128,
    weight_decay: float = 1e-2,
    checkpoint_every: int | None = None,
) -> Any:
    """Train an adapted model (:func:`slt.adapters.from_nnx`) with the validation cases' optimizer,
    AdamW at learning rate 3e-3 (:func:`slt.train.train`)."""
    from slt.train import train

    return train(
        model.loss_fn,
        model.params,
        train_data,
        num_steps=num_steps,
        batch_size=batch_size,
        optimizer=optax.adamw(3e-3, weight_decay=weight_decay),
        checkpoint_every=checkpoint_every,
        seed=seed,
    )


def train_digits_mlp(
    hidden: int = 32, *, num_steps: int = 1000, seed: int = 0
) -> tuple[Any, dict, Batch, Batch, dict[str, float]]:
    """A ``64 -> hidden -> 10`` ReLU MLP trained on the flattened digits (AdamW, 3e-3, weight
    decay 1e-2, batch 128). Returns ``(model, params, train, test, metrics)``."""
    from flax import nnx

    from slt.adapters.nnx import from_nnx
    from slt.nets import MLP, classification_loss, digits

    train_data, test_data = digits(flat=True, seed=seed)
    model = from_nnx(MLP(64, [hidden], 10, rngs=nnx.Rngs(seed)), classification_loss)
    run = fit_adamw(model, train_data, num_steps=num_steps, seed=seed)
    params = jax.tree.map(jnp.asarray, run.params)
    acc = accuracy_fn(lambda p, x: model.merge(p)(x))
    return (
        model,
        params,
        train_data,
        test_data,
        _metrics(model.loss_fn, acc, params, train_data, test_data),
    )


def rescaling_case(
    *,
    alphas: Sequence[float] = RESCALE_ALPHAS,
    settings: dict[str, Any] | None = None,
    hidden: int = 32,
    train_steps: int = 1000,
    hessian_samples: int = 100,
    rel_tol: float = RESCALE_REL_TOL,
    echo: bool = False,
) -> dict[str, Any]:
    """The ReLU rescaling case: one row per α, and whether every λ̂ is within ``rel_tol`` of
    λ̂(α = 1) while the function is unchanged.

    The rows hold α, the training loss after rescaling (``loss``; it must equal the α = 1
    value to float precision), the Hutchinson Hessian trace and its standard error, the LLC
    record (:func:`llc_record`) and ``rel_diff`` = λ̂(α)/λ̂(1) − 1.
    """
    from slt.geometry.hutchinson import hessian_trace

    settings = dict(RESCALE_SETTINGS if settings is None else settings)
    alphas = sorted({1.0, *map(float, alphas)})
    model, params, train_data, test_data, metrics = train_digits_mlp(hidden, num_steps=train_steps)
    rows = []
    for alpha in alphas:
        scaled = rescale_relu(params, alpha)
        trace = hessian_trace(
            model.loss_fn, scaled, train_data, num_samples=hessian_samples, probe_batch=10
        )
        row = {
            "alpha": alpha,
            "loss": float(model.loss_fn(scaled, train_data)),
            "hessian_trace": trace.estimate,
            "hessian_trace_se": trace.se,
            **_llc(model.loss_fn, scaled, train_data, settings),
        }
        rows.append(row)
        if echo:
            print(_rescale_line(row), flush=True)
    base = next(r for r in rows if r["alpha"] == 1.0)
    for r in rows:
        r["rel_diff"] = r["llc"] / base["llc"] - 1.0
        r["loss_rel_change"] = abs(r["loss"] / base["loss"] - 1.0)
    invariant_fn = all(r["loss_rel_change"] < 1e-4 for r in rows)
    within = all(abs(r["rel_diff"]) <= rel_tol for r in rows)
    traces = [r["hessian_trace"] for r in rows]
    return {
        "case": "relu_rescaling",
        "model": f"MLP 64-{hidden}-10 (ReLU), digits",
        "num_params": tree_size(params),
        **metrics,
        "settings": _jsonable(settings),
        "rows": rows,
        "hessian_trace_range": max(traces) / min(traces) if min(traces) > 0 else math.inf,
        "function_unchanged": invariant_fn,
        "trustworthy_at_1": base["verdict"] == "trustworthy",
        "tolerance": rel_tol,
        "passed": bool(invariant_fn and within),
    }


def _rescale_line(row: dict[str, Any]) -> str:
    return (
        f"alpha={row['alpha']:g} loss={row['loss']:.6g} tr(H)={row['hessian_trace']:.4g} "
        f"llc={row['llc']:.2f}±{row['mcse']:.2f} rhat={row['rhat']:.3f} ess={row['ess']:.0f} "
        f"tau={row['noise_temperature']:.3g} verdict={row['verdict']}"
    )


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in settings.items()}


def cnn_case(
    *,
    settings: dict[str, Any] | None = None,
    channels: Sequence[int] = (8, 16),
    train_steps: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The digits CNN: train (AdamW 3e-3, weight decay 1e-2, batch 128), then one LLC run."""
    from flax import nnx

    from slt.adapters.nnx import from_nnx
    from slt.nets import CNN, classification_loss, digits

    settings = dict(CNN_SETTINGS if settings is None else settings)
    train_data, test_data = digits(seed=seed)
    model = from_nnx(CNN(10, channels=tuple(channels), rngs=nnx.Rngs(seed)), classification_loss)
    start = time.perf_counter()
    run = fit_adamw(model, train_data, num_steps=train_steps, seed=seed)
    train_seconds = time.perf_counter() - start
    params = jax.tree.map(jnp.asarray, run.params)
    acc = accuracy_fn(lambda p, x: model.merge(p)(x))
    record = _llc(model.loss_fn, params, train_data, settings, seed=seed)
    return {
        "case": "digits_cnn",
        "model": f"CNN channels {tuple(channels)}, digits",
        "num_params": tree_size(params),
        "n": len(train_data["y"]),
        **_metrics(model.loss_fn, acc, params, train_data, test_data),
        "train_seconds": train_seconds,
        "settings": _jsonable(settings),
        **record,
        "passed": record["verdict"] == "trustworthy",
    }


def transformer_case(
    *,
    settings: dict[str, Any] | None = None,
    p: int = 23,
    train_fraction: float = 0.8,
    d_model: int = 32,
    num_heads: int = 2,
    num_layers: int = 1,
    d_mlp: int = 64,
    train_steps: int = 3000,
    seed: int = 0,
) -> dict[str, Any]:
    """A one-layer Transformer on modular addition mod ``p``: train (AdamW 3e-3, weight decay
    1.0, full batch), then one LLC run."""
    from flax import nnx

    from slt.adapters.nnx import from_nnx
    from slt.nets import Transformer, modular_addition, modular_addition_loss

    settings = dict(TRANSFORMER_SETTINGS if settings is None else settings)
    train_data, test_data = modular_addition(p, train_fraction=train_fraction, seed=seed)
    net = Transformer(
        vocab_size=p + 1,
        max_len=3,
        d_model=d_model,
        num_heads=num_heads,
        num_layers=num_layers,
        d_mlp=d_mlp,
        out_features=p,
        rngs=nnx.Rngs(seed),
    )
    model = from_nnx(net, modular_addition_loss)
    n = len(train_data["y"])
    start = time.perf_counter()
    run = fit_adamw(
        model, train_data, num_steps=train_steps, seed=seed, batch_size=n, weight_decay=1.0
    )
    train_seconds = time.perf_counter() - start
    params = jax.tree.map(jnp.asarray, run.params)
    acc = accuracy_fn(lambda w, x: model.merge(w)(x), last=True)
    record = _llc(model.loss_fn, params, train_data, settings, seed=seed)
    return {
        "case": "modadd_transformer",
        "model": (
            f"Transformer L={num_layers} d={d_model} H={num_heads} mlp={d_mlp}, (a+b) mod {p}"
        ),
        "num_params": tree_size(params),
        "n": n,
        **_metrics(model.loss_fn, acc, params, train_data, test_data),
        "train_seconds": train_seconds,
        "settings": _jsonable(settings),
        **record,
        "passed": record["verdict"] == "trustworthy",
    }


def run_networks(*, echo: bool = False) -> list[dict[str, Any]]:
    """Every network case with its documented settings, in order: rescaling, CNN, Transformer."""
    results = []
    for make in (rescaling_case, cnn_case, transformer_case):
        start = time.perf_counter()
        result = make(echo=echo) if make is rescaling_case else make()
        result["seconds_total"] = time.perf_counter() - start
        results.append(result)
        if echo:
            print(f"{result['case']}: passed={result['passed']}", flush=True)
    return results


def _fmt(value: Any, spec: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan"
    return format(value, spec)


def to_markdown(results: list[dict[str, Any]], title: str = "slt validate --suite networks") -> str:
    """The network cases as a Markdown report: the rescaling table, then one table of the
    trained networks, then pass/fail per case.

    Examples
    --------
    >>> row = {"alpha": 1.0, "loss": 0.03, "hessian_trace": 9.5, "hessian_trace_se": 0.5,
    ...        "llc": 40.0, "mcse": 1.0, "rhat": 1.0, "ess": 300.0, "noise_temperature": 0.01,
    ...        "verdict": "trustworthy", "rel_diff": 0.0}
    >>> case = {"case": "relu_rescaling", "model": "MLP", "num_params": 10, "rows": [row],
    ...         "passed": True, "tolerance": 0.05, "settings": {}}
    >>> print(to_markdown([case]).splitlines()[-1])
    | relu_rescaling | MLP | passed |
    """
    lines = [f"# {title}", ""]
    for result in results:
        if result["case"] != "relu_rescaling":
            continue
        lines += [
            f"## ReLU rescaling: {result['model']}, d = {result['num_params']}",
            "",
            f"Settings: {_settings_text(result['settings'])}. Pass: every λ̂ within "
            f"{result['tolerance']:.0%} of λ̂(α = 1).",
            "",
            "| α | train loss | tr H (± se) | λ̂ ± MCSE | R-hat | ESS | τ̂ | verdict | λ̂/λ̂(1) − 1 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in result["rows"]:
            lines.append(
                f"| {r['alpha']:g} | {r['loss']:.6g} | {_fmt(r['hessian_trace'], '.4g')} "
                f"(± {_fmt(r['hessian_trace_se'], '.2g')}) | {_fmt(r['llc'], '.2f')} ± "
                f"{_fmt(r['mcse'], '.2f')} | {_fmt(r['rhat'], '.3f')} | {_fmt(r['ess'], '.0f')} | "
                f"{_fmt(r['noise_temperature'], '.3g')} | {r['verdict']} | "
                f"{_fmt(r['rel_diff'], '+.1%')} |"
            )
        lines.append("")
    nets = [r for r in results if r["case"] != "relu_rescaling"]
    if nets:
        lines += [
            "## Trained networks",
            "",
            "| case | d | n | train loss / acc | test loss / acc | λ̂ ± MCSE | R-hat | ESS | τ̂ "
            "| verdict | settings |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in nets:
            lines.append(
                f"| {r['case']} | {r['num_params']} | {r['n']} | {r['train_loss']:.4f} / "
                f"{r['train_accuracy']:.3f} | {r['test_loss']:.4f} / {r['test_accuracy']:.3f} | "
                f"{_fmt(r['llc'], '.2f')} ± {_fmt(r['mcse'], '.2f')} | {_fmt(r['rhat'], '.3f')} | "
                f"{_fmt(r['ess'], '.0f')} | {_fmt(r['noise_temperature'], '.3g')} | "
                f"{r['verdict']} | {_settings_text(r['settings'])} |"
            )
        lines.append("")
    lines += ["## Summary", "", "| case | model | result |", "|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | {r['model']} | {'passed' if r['passed'] else 'FAILED'} |")
    return "\n".join(lines)


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def write_rescaling_plot(result: dict[str, Any], path: str) -> None:
    """λ̂ (± 2 MCSE) and the Hessian trace against α, log axes, as a PNG at ``path``.

    The band is λ̂(1) ± the tolerance; open markers are runs whose verdict is not trustworthy.
    """
    from matplotlib.figure import Figure

    from slt.io import write_atomic
    from slt.report.figures import to_png

    rows = result["rows"]
    alpha = np.array([r["alpha"] for r in rows])
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    llc = np.array([r["llc"] for r in rows])
    ax.errorbar(
        alpha,
        llc,
        yerr=2 * np.array([r["mcse"] for r in rows]),
        marker="none",
        color="C0",
        capsize=3,
    )
    good = np.array([r["verdict"] == "trustworthy" for r in rows])
    ax.plot(alpha[good], llc[good], "o", color="C0", label="λ̂ (RMSProp-SGLD), ±2 MCSE")
    ax.plot(alpha[~good], llc[~good], "o", mfc="white", color="C0", label="λ̂, not trustworthy")
    base = next((r["llc"] for r in rows if r["alpha"] == 1.0), None)
    if base is not None:
        tol = result.get("tolerance", RESCALE_REL_TOL)
        ax.axhspan(base * (1 - tol), base * (1 + tol), color="C0", alpha=0.15, lw=0)
    ax.plot(
        alpha,
        np.array([r["hessian_trace"] for r in rows]),
        marker="s",
        color="C1",
        label="Hessian trace (Hutchinson)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α  (layer 1 × α, layer 2 kernel / α)")
    ax.set_title(f"ReLU rescaling: {result['model']}", fontsize=10)
    ax.legend(fontsize=8)
    write_atomic(path, to_png(fig))
