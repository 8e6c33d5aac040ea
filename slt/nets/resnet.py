r"""Residual networks with basic blocks (He, Zhang, Ren & Sun 2016, *Deep residual learning for
image recognition*, CVPR, arXiv:1512.03385), in Flax NNX.

A basic block maps :math:`x \mapsto \operatorname{relu}(\mathcal{F}(x) + s(x))` with

.. math::

    \mathcal{F}(x) = N_2(\operatorname{conv}_{3\times3}(\operatorname{relu}(
    N_1(\operatorname{conv}_{3\times3,\ \text{stride}}(x))))),

and :math:`s` the identity, or a strided 1×1 convolution followed by a norm when the shape
changes (option B of the paper). Stages of ``depths[i]`` blocks with ``widths[i]`` channels follow a
stem; every stage after the first halves the resolution; global average pooling and a dense layer
give the logits. With ``stem="imagenet"`` (7×7/2 conv, 3×3/2 max pool), depths ``[2, 2, 2, 2]``
and widths ``[64, 128, 256, 512]`` this is ResNet-18 with exactly the layers and parameter count
(11,689,512 for 1000 classes and 3 input channels) of torchvision's ``resnet18``, convolutions
without biases before each norm. ``stem="small"`` (one 3×3/1 conv, no pooling) keeps the
resolution of tiny images such as the 8×8 digits.

Normalization (``norm``):

* ``"group"`` (default): GroupNorm (Wu & He 2018, arXiv:1803.08494). It has no batch statistics,
  so the network, and the posterior sampled for the LLC, is a function of the parameters alone.
* ``"batch"``: BatchNorm (Ioffe & Szegedy 2015, arXiv:1502.03167) with running statistics; sample
  it in inference mode (:func:`slt.adapters.from_nnx` calls ``.eval()``), otherwise the output of
  one example depends on the rest of the minibatch.
* ``"none"``: no normalization; the convolutions then have biases.
"""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["NORMS", "BasicBlock", "ResNet", "resnet18", "small_resnet"]

NORMS = ("group", "batch", "none")
"""Normalization layers a :class:`ResNet` can use."""


def _norm(kind: str, channels: int, groups: int, rngs: nnx.Rngs) -> nnx.Module | None:
    """The normalization layer of ``kind`` over ``channels`` (``None`` for ``"none"``)."""
    if kind == "group":
        return nnx.GroupNorm(
            channels, num_groups=math.gcd(groups, channels), epsilon=1e-5, rngs=rngs
        )
    if kind == "batch":
        return nnx.BatchNorm(channels, momentum=0.9, epsilon=1e-5, rngs=rngs)
    return None


def _apply(layer: nnx.Module | None, x: jax.Array) -> jax.Array:
    """``layer(x)``, or ``x`` when there is no layer."""
    return x if layer is None else layer(x)


def _conv(cin: int, cout: int, kernel: int, stride: int, *, bias: bool, rngs: nnx.Rngs) -> nnx.Conv:
    """A square convolution padded by ``kernel // 2`` on each side (PyTorch's convention)."""
    pad = kernel // 2
    return nnx.Conv(
        cin,
        cout,
        kernel_size=(kernel, kernel),
        strides=(stride, stride),
        padding=((pad, pad), (pad, pad)),
        use_bias=bias,
        rngs=rngs,
    )


