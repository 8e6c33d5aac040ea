r"""``slt.llc_trajectory``: the local learning coefficient along a training run.

At checkpoints :math:`w_{t_1}, \dots, w_{t_K}` of one training run (:func:`slt.train.train`),
:func:`llc_trajectory` estimates

.. math::

    \hat\lambda(w_{t_k}) = n\beta\,\bigl(\mathbb{E}_{w \mid w_{t_k},\beta,\gamma}[L_n(w)]
    - L_n(w_{t_k})\bigr), \qquad k = 1, \dots, K,

with :func:`slt.llc` at every checkpoint under the same settings and the same seed, so that the
estimates differ only by the point :math:`w_{t_k}` (the same minibatch order and the same
noise draws). Plotted against the training step, :math:`\hat\lambda` shows the stage-wise
development of a network: plateaus of the LLC between transitions, drops and jumps where the
loss landscape changes its geometry (Chen, Lau, Mendel, Wei & Murfet 2023, *Dynamical versus
Bayesian phase transitions in a toy model of superposition*, arXiv:2310.06301; Hoogland, Wang,
Farrugia-Roberts, Carroll, Wei & Murfet 2025, *Loss landscape geometry reveals stagewise
development of transformers*, arXiv:2402.02364). Note that an LLC estimate assumes
:math:`w_{t_k}` is a local minimum of :math:`L_n`; early in training it is not, and the
verdict of such checkpoints says so (``"not at a minimum"``).
"""

import inspect
import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from slt._types import ArrayTree, Batch
from slt.data import check_data
from slt.diagnostics.convert import attr_value
from slt.errors import DivergenceError, DivergenceWarning
from slt.gradient import full_loss
from slt.posterior import LossFn
from slt.result import LLCResult
from slt.train import Checkpoint
from slt.tree import tree_size
from slt.workflows.checks import check_int, check_params, resolve_nbeta
from slt.workflows.llc import llc, resolve_batching

__all__ = ["DIVERGED", "ESTIMATOR", "llc_trajectory"]

#: The verdict recorded for a checkpoint at which every chain diverged.
DIVERGED = "diverged"
#: The root attr ``estimator`` of a trajectory (:func:`slt.load` gives it back as a DataTree).
ESTIMATOR = "llc_trajectory"

# Root attrs of an slt.llc result that describe one run, not the settings shared by all runs.
_PER_RUN = {
    "estimator",
    "init_loss",
    "init_loss_sd",
    "llc",
    "llc_uncorrected",
    "llc_mcse",
    "llc_per_chain",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "num_diverging",
    "num_restarted",
    "grad_noise_per_chain",
    "noise_temperature",
    "noise_bias",
    "verdict",
    "frac_below_init",
}
# Per-checkpoint scalars copied from each run's root attrs.
_SCALARS = (
    "llc",
    "llc_uncorrected",
    "llc_mcse",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "noise_temperature",
    "noise_bias",
    "frac_below_init",
)
_RESERVED = {
    *_SCALARS,
    "llc_per_chain",
    "init_loss",
    "num_diverging",
    "num_restarted",
    "verdict",
    "train_loss",
}
_LLC_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(llc).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY
}


