r"""The chain driver: ``vmap`` over chains outside ``scan`` over steps, sharded over devices.

Each chain c, from its own key:

1. estimates :math:`\hat L^{(c)}(w^\ast)`, the mean of the minibatch losses at :math:`w^\ast`
   over one epoch of *its own* batch order (the same estimator as the trace, on the same data
   the trace visits first; Lau et al. 2025, §4, and the initial-loss bias measured on a peer
   library);
2. runs ``num_burnin`` steps whose statistics go to the warm-up trace;
3. runs ``num_draws`` blocks of ``steps_per_draw`` steps and keeps per-draw scalars only.

The burn-in compiles its step once: a hot burn-in's step size is chosen per step by a traced
flag. With one step per draw and no kept positions (the default), steps 2 and 3 are one ``scan``,
so the program holds the step once in all, which cuts its compile time (bench/compile_time.py).

A step is *diverging* when its loss or gradient norm is not finite, or when the tempered excess
loss :math:`n\beta(L_B(w_t) - \hat L(w^\ast))` exceeds a threshold: by default
:math:`100\,(d/2 + n\beta\,s^*)` with :math:`s^*` the chain's standard deviation of the minibatch
losses at :math:`w^\ast` -- a hundred times the largest excess a sampled chain can show (the
LLC is at most d/2, and minibatch noise moves the loss by about :math:`s^*`). The flag is sticky:
once a chain diverges, every later draw of it is marked too.

The whole run is one ``jit``-compiled call: no host synchronisation per step. Given an
:class:`AlgorithmBuilder`, the compiled program is kept and reused by later calls. When several
devices are visible, chains are split over them with :func:`jax.shard_map` (each device runs its
own chains; nothing is communicated), so the numbers do not depend on the device count.

With ``progress=True`` the program also reports its step counter to the host every 1% of the
steps, which draws a progress line on stderr: the step loops run in blocks of 1% of the steps,
each preceded by one unordered :func:`jax.debug.callback` with the step counter, which all chains
share (:func:`slt.progress.chunked_scan`); nothing is added to a step and the computation does
not wait on the host. With ``progress=False`` the program holds no callback at all.
"""

import functools
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from slt._types import ArrayTree, Batch, PRNGKey
from slt.base import SamplingAlgorithm
from slt.data import BATCHINGS, Batcher, batch_at
from slt.gradient import Anchor, control_variate, gradient_noise
from slt.progress import Progress, chunk_size, chunked_scan
from slt.tree import tree_size, tree_sq_norm, tree_sub

__all__ = ["AlgorithmBuilder", "Settings", "Trace", "chain_devices", "run_chains"]


class Trace(NamedTuple):
    """Output of :func:`run_chains`; arrays are (chain, draw) or (chain,), on the host.

    Attributes
    ----------
    init_loss
        Per-chain :math:`\\hat L(w^\\ast)`, shape (chain,).
    init_loss_sd
        Per-chain standard deviation of the minibatch losses at :math:`w^\\ast`, shape (chain,).
    sample_stats
        Per-draw statistics (``loss``, ``lp``, ``step_size``, ``grad_norm``, ``distance``,
        ``diverging`` and ``acceptance_rate`` when on), each (chain, draw).
    warmup_stats
        The same statistics over the burn-in steps, each (chain, burnin).
    positions
        Thinned parameter draws (leaves (chain, draw // params_every, ...)) or ``None``.
    grad_noise
        Per-chain :math:`\\operatorname{tr}\\mathrm{Var}(\\nabla L_B)/d` of the sampler's gradient
        estimator at the chain's last position (:func:`slt.gradient.gradient_noise`), shape
        (chain,); ``None`` when not measured.
    """

    init_loss: np.ndarray
    init_loss_sd: np.ndarray
    sample_stats: dict[str, np.ndarray]
    warmup_stats: dict[str, np.ndarray]
    positions: ArrayTree | None
    grad_noise: np.ndarray | None = None


def chain_devices(num_chains: int) -> list[jax.Device]:
    """The devices the chains are split over: the most devices that divide ``num_chains``."""
    devices = jax.devices()
    k = max(i for i in range(1, len(devices) + 1) if num_chains % i == 0)
    return devices[:k]


