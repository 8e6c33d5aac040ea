"""Type aliases shared across the package."""

from typing import Any

import jax

ArrayTree = Any
"""A pytree of arrays: a dict of arrays, a Flax NNX state, an Equinox module after partition."""

Batch = Any
"""A pytree of arrays whose leading axis indexes samples."""

PRNGKey = jax.Array
Scalar = jax.Array | float