def llc_trajectory(
    loss_fn: LossFn,
    checkpoints: Sequence[Checkpoint] | Sequence[ArrayTree],
    data: Batch,
    *,
    steps: Sequence[int] | None = None,
    progress: bool | Literal["auto"] = "auto",
    **llc_kwargs: Any,
) -> xr.DataTree:
    r"""Estimate :math:`\hat\lambda(w_t)` at every checkpoint of a training run.

    Runs :func:`slt.llc` at each checkpoint with the same ``llc_kwargs`` (the same seed
    included), so the estimates differ only by the point, and gathers the results into one
    DataTree indexed by the training step.

    Parameters
    ----------
    loss_fn, data
        As in :func:`slt.llc`: the mean negative log-likelihood over a batch and the training
        set (the one the checkpoints were trained on: :math:`L_n` is the training loss).
    checkpoints
        The :class:`slt.train.Checkpoint` list of :func:`slt.train.train` (each carries its
        step, its full-data training loss and its held-out metrics), or a list of parameter
        pytrees with ``steps`` given (their training loss is then computed here).
    steps
        The training step of each parameter pytree; only with pytrees (a checkpoint carries its
        own). Steps must be distinct.
    progress
        Passed to every :func:`slt.llc` call (a progress line per checkpoint).
    **llc_kwargs
        Any keyword argument of :func:`slt.llc` (``nbeta``, ``gamma``, ``step_size``,
        ``num_chains``, ``num_draws``, ``batch_size``, ``sampler``, ``seed``, ...), the same for
        every checkpoint. ``step_size="auto"`` is refused: calibrate once (e.g. at the final
        checkpoint with :func:`slt.calibrate`) and pass the number, so that every checkpoint
        is sampled with the same step. ``params_every`` is refused too: a trajectory keeps no
        parameter draws.

    Returns
    -------
    xarray.DataTree
        Root dataset over the dimension ``checkpoint`` (coordinate: the training step):
        ``llc``, ``llc_uncorrected``, ``llc_mcse``, ``rhat``, ``ess_bulk``, ``ess_tail``,
        ``noise_temperature``, ``noise_bias``, ``frac_below_init``, ``num_diverging``,
        ``num_restarted`` (chains a hot burn-in diverged, started over at w\*; NaN where
        every chain diverged), ``verdict`` (strings; see :mod:`slt.diagnostics.verdict`),
        ``train_loss``, every checkpoint metric (e.g. ``test_loss``, ``test_accuracy``; NaN
        where a checkpoint lacks it), and ``llc_per_chain`` and ``init_loss`` over
        (checkpoint, chain). Group ``sample_stats``: the sample stats of
        every run (``loss``, ``diverging``, ...) over (checkpoint, chain, draw), so ArviZ
        functions with ``sample_dims=("chain", "draw")`` give one value per checkpoint. Root
        attrs: the :func:`slt.llc` settings (``nbeta``, ``gamma``, ``step_size``, ``seed``, ...)
        and ``estimator = "llc_trajectory"``. :func:`slt.io.save` writes it and :func:`slt.load`
        reads it back as a DataTree.

    Warns
    -----
    DivergenceWarning
        When every chain diverges at a checkpoint: its estimates are NaN, its verdict
        ``"diverged"``, its sample stats NaN (``diverging`` True), and the run goes on. The
        warning names the step. A partial divergence warns as in :func:`slt.llc`.

    Raises
    ------
    ValueError
        On an empty or mixed checkpoint list, missing, extra or repeated ``steps``, a metric
        named like a trajectory variable, ``step_size="auto"`` or ``params_every``.
    TypeError
        On a keyword argument :func:`slt.llc` does not take.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, optax, slt
    >>> from slt.train import train
    >>> x = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    >>> y = x @ np.array([1.0, -2.0, 0.5], np.float32) + np.random.default_rng(1).normal(
    ...     size=500).astype(np.float32)
    >>> loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w) ** 2)
    >>> run = train(loss, jnp.zeros(3), {"x": x, "y": y}, num_steps=300, batch_size=50,
    ...             optimizer=optax.sgd(0.05), checkpoint_every=100)
    >>> tree = slt.llc_trajectory(loss, run.checkpoints[1:], {"x": x, "y": y}, step_size=4e-4,
    ...                           batch_size=100, num_chains=2, num_draws=500, progress=False)
    >>> tree["llc"].dims, tree["checkpoint"].values.tolist()
    (('checkpoint',), [100, 200, 300])
    >>> tree["sample_stats"]["loss"].dims
    ('checkpoint', 'chain', 'draw')
    >>> # a regular model at every point: d/2 = 1.5, within three MCSE (about 0.15 here)
    >>> bool(np.all(np.abs(tree["llc"] - 1.5) < 3 * tree["llc_mcse"]))
    True
    """
    points, step_list, train_losses, metrics = _unpack_checkpoints(checkpoints, steps)
    unknown = sorted(set(llc_kwargs) - set(_LLC_DEFAULTS))
    if unknown:
        raise TypeError(f"llc_trajectory() got keyword arguments slt.llc does not take: {unknown}")
    if isinstance(llc_kwargs.get("step_size"), str):
        raise ValueError(
            "step_size='auto' would calibrate each checkpoint to its own step; calibrate once "
            "(e.g. slt.calibrate at the final checkpoint) and pass that step_size, so every "
            "checkpoint is sampled with the same settings"
        )
    if llc_kwargs.get("params_every", 0):
        raise ValueError(
            "params_every: llc_trajectory keeps no parameter draws; run slt.llc at the "
            "checkpoint whose posterior you want to inspect"
        )
    for params in points:
        check_params(params)
    if len(set(step_list)) != len(step_list):
        raise ValueError(f"steps must be distinct; got {step_list}")
    n = check_data(data)
    settings = _settings(n, points[0], llc_kwargs)

    results: list[LLCResult | None] = []
    for step, params in zip(step_list, points, strict=True):
        try:
            results.append(llc(loss_fn, params, data, progress=progress, **llc_kwargs))
        except DivergenceError as err:
            warnings.warn(
                f"every chain diverged at the checkpoint of step {step}; its LLC is recorded as "
                f"NaN with verdict {DIVERGED!r} ({err})",
                DivergenceWarning,
                stacklevel=2,
            )
            results.append(None)
    for i, params in enumerate(points):
        if train_losses[i] is None:
            train_losses[i] = float(full_loss(loss_fn, params, data))

    first = next((r for r in results if r is not None), None)
    if first is not None:  # what slt.llc resolved too (num_devices, diagnostic_block, ...)
        attrs = first.datatree.attrs
        settings.update({str(k): v for k, v in attrs.items() if k not in _PER_RUN})
    settings["estimator"] = ESTIMATOR
    settings["num_checkpoints"] = len(points)
    num_chains = int(settings["num_chains"])
    root = _root_dataset(results, step_list, train_losses, metrics, num_chains)
    root.attrs = settings
    stats = _sample_stats(results, step_list, num_chains, int(settings["num_draws"]))
    return xr.DataTree.from_dict({"/": root, "sample_stats": stats})


