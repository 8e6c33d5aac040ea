"""Reference networks (Flax NNX), the data sets they are tested on, and their losses.

Turn a network into the ``(loss_fn, params)`` that :func:`slt.llc` takes with
:func:`slt.adapters.from_nnx`::

    model = from_nnx(MLP(64, [32], 10, rngs=nnx.Rngs(0)), classification_loss)
    slt.llc(model.loss_fn, model.params, train)
"""

from slt.nets import datasets, losses
from slt.nets.cnn import CNN
from slt.nets.datasets import digits, in_context_regression, modular_addition
from slt.nets.losses import (
    classification_loss,
    cross_entropy,
    in_context_regression_loss,
    modular_addition_loss,
    mse,
)
from slt.nets.mlp import MLP
from slt.nets.resnet import BasicBlock, ResNet, resnet18, small_resnet
from slt.nets.transformer import Transformer

__all__ = [
    "CNN",
    "MLP",
    "BasicBlock",
    "ResNet",
    "Transformer",
    "classification_loss",
    "cross_entropy",
    "datasets",
    "digits",
    "in_context_regression",
    "in_context_regression_loss",
    "losses",
    "modular_addition",
    "modular_addition_loss",
    "mse",
    "resnet18",
    "small_resnet",
]
