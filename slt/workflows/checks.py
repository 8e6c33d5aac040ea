"""Argument checks shared by the workflows: each raises a ``ValueError`` naming the argument."""

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch

__all__ = [
    "check_choice",
    "check_int",
    "check_loss_fn",
    "check_params",
    "check_positive",
    "resolve_nbeta",
]


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_int(name: str, value: Any, *, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        valid = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {valid}; got {value!r}")
    return int(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float, > 0 (or >= 0 with ``allow_zero``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        valid = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {valid}; got {value!r}")
    return float(value)


def resolve_nbeta(n: int, nbeta: float | None, beta: float | None) -> float:
    """nβ from exactly one of ``nbeta`` and ``beta``; the default is n/log n (β = 1/log n)."""
    if nbeta is not None and beta is not None:
        raise ValueError(
            f"give nbeta or beta, not both (got nbeta={nbeta!r}, beta={beta!r}); nbeta = n * beta"
        )
    if nbeta is not None:
        return check_positive("nbeta", nbeta)
    if beta is not None:
        return n * check_positive("beta", beta)
    if n < 2:
        raise ValueError("the default nbeta = n / log n needs n >= 2 samples; pass nbeta or beta")
    return n / math.log(n)


def check_params(params: ArrayTree) -> None:
    """Every leaf of ``params`` is a finite floating-point array."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    if not leaves:
        raise ValueError("params must be a pytree with at least one array leaf; got no leaves")
    for path, leaf in leaves:
        name = jax.tree_util.keystr(path) or "<root>"
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(
                f"params leaf {name} has dtype {dtype}; sampling needs floating-point parameters "
                "(split integer or static state off first, e.g. with nnx.split or eqx.partition)"
            )
        if not bool(jnp.all(jnp.isfinite(jnp.asarray(leaf)))):
            raise ValueError(f"params leaf {name} has non-finite values; w* must be finite")


def check_loss_fn(loss_fn: Any, params: ArrayTree, data: Batch, batch_size: int) -> None:
    """``loss_fn(params, batch)`` traces to a scalar on a batch of ``batch_size`` samples.

    Uses :func:`jax.eval_shape`, so shape errors surface before anything is compiled.
    """
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable as loss_fn(params, batch); got {loss_fn!r}")
    batch = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct((batch_size, *np.shape(x)[1:]), jnp.result_type(x)), data
    )
    shapes = jax.tree.map(lambda x: tuple(np.shape(x)), params)
    try:
        out = jax.eval_shape(loss_fn, params, batch)
    except Exception as err:  # noqa: BLE001 - re-raised with the shapes that caused it
        raise ValueError(
            f"loss_fn(params, batch) failed for params of shapes {shapes} and a batch of "
            f"{jax.tree.map(lambda s: s.shape, batch)}: {type(err).__name__}: {err}. Check that "
            "params matches what loss_fn expects and that data's leading axis indexes samples."
        ) from err
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != ():
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"loss_fn must return a scalar (the mean negative log-likelihood over the batch); "
            f"it returned shape {got}"
        )