def _unpack_checkpoints(
    checkpoints: Sequence[Checkpoint] | Sequence[ArrayTree], steps: Sequence[int] | None
) -> tuple[list[ArrayTree], list[int], list[float | None], dict[str, list[float]]]:
    """Parameters, steps, training losses (None: to compute) and metrics (NaN where missing)."""
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("checkpoints is empty: give at least one checkpoint")
    kinds = {isinstance(c, Checkpoint) for c in checkpoints}
    if len(kinds) > 1:
        raise ValueError("checkpoints mixes slt.train.Checkpoint and plain parameter pytrees")
    if kinds == {True}:
        if steps is not None:
            raise ValueError("steps: give it only with parameter pytrees (a Checkpoint has a step)")
        cps: list[Checkpoint] = checkpoints
        step_list = [int(c.step) for c in cps]
        losses: list[float | None] = [float(c.train_loss) for c in cps]
        names = list(dict.fromkeys(name for c in cps for name in c.metrics))
        clash = sorted(set(names) & (_RESERVED | {"checkpoint", "chain", "draw"}))
        if clash:
            raise ValueError(f"checkpoint metrics {clash} clash with trajectory variable names")
        metrics = {name: [float(c.metrics.get(name, math.nan)) for c in cps] for name in names}
        return [c.params for c in cps], step_list, losses, metrics
    if steps is None:
        raise ValueError("steps: required when checkpoints are parameter pytrees")
    step_list = [check_int("steps", s, low=0) for s in steps]
    if len(step_list) != len(checkpoints):
        raise ValueError(f"steps has {len(step_list)} entries for {len(checkpoints)} checkpoints")
    return list(checkpoints), step_list, [None] * len(checkpoints), {}


