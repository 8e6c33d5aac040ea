r"""A multilayer perceptron (Flax NNX).

.. math::

    f_w(x) = W_L\,\sigma(\cdots\sigma(W_1 x + b_1)\cdots) + b_L,

with :math:`\sigma` applied element-wise after every hidden layer and not after the output
(Rumelhart, Hinton & Williams 1986). Inputs of more than one trailing dimension (images) are
flattened first.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["ACTIVATIONS", "MLP", "activation_fn"]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "identity": lambda x: x,
}
"""Activation functions by name."""


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`).

    Examples
    --------
    >>> from slt.nets.mlp import activation_fn
    >>> float(activation_fn("relu")(-1.0))
    0.0
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]


class MLP(nnx.Module):
    """Fully connected network ``in_features -> hidden[0] -> ... -> out_features``.

    Parameters
    ----------
    in_features
        Size of the (flattened) input.
    hidden
        Widths of the hidden layers (may be empty: then the model is linear).
    out_features
        Size of the output (number of classes for logits).
    activation
        Name of the hidden activation, one of :data:`ACTIVATIONS`.
    use_bias
        Give every layer a bias.
    rngs
        ``nnx.Rngs`` for initialization (LeCun-normal weights, zero biases: ``nnx.Linear``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.nets import MLP
    >>> net = MLP(64, [16], 10, activation="tanh", rngs=nnx.Rngs(0))
    >>> net(jnp.ones((5, 8, 8, 1))).shape
    (5, 10)
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        activation: str = "relu",
        use_bias: bool = True,
        rngs: nnx.Rngs,
    ) -> None:
        activation_fn(activation)
        self.in_features = in_features
        self.activation = activation
        sizes = [in_features, *hidden, out_features]
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, use_bias=use_bias, rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        """Outputs of shape ``(*batch, out_features)`` for inputs ``(*batch, *feature_shape)``.

        The trailing dimensions whose product is ``in_features`` are flattened.
        """
        x = jnp.asarray(x)
        size, lead = 1, x.ndim
        while size < self.in_features and lead > 0:
            lead -= 1
            size *= x.shape[lead]
        if size != self.in_features:
            raise ValueError(
                f"input of shape {x.shape} has no trailing dimensions of total size "
                f"{self.in_features}"
            )
        x = x.reshape(*x.shape[:lead], size)
        act = activation_fn(self.activation)
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return self.layers[-1](x)