class BasicBlock(nnx.Module):
    """Two 3×3 convolutions with a residual connection (He et al. 2016, Fig. 2).

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    stride
        Stride of the first convolution (2 halves the resolution).
    norm
        One of :data:`NORMS`.
    groups
        GroupNorm groups: ``gcd(groups, channels)`` of them, so that any width works.
    rngs
        ``nnx.Rngs`` for initialization.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        norm: str = "group",
        groups: int = 32,
        rngs: nnx.Rngs,
    ) -> None:
        bias = norm == "none"
        self.conv1 = _conv(in_channels, out_channels, 3, stride, bias=bias, rngs=rngs)
        self.norm1 = _norm(norm, out_channels, groups, rngs)
        self.conv2 = _conv(out_channels, out_channels, 3, 1, bias=bias, rngs=rngs)
        self.norm2 = _norm(norm, out_channels, groups, rngs)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nnx.Conv | None = _conv(
                in_channels, out_channels, 1, stride, bias=bias, rngs=rngs
            )
            self.shortcut_norm = _norm(norm, out_channels, groups, rngs)
        else:
            self.shortcut = None
            self.shortcut_norm = None

    def __call__(self, x: jax.Array) -> jax.Array:
        """``relu(F(x) + s(x))`` on NHWC inputs."""
        h = jax.nn.relu(_apply(self.norm1, self.conv1(x)))
        h = _apply(self.norm2, self.conv2(h))
        skip = x if self.shortcut is None else _apply(self.shortcut_norm, self.shortcut(x))
        return jax.nn.relu(h + skip)


class ResNet(nnx.Module):
    """A ResNet of basic blocks with configurable stages, widths, stem and normalization.

    Parameters
    ----------
    num_classes
        Number of output logits.
    in_channels
        Input channels (3 for RGB, 1 for the digits).
    depths
        Number of basic blocks in each stage.
    widths
        Channels of each stage (same length as ``depths``); the stem outputs ``widths[0]``.
    stem
        ``"imagenet"``: 7×7 stride-2 conv, norm, relu, 3×3 stride-2 max pool (downsamples by 4).
        ``"small"``: 3×3 stride-1 conv, norm, relu (keeps the resolution of tiny images).
    norm
        ``"group"`` (default), ``"batch"`` or ``"none"``; see the module docstring.
    groups
        GroupNorm groups per layer (``gcd(groups, channels)`` are used).
    rngs
        ``nnx.Rngs`` for initialization.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.nets import ResNet
    >>> net = ResNet(10, in_channels=1, depths=(1, 1), widths=(8, 16), stem="small", groups=4,
    ...              rngs=nnx.Rngs(0))
    >>> net(jnp.ones((2, 8, 8, 1))).shape
    (2, 10)
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_channels: int = 3,
        depths: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        norm: str = "group",
        groups: int = 32,
        rngs: nnx.Rngs,
    ) -> None:
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
        if stem not in ("imagenet", "small"):
            raise ValueError(f"stem must be 'imagenet' or 'small'; got {stem!r}")
        if len(depths) != len(widths) or not depths:
            raise ValueError(
                f"depths and widths must be non-empty and of the same length; got {depths}, "
                f"{widths}"
            )
        bias = norm == "none"
        self.stem = stem
        kernel, stride = (7, 2) if stem == "imagenet" else (3, 1)
        self.stem_conv = _conv(in_channels, widths[0], kernel, stride, bias=bias, rngs=rngs)
        self.stem_norm = _norm(norm, widths[0], groups, rngs)
        blocks = []
        cin = widths[0]
        for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
            for j in range(depth):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(
                    BasicBlock(cin, width, stride=stride, norm=norm, groups=groups, rngs=rngs)
                )
                cin = width
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(cin, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(batch, num_classes)`` for images ``(batch, H, W, in_channels)`` (NHWC)."""
        x = jax.nn.relu(_apply(self.stem_norm, self.stem_conv(x)))
        if self.stem == "imagenet":
            x = nnx.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        for block in self.blocks:
            x = block(x)
        return self.head(jnp.mean(x, axis=(-3, -2)))


def resnet18(
    num_classes: int = 1000, *, in_channels: int = 3, norm: str = "group", rngs: nnx.Rngs
) -> ResNet:
    """ResNet-18: ImageNet stem, stages ``[2, 2, 2, 2]`` of widths ``[64, 128, 256, 512]``.

    He et al. (2016), Table 1. With ``norm="group"`` or ``"batch"`` (both have a scale and a
    bias per channel) it has the 11,689,512 parameters of torchvision's ``resnet18`` for 1000
    classes and 3 input channels.

    Examples
    --------
    >>> from flax import nnx
    >>> from slt.nets import resnet18
    >>> from slt.tree import tree_size
    >>> net = nnx.eval_shape(lambda: resnet18(10, rngs=nnx.Rngs(0)))  # shapes only, no init
    >>> tree_size(nnx.state(net, nnx.Param))
    11181642
    """
    return ResNet(
        num_classes,
        in_channels=in_channels,
        depths=(2, 2, 2, 2),
        widths=(64, 128, 256, 512),
        stem="imagenet",
        norm=norm,
        rngs=rngs,
    )


def small_resnet(
    num_classes: int = 10,
    *,
    in_channels: int = 1,
    depths: Sequence[int] = (1, 1),
    widths: Sequence[int] = (8, 16),
    norm: str = "group",
    groups: int = 4,
    rngs: nnx.Rngs,
) -> ResNet:
    """A ResNet for tiny images such as the 8×8 digits: ``stem="small"``, no downsampling stem.

    With the defaults, 8×8 inputs go through 8×8×8 then 4×4×16 feature maps.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.nets import small_resnet
    >>> small_resnet(rngs=nnx.Rngs(0))(jnp.ones((2, 8, 8, 1))).shape
    (2, 10)
    """
    return ResNet(
        num_classes,
        in_channels=in_channels,
        depths=depths,
        widths=widths,
        stem="small",
        norm=norm,
        groups=groups,
        rngs=rngs,
    )