def _settings(n: int, params: ArrayTree, llc_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The root attrs shared by every run: slt.llc's settings as netCDF-safe values."""
    given = _LLC_DEFAULTS | llc_kwargs
    given.pop("progress")
    nbeta = resolve_nbeta(n, given.pop("nbeta"), given.pop("beta"))
    options = given.pop("sampler_options") or {}
    # "coordinates" is a reserved netCDF (CF) attribute: slt.llc records it under this name.
    given["sampled_coordinates"] = given.pop("coordinates")
    given["batching"], given["noise_correction"] = resolve_batching(
        n, given["batch_size"], given["batching"], given["sampler"], given["noise_correction"]
    )
    settings: dict[str, Any] = {
        "inference_library": "slt",
        "n": n,
        "num_params": tree_size(params),
        "nbeta": nbeta,
        "beta": nbeta / n,
    }
    settings |= given | {f"sampler_{k}": v for k, v in options.items()}
    return {k: attr_value(v) for k, v in settings.items()}


def _root_dataset(
    results: list[LLCResult | None],
    steps: list[int],
    train_losses: list[float | None],
    metrics: dict[str, list[float]],
    num_chains: int,
) -> xr.Dataset:
    """Per-checkpoint estimates, diagnostics, verdicts and losses."""
    nan_chains = np.full(num_chains, np.nan)

    def column(fn: Any, empty: Any) -> list[Any]:
        return [empty if r is None else fn(r) for r in results]

    per_run: dict[str, Any] = {
        name: ("checkpoint", np.array(column(lambda r, k=name: float(r.datatree.attrs[k]), np.nan)))
        for name in _SCALARS
    }
    per_run["llc_per_chain"] = (
        ("checkpoint", "chain"),
        np.stack(column(lambda r: np.asarray(r.llc_per_chain, np.float64), nan_chains)),
    )
    per_run["init_loss"] = (
        ("checkpoint", "chain"),
        np.stack(column(lambda r: np.asarray(r.init_loss, np.float64), nan_chains)),
    )
    per_run["num_diverging"] = (
        "checkpoint",
        np.array(column(lambda r: r.num_diverging, num_chains), np.int64),
    )
    per_run["num_restarted"] = (  # chains the hot burn-in diverged (NaN: no run)
        "checkpoint",
        np.array(column(lambda r: r.datatree.attrs["num_restarted"], np.nan), np.float64),
    )
    per_run["verdict"] = ("checkpoint", np.array(column(lambda r: r.verdict, DIVERGED), str))
    per_run["train_loss"] = ("checkpoint", np.array(train_losses, np.float64))
    for name, values in metrics.items():
        per_run[name] = ("checkpoint", np.array(values, np.float64))
    coords = {"checkpoint": np.array(steps, np.int64), "chain": np.arange(num_chains)}
    return xr.Dataset(per_run, coords=coords)


def _sample_stats(
    results: list[LLCResult | None], steps: list[int], num_chains: int, num_draws: int
) -> xr.Dataset:
    """Every run's sample stats stacked over a leading ``checkpoint`` dimension; a run where
    every chain diverged is NaN (``diverging`` True)."""
    done = [r.datatree["sample_stats"].to_dataset() for r in results if r is not None]
    if done:
        template = done[0]
        names = [str(v) for v in template.data_vars]
        shapes = {v: template[v].transpose("chain", "draw").shape for v in names}
        dtypes = {v: template[v].dtype for v in names}
        attrs = dict(template.attrs)
    else:
        names = ["loss", "diverging"]
        shapes = dict.fromkeys(names, (num_chains, num_draws))
        dtypes = {"loss": np.dtype(np.float32), "diverging": np.dtype(bool)}
        attrs = {}

    def blank(name: str) -> np.ndarray:
        if dtypes[name].kind == "b":
            return np.full(shapes[name], name == "diverging")
        return np.full(shapes[name], np.nan, np.result_type(dtypes[name], np.float32))

    stacked = {}
    for name in names:
        rows = [
            blank(name)
            if r is None
            else np.asarray(r.datatree["sample_stats"][name].transpose("chain", "draw").values)
            for r in results
        ]
        stacked[name] = (("checkpoint", "chain", "draw"), np.stack(rows))
    coords = {
        "checkpoint": np.array(steps, np.int64),
        "chain": np.arange(shapes[names[0]][0]),
        "draw": np.arange(shapes[names[0]][1]),
    }
    return xr.Dataset(stacked, coords=coords, attrs=attrs)
