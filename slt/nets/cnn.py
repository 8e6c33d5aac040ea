r"""A small convolutional network for 8×8 single-channel digit images (Flax NNX).

LeNet-style (LeCun et al. 1998, *Gradient-based learning applied to document recognition*):

.. math::

    x \in \mathbb{R}^{8\times 8\times 1}
    \xrightarrow{\text{conv }3\times 3,\ c_1}\ \sigma\ \xrightarrow{\text{pool }2\times 2}
    4\times 4\times c_1
    \xrightarrow{\text{conv }3\times 3,\ c_2}\ \sigma\ \xrightarrow{\text{pool }2\times 2}
    2\times 2\times c_2 \xrightarrow{\text{flatten, dense}} \mathbb{R}^{K},

convolutions with "SAME" padding and stride 1, max pooling with stride 2 (average pooling as an
option). Any image side divisible by 4 works; the dense layer is sized from ``image_size``.
"""

from collections.abc import Sequence

import jax
from flax import nnx

from slt.nets.mlp import activation_fn

__all__ = ["CNN"]


class CNN(nnx.Module):
    """Two (or more) 3×3 conv + pool stages, then a dense layer to ``num_classes`` logits.

    Parameters
    ----------
    num_classes
        Number of output logits K.
    in_channels
        Input channels (1 for the digits).
    channels
        Output channels of each conv stage; each stage halves the image side.
    image_size
        Side of the square input image (8 for the digits); divisible by ``2 ** len(channels)``.
    activation
        Name of the activation (see :data:`slt.nets.mlp.ACTIVATIONS`).
    pool
        ``"max"`` or ``"avg"`` pooling.
    rngs
        ``nnx.Rngs`` for initialization.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.nets import CNN
    >>> net = CNN(10, channels=(4, 8), rngs=nnx.Rngs(0))
    >>> net(jnp.ones((3, 8, 8, 1))).shape
    (3, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        *,
        in_channels: int = 1,
        channels: Sequence[int] = (8, 16),
        image_size: int = 8,
        activation: str = "relu",
        pool: str = "max",
        rngs: nnx.Rngs,
    ) -> None:
        activation_fn(activation)
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg'; got {pool!r}")
        side = image_size // 2 ** len(channels)
        if side < 1 or image_size % 2 ** len(channels):
            raise ValueError(
                f"image_size {image_size} must be divisible by 2**{len(channels)} "
                f"(one halving per conv stage)"
            )
        self.activation = activation
        self.pool = pool
        sizes = [in_channels, *channels]
        self.convs = nnx.List(
            [
                nnx.Conv(a, b, kernel_size=(3, 3), padding="SAME", rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )
        self.head = nnx.Linear(side * side * sizes[-1], num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(batch, num_classes)`` for images ``(batch, H, W, C)`` (NHWC)."""
        act = activation_fn(self.activation)
        pool = nnx.max_pool if self.pool == "max" else nnx.avg_pool
        for conv in self.convs:
            x = pool(act(conv(x)), window_shape=(2, 2), strides=(2, 2))
        return self.head(x.reshape(x.shape[0], -1))
