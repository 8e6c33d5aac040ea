"""Turn a :class:`~slt.samplers.run.Trace` into an ``xarray.DataTree`` that ArviZ 1.x reads."""

import math
from typing import Any

import jax
import numpy as np
import xarray as xr
from arviz_base import from_dict

from slt.samplers.run import Trace

__all__ = ["attr_value", "to_datatree"]


def attr_value(value: Any) -> Any:
    """A netCDF-safe attribute: bools as ints, None as "none", sequences as float/str arrays."""
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list | tuple | np.ndarray):
        arr = np.asarray(value)
        return arr.astype(np.float64) if arr.dtype.kind in "biuf" else [str(v) for v in value]
    if isinstance(value, int | float | str | np.number):
        return value
    return str(value)


def _leaf_name(path: tuple[Any, ...]) -> str:
    """``"layers.0.kernel"`` for the path of a leaf (dict keys, list indices, attributes)."""
    parts = []
    for key in path:
        for field in ("key", "idx", "name"):
            if hasattr(key, field):
                parts.append(str(getattr(key, field)))
                break
        else:
            parts.append(str(key))
    return ".".join(parts) or "params"


def to_datatree(trace: Trace, attrs: dict[str, Any]) -> xr.DataTree:
    """Groups ``sample_stats`` and ``warmup_sample_stats`` (dims chain, draw), ``posterior`` when
    parameter draws were kept (leaves named by their pytree paths), and ``attrs`` at the root."""
    groups: dict[str, dict[str, np.ndarray]] = {"sample_stats": dict(trace.sample_stats)}
    if trace.warmup_stats and next(iter(trace.warmup_stats.values())).shape[1] > 0:
        groups["warmup_sample_stats"] = dict(trace.warmup_stats)
    if trace.positions is not None:
        flat = jax.tree_util.tree_flatten_with_path(trace.positions)[0]
        groups["posterior"] = {_leaf_name(path): np.asarray(leaf) for path, leaf in flat}
    dt = from_dict(groups, save_warmup=True)
    dt.attrs.update({k: attr_value(v) for k, v in attrs.items()})
    return dt
