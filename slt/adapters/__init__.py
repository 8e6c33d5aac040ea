"""Adapters from neural-network libraries to the pure ``loss_fn(params, batch)`` of :func:`slt.llc`.

* :func:`from_nnx` -- Flax NNX modules (``nnx.split`` / ``nnx.merge``);
* :func:`from_equinox` -- Equinox modules (``eqx.partition`` / ``eqx.combine``); Equinox itself is
  imported only when it is called.

Both put the module in inference mode first (BatchNorm on running statistics, Dropout off).
"""

from slt.adapters.equinox import EquinoxModel, from_equinox
from slt.adapters.nnx import NNXModel, from_nnx

__all__ = ["EquinoxModel", "NNXModel", "from_equinox", "from_nnx"]