class Settings(NamedTuple):
    """The static settings of a run: changing any of them compiles a new program."""

    num_chains: int
    num_draws: int
    num_burnin: int = 0
    steps_per_draw: int = 1
    batch_size: int = 1
    params_every: int = 0
    shard: bool = True
    progress: bool = False
    diagnostic_every: int = 1
    batching: str = "reshuffle"
    trace: str = "minibatch"
    num_hot_burnin: int | None = None

    @property
    def total_steps(self) -> int:
        """Sampler steps per chain: burn-in and draws."""
        return self.num_burnin + self.num_draws * self.steps_per_draw


class AlgorithmBuilder(Hashable, Protocol):
    """Builds the sampler inside the compiled program from the center and traced settings.

    It must be hashable by value (a NamedTuple of hashables, a module-level function) so that
    runs with the same builder share one compiled program: ``hyper`` holds the numbers (step
    size, nβ, γ, ...) as traced scalars, so changing them does not recompile.
    """

    def __call__(self, center: ArrayTree, hyper: dict[str, jax.Array]) -> SamplingAlgorithm: ...


def _program(
    algorithm: SamplingAlgorithm,
    loss_fn,
    settings: Settings,
    nbeta,
    divergence_threshold,
    run_id=None,
    burnin_algorithm: Callable[[jax.Array], SamplingAlgorithm] | None = None,
):
    """``run(keys, center, data)``: every chain, vmapped and sharded (not jitted).

    With ``burnin_algorithm``, the burn-in steps take ``burnin_algorithm(hot)``: the same
    sampler, its state of the same structure, at the step size the traced flag ``hot`` picks.
    It is true for the first ``settings.num_hot_burnin`` steps (all when ``None``), so every
    burn-in step shares one compiled step. A chain the hot steps diverge starts over at the
    center (:func:`restart_step`). The kept draws take ``algorithm``.

    With ``settings.progress``, about every ``chunk_size(total_steps)`` steps the program reports
    the step counter to the :class:`~slt.progress.Progress` registered as ``run_id`` (a traced
    int); without, every loop is a plain ``scan``.
    """
    num_draws, steps_per_draw, params_every = (
        settings.num_draws,
        settings.steps_per_draw,
        settings.params_every,
    )
    groups, per_group = (
        (num_draws // params_every, params_every) if params_every else (1, num_draws)
    )
    chunk = chunk_size(settings.total_steps)
    report_to = run_id if settings.progress else None

    def scan(f, carry, starts, item_steps=1):
        # `starts` (step counters) are built from aranges, never batched over chains.
        return chunked_scan(f, carry, starts, run_id=report_to, chunk=chunk, item_steps=item_steps)

    def one_chain(key: PRNGKey, center: ArrayTree, data: Batch):
        n = jax.tree.leaves(data)[0].shape[0]
        batcher = Batcher(n, settings.batch_size, replace=settings.batching == "iid")
        dim = tree_size(center)
        batch_key, init_key, run_key = jax.random.split(key, 3)
        perm0 = jnp.arange(n)

        def init_loss_step(perm, step):
            # One reshuffled epoch whatever the schedule: L(w*) from every sample once.
            batch, perm = batch_at(data, batcher._replace(replace=False), batch_key, perm, step)
            return perm, loss_fn(center, batch)

        _, losses0 = jax.lax.scan(init_loss_step, perm0, jnp.arange(batcher.num_batches))
        init_loss, init_sd = jnp.mean(losses0), jnp.std(losses0)
        if divergence_threshold is None:
            threshold = 100.0 * (0.5 * dim + nbeta * init_sd)
        else:
            threshold = jnp.asarray(divergence_threshold)

        def exploded(loss):
            # The divergence rule: a non-finite loss, or one beyond the tempered threshold.
            return ~jnp.isfinite(loss) | (nbeta * (loss - init_loss) > threshold)

        start = algorithm.init(center, init_key)  # every chain's state at w*

        def step_fn(carry, step, algorithm=algorithm, restart_at=None):
            state, perm, diverged = carry
            batch, perm = batch_at(data, batcher, batch_key, perm, step)
            distance = jnp.sqrt(tree_sq_norm(tree_sub(state.position, center)))
            step_key = jax.random.fold_in(run_key, step)
            if settings.diagnostic_every > 1 and algorithm.plain_step is not None:
                # `step` is never batched over chains, so this stays a real branch under vmap.
                state, info = jax.lax.cond(
                    step % settings.diagnostic_every == 0,
                    algorithm.step,
                    algorithm.plain_step,
                    step_key,
                    state,
                    batch,
                )
            else:
                state, info = algorithm.step(step_key, state, batch)
            if settings.trace == "control_variate":
                # L_B(w) - L_B(w*) + L(w*): the batch noise of L_B(w*) cancels (slt.gradient).
                info = info._replace(loss=info.loss - loss_fn(center, batch) + init_loss)
            diverged = diverged | exploded(info.loss) | ~jnp.isfinite(info.grad_norm)
            stats = info._asdict() | {"distance": distance, "diverging": diverged}
            stats = {k: v for k, v in stats.items() if v is not None}
            if restart_at is not None:
                # The step's loss is read before it moves: at step `restart_at` it is the hot
                # steps' landing point, and a chain that diverged starts over at w* after it.
                again = diverged & (step == restart_at)
                state = jax.tree.map(lambda a, b: jnp.where(again, a, b), start, state)
                diverged = diverged & (step != restart_at)
            return (state, perm, diverged), stats

        def draw_fn(carry, first_step):
            carry, block = scan(step_fn, carry, first_step + jnp.arange(steps_per_draw))
            stats = jax.tree.map(lambda x: x[0], block)
            stats["loss"] = jnp.mean(block["loss"])
            stats["diverging"] = block["diverging"][-1]
            return carry, stats

        def group_fn(carry, first_step):
            starts = first_step + steps_per_draw * jnp.arange(per_group)
            carry, stats = scan(draw_fn, carry, starts, steps_per_draw)
            return carry, (stats, carry[0].position if params_every else None)

        carry = (start, perm0, jnp.zeros((), bool))
        hot = num_hot_steps(settings, burnin_algorithm is not None)
        burnin_at = burnin_algorithm if hot else None
        # The restart is in the scan's step of `hot` unless every burn-in step is hot.
        restart_at = hot if 0 < hot < settings.num_burnin else None

        def any_step(carry, step):
            # `step < hot` picks the step size, so hot and cool steps share one compiled step;
            # a chain the hot steps diverged starts over after step `restart_at`.
            if burnin_at is None:
                return step_fn(carry, step)
            return step_fn(carry, step, algorithm=burnin_at(step < hot), restart_at=restart_at)

        if steps_per_draw == 1 and not params_every and (not hot or restart_at is not None):
            # A draw of one step is that step: the burn-in and the draws run as one scan, so
            # the program compiles the step once, not once per scan.
            carry, trace = scan(any_step, carry, jnp.arange(settings.total_steps))
            warmup = jax.tree.map(lambda x: x[: settings.num_burnin], trace)
            stats = jax.tree.map(lambda x: x[settings.num_burnin :], trace)
            positions = None
        else:
            carry, warmup = scan(any_step, carry, jnp.arange(settings.num_burnin))
            if hot and restart_at is None:
                # Every burn-in step was hot: the check reads the first draw's batch (a forward
                # pass, once), and its flag goes to the last warm-up step.
                state, perm, diverged = carry
                batch, _ = batch_at(data, batcher, batch_key, perm, jnp.asarray(hot))
                diverged = diverged | exploded(loss_fn(state.position, batch))
                warmup["diverging"] = warmup["diverging"].at[-1].set(diverged)
                state = jax.tree.map(lambda a, b: jnp.where(diverged, a, b), start, state)
                carry = (state, perm, jnp.zeros((), bool))
            starts = settings.num_burnin + steps_per_draw * per_group * jnp.arange(groups)
            carry, (stats, positions) = scan(group_fn, carry, starts, steps_per_draw * per_group)
            stats = jax.tree.map(lambda x: x.reshape((num_draws,) + x.shape[2:]), stats)
        noise = gradient_noise(
            jax.random.fold_in(batch_key, 1),
            loss_fn,
            carry[0].position,
            data,
            batcher.batch_size,
            replace=settings.batching == "iid",
        )
        return init_loss, init_sd, stats, warmup, positions, noise

    run = jax.vmap(one_chain, in_axes=(0, None, None))
    devices = chain_devices(settings.num_chains) if settings.shard else jax.devices()[:1]
    if len(devices) > 1:
        mesh = Mesh(np.array(devices), ("chain",))
        chain, rep = PartitionSpec("chain"), PartitionSpec()
        run = jax.shard_map(
            run, mesh=mesh, in_specs=(chain, rep, rep), out_specs=chain, check_vma=False
        )
    return run


def num_hot_steps(settings: Settings, has_burnin_algorithm: bool) -> int:
    """The burn-in steps taken at the burn-in step size: the first ``num_hot_burnin`` (all when
    ``None``), and none without a burn-in sampler.

    A chain these steps diverge starts over at the center at the end of :func:`restart_step`.
    """
    hot = settings.num_burnin if has_burnin_algorithm else 0
    if hot and settings.num_hot_burnin is not None:
        hot = min(settings.num_hot_burnin, settings.num_burnin)
    return hot


def restart_step(hot: int, num_burnin: int) -> int:
    """The burn-in step after which a chain that ``hot > 0`` hot steps diverged starts over.

    It is step ``hot``, whose loss is read at the hot steps' landing point, or the last burn-in
    step when every burn-in step is hot (the check then reads the first draw's batch). The
    chain's warm-up ``diverging`` is true up to that step, and false after it.
    """
    return min(hot, num_burnin - 1)


TRACES = ("minibatch", "control_variate")
"""What the ``loss`` trace records (:func:`run_chains`)."""


@functools.lru_cache(maxsize=32)
def _compiled(build: AlgorithmBuilder, loss_fn, settings: Settings, has_threshold: bool):
    """One jitted program per (builder, loss, settings); JAX caches it per input shape.

    ``program(keys, center, data, hyper, run_id)``; ``run_id`` is ``None`` without progress.
    """

    def program(keys, center, data, hyper, run_id=None):
        anchor = hyper.get("anchor")
        loss = loss_fn if anchor is None else control_variate(loss_fn, center, anchor)
        warm = None
        if "burnin_step_size" in hyper:

            def warm(hot):
                step_size = jnp.where(hot, hyper["burnin_step_size"], hyper["step_size"])
                return build(center, hyper | {"step_size": step_size})

        run = _program(
            build(center, hyper),
            loss,
            settings,
            hyper["nbeta"],
            hyper["divergence_threshold"] if has_threshold else None,
            run_id,
            warm,
        )
        return run(keys, center, data)

    return jax.jit(program)


def run_chains(
    rng_key: PRNGKey,
    algorithm: SamplingAlgorithm | AlgorithmBuilder,
    loss_fn,
    center: ArrayTree,
    data: Batch,
    *,
    nbeta: float,
    num_chains: int,
    num_draws: int,
    num_burnin: int = 0,
    steps_per_draw: int = 1,
    batch_size: int,
    divergence_threshold: float | None = None,
    params_every: int = 0,
    shard: bool = True,
    hyper: dict[str, float] | None = None,
    anchor: Anchor | None = None,
    diagnostic_every: int = 1,
    progress: bool = False,
    label: str = "llc",
    batching: str = "reshuffle",
    trace: str = "minibatch",
    num_hot_burnin: int | None = None,
) -> Trace:
    """Run ``num_chains`` chains of ``algorithm`` started at ``center``.

    Parameters
    ----------
    rng_key
        Split into one key per chain; the same key gives the same trace, bit for bit on CPU.
    algorithm
        The sampler (``init``/``step``), or an :class:`AlgorithmBuilder` called inside the
        compiled program as ``algorithm(center, hyper)``. A built sampler closes over its
        numbers, so every call compiles afresh; a builder gets them traced, and every later
        call with an equal builder, the same ``loss_fn`` and settings and arrays of the same
        shapes reuses the compiled program (the path :func:`slt.llc` takes).
    loss_fn
        ``loss_fn(params, batch) -> scalar``, for the initial-loss estimate at ``center``.
    center
        :math:`w^\\ast`: every chain starts here, and ``distance`` is measured from here.
    data
        Pytree of arrays with a shared leading axis n.
    nbeta
        :math:`n\\beta`, to express the divergence threshold in tempered units.
    num_chains, num_draws, num_burnin, steps_per_draw
        Chains; kept draws; discarded steps; steps per kept draw. With ``steps_per_draw = k > 1``
        a draw's ``loss`` is the mean of its block's k minibatch losses and the other statistics
        are those of the block's first step.
    batch_size
        Minibatch size b, ``1 <= b <= n``.
    batching
        The minibatch schedule (:mod:`slt.data`): ``"reshuffle"`` (without replacement within
        each epoch) or ``"iid"`` (with replacement). The initial loss is a full reshuffled
        epoch either way.
    trace
        ``"minibatch"`` records the sampler's minibatch loss :math:`L_B(w_t)`;
        ``"control_variate"`` records :math:`L_B(w_t) - L_B(w^\\ast) + \\hat L(w^\\ast)`, one more
        forward pass per step, whose batch noise vanishes at :math:`w^\\ast` (with ``anchor``
        the sampler's loss is that already, and this changes nothing).
    divergence_threshold
        Bound on :math:`n\\beta(L_B(w) - \\hat L(w^\\ast))` above which a step counts as diverging;
        ``None`` for the default above.
    params_every
        Keep the position every ``params_every`` draws (0 keeps none, so memory does not grow
        with the parameter count times the draws).
    shard
        Split chains over the visible devices.
    hyper
        With a builder: the numbers it reads (``nbeta`` and ``divergence_threshold`` are added).
        With a ``burnin_step_size`` entry, the burn-in steps are taken by
        ``algorithm(center, hyper | {"step_size": hyper["burnin_step_size"]})``: the first
        ``num_hot_burnin`` of them (all by default), the rest by ``algorithm`` itself. A chain
        that diverges in those steps starts over at ``center`` for the rest of the burn-in; its
        warm-up ``diverging`` stays true up to the step it restarts after (:func:`restart_step`).
    anchor
        With a builder: the full-data loss and gradient at ``center``
        (:func:`slt.gradient.full_loss_and_grad`), passed to it as ``hyper["anchor"]``. The run
        then uses the control-variate loss :func:`slt.gradient.control_variate` for the initial
        loss, the trace and the divergence check, and the builder must step with it too.
    diagnostic_every
        Record the sampler's costly diagnostic (the MALA acceptance) on every
        ``diagnostic_every``-th step only (global step index), taking its ``plain_step``
        elsewhere, where ``acceptance_rate`` is NaN; 1 records it on every step.
    progress
        Draw a progress line on stderr (``label: done/total steps (%), steps/s, time left``),
        updated every 1% of the steps without stopping the computation; off, the compiled
        program holds no host callback. See :mod:`slt.progress`.
    label
        The progress line's label.
    """
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {BATCHINGS}; got {batching!r}")
    if trace not in TRACES:
        raise ValueError(f"trace must be one of {TRACES}; got {trace!r}")
    settings = Settings(
        num_chains,
        num_draws,
        num_burnin,
        steps_per_draw,
        batch_size,
        params_every,
        shard,
        bool(progress),
        diagnostic_every=diagnostic_every,
        batching=batching,
        trace="minibatch" if anchor is not None else trace,
        num_hot_burnin=num_hot_burnin,
    )
    keys = jax.random.split(rng_key, num_chains)
    with Progress(settings.total_steps, label=label, enabled=settings.progress) as bar:
        run_id = None if bar.id is None else np.int32(bar.id)
        if isinstance(algorithm, SamplingAlgorithm):
            if anchor is not None:
                raise ValueError(
                    "anchor needs an AlgorithmBuilder (it reads hyper['anchor']); a built "
                    "SamplingAlgorithm steps with its own posterior's loss"
                )

            def run(keys, center, data, run_id=None):
                program = _program(
                    algorithm, loss_fn, settings, nbeta, divergence_threshold, run_id
                )
                return program(keys, center, data)

            out = jax.jit(run)(keys, center, data, run_id)
        else:
            values: dict[str, Any] = dict(hyper or {}, nbeta=nbeta)
            if anchor is not None:
                values["anchor"] = anchor
            if divergence_threshold is not None:
                values["divergence_threshold"] = divergence_threshold
            program = _compiled(algorithm, loss_fn, settings, divergence_threshold is not None)
            out = program(keys, center, data, values, run_id)
        init_loss, init_sd, stats, warmup, positions, noise = jax.device_get(out)
    return Trace(  # writable host copies
        np.array(init_loss),
        np.array(init_sd),
        {k: np.array(v) for k, v in stats.items()},
        {k: np.array(v) for k, v in warmup.items()},
        positions,
        np.array(noise),
    )
