"""Progress of long runs: one updating line on stderr, fed from inside compiled programs.

A compiled run reports its step counter about every ``chunk`` steps (about 1% of the run) with an
unordered :func:`jax.debug.callback`: its loops run as outer loops over blocks of steps whose
bodies call the host once (see :func:`chunked_scan`), so the steps themselves are untouched (no
per-step ``cond``, which costs time on CPU and a device-to-host read of the predicate per step on
GPU), the host sees about ``total / chunk`` calls per run and the device never waits for it. The
step counter is shared by all chains, so ``vmap`` does not multiply the calls. On the host,
:class:`Progress` keeps the largest step seen (several devices report each chunk) and redraws
the line at most ten times a second::

    llc: 12000/40000 steps (30%), 8,450 steps/s, 3 s left

A compiled program is cached and reused by later runs, so the callback does not close over a
:class:`Progress`: it receives the run's id as a traced argument and looks the run up here.
"""

import itertools
import sys
import threading
import time
from collections.abc import Callable
from typing import Literal, TextIO

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Progress", "block_items", "chunk_size", "chunked_scan", "resolve"]

_lock = threading.Lock()
_runs: dict[int, "Progress"] = {}
_ids = itertools.count(1)


def resolve(progress: bool | Literal["auto"], stream: TextIO | None = None) -> bool:
    """Whether to show progress: ``"auto"`` is on iff ``stream`` (stderr) is a terminal."""
    if progress == "auto":
        stream = sys.stderr if stream is None else stream
        isatty = getattr(stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or 'auto'; got {progress!r}")
    return progress


def chunk_size(total: int) -> int:
    """Steps between two reports: about 1% of ``total``, at least 1."""
    return max(1, total // 100)


def _duration(seconds: float, *, tenths: bool = False) -> str:
    if tenths and seconds < 10:
        return f"{max(0.0, seconds):.1f} s"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """One run's progress line on ``stream`` (stderr by default).

    Use it as a context manager: entering registers the run (its :attr:`id` is the ``run_id``
    the compiled program passes to :func:`chunked_scan`), leaving prints the final line and a
    newline. Disabled, it prints nothing and registers nothing (``id`` is ``None``).

    Parameters
    ----------
    total
        Steps in the run (per chain: chains run side by side).
    label
        Printed before the counts, e.g. ``"llc"``.
    enabled
        Whether to print at all.
    stream
        Where to print; ``sys.stderr`` (looked up when printing) by default.
    min_interval
        Seconds between two redraws (the final line is always drawn).
    clock
        A monotonic clock in seconds (for tests).
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "llc",
        enabled: bool = True,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = enabled
        self.chunk = chunk_size(self.total)
        self.id: int | None = None
        self.done = 0
        self.calls = 0
        self._stream = stream
        self._min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start: tuple[float, int] | None = None  # (time, step) of the first report
        self._last_draw = -float("inf")
        self._width = 0
        self._closed = False

    def __enter__(self) -> "Progress":
        if self.enabled:
            with _lock:
                self.id = next(_ids)
                _runs[self.id] = self
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(completed=exc_type is None)

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._stream is None else self._stream

    def update(self, step: int) -> None:
        """``step`` steps are done (callbacks may repeat a step or arrive out of order)."""
        with self._lock:
            if self._closed:
                return
            self.calls += 1
            now = self._clock()
            if self._start is None:
                self._start = (now, step)
            if step <= self.done and self.calls > 1:
                return
            self.done = max(self.done, min(step, self.total))
            if self.enabled and now - self._last_draw >= self._min_interval:
                self._last_draw = now
                self._draw(self.line(now))

    def rate(self, now: float | None = None) -> float | None:
        """Steps per second since the first report, or ``None`` before two distinct reports."""
        if self._start is None:
            return None
        now = self._clock() if now is None else now
        t0, s0 = self._start
        if now <= t0 or self.done <= s0:
            return None
        return (self.done - s0) / (now - t0)

    def line(self, now: float | None = None, *, final: bool = False) -> str:
        """The text of the progress line."""
        now = self._clock() if now is None else now
        pct = 100 * self.done // self.total if self.total else 100
        text = f"{self.label}: {self.done}/{self.total} steps ({pct}%)"
        rate = self.rate(now)
        if rate is not None:
            text += f", {rate:,.0f} steps/s"
            if final:
                assert self._start is not None
                text += f", done in {_duration(now - self._start[0], tenths=True)}"
            else:
                text += f", {_duration((self.total - self.done) / rate)} left"
        return text

    def _draw(self, text: str, end: str = "") -> None:
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        try:
            self.stream.write("\r" + text + pad + end)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is not worth a crash
            self.enabled = False

    def close(self, *, completed: bool = True) -> None:
        """Stop listening; draw the final line and end it with a newline."""
        with _lock:
            if self.id is not None:
                _runs.pop(self.id, None)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self.enabled:
                return
            if completed:
                self.done = self.total
                self._draw(self.line(final=True), "\n")
            elif self._width:
                self._draw(self.line() + " (stopped)", "\n")


def _report(run_id, step) -> None:
    """The host side of :func:`chunked_scan`: forward ``step`` to run ``run_id``, if still open."""
    with _lock:
        run = _runs.get(int(np.asarray(run_id)))
    if run is not None:
        run.update(int(np.asarray(step)))


def block_items(length: int, target: int) -> int:
    """Items per block of a loop of ``length`` items that reports about every ``target`` items.

    The divisor of ``length`` nearest ``target`` among those from ``target / 2`` to
    ``2 * target`` that leave at least two blocks (the larger on a tie), so that every block has
    the same size and the loop body is compiled once: 1250 steps at ``target`` 12 report every
    10. ``target`` itself when there is none (a prime ``length``), or when ``length`` is at
    most ``target`` (one block: no report).
    """
    if length <= target:
        return target
    candidates = [
        d for d in range(-(-target // 2), min(2 * target, length // 2) + 1) if length % d == 0
    ]
    return min(candidates, key=lambda d: (abs(d - target), -d), default=target)


def chunked_scan(f, carry, starts, *, run_id, chunk: int, item_steps: int = 1):
    """``jax.lax.scan(f, carry, starts)`` that reports progress to run ``run_id`` between chunks.

    ``starts`` is a 1-D integer array: the step counter at the start of each item of the loop
    (an item is ``item_steps`` steps). With ``run_id`` ``None``, or when the loop spans at most
    one report's worth of items, this is exactly ``jax.lax.scan``. Otherwise the loop runs as an
    outer scan over blocks of about ``chunk`` steps whose body calls the host once, with
    ``starts`` of the block's first item (the steps done before it), through an unordered
    :func:`jax.debug.callback`, then runs the block's items with an inner scan: the steps
    themselves are untouched, no ``cond`` is evaluated per step, and nothing waits for the host.
    The blocks are of equal size when ``length`` has a divisor between half and twice the
    items of one report (:func:`block_items`), so the program holds ``f`` once. Otherwise the
    items that do not fill a last block run after it, unreported, in a second scan.

    ``starts`` must not be batched under ``vmap`` (use a counter shared by all chains, such as
    ``jnp.arange``): a batched callback operand calls the host once per chain.
    """
    length = starts.shape[0]
    every = block_items(length, max(1, -(-chunk // item_steps)))
    if run_id is None or length <= every:
        return jax.lax.scan(f, carry, starts)
    blocks = length // every
    cut = blocks * every

    def block_fn(carry, block_starts):
        jax.debug.callback(_report, run_id, block_starts[0], ordered=False)
        return jax.lax.scan(f, carry, block_starts)

    carry, ys = jax.lax.scan(block_fn, carry, starts[:cut].reshape(blocks, every))
    ys = jax.tree.map(lambda y: y.reshape((cut,) + y.shape[2:]), ys)
    if cut < length:
        carry, rest = jax.lax.scan(f, carry, starts[cut:])
        ys = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys, rest)
    return carry, ys
