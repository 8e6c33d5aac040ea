"""The reference networks: forward shapes, parameter counts, the causal mask, slt.llc end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import slt
from slt.adapters import from_nnx
from slt.nets import (
    CNN,
    MLP,
    ResNet,
    Transformer,
    classification_loss,
    digits,
    in_context_regression,
    in_context_regression_loss,
    modular_addition,
    modular_addition_loss,
    resnet18,
    small_resnet,
)
from slt.tree import tree_size


def num_params(module):
    return tree_size(nnx.state(module, nnx.Param))


def abstract(constructor):
    """The module with shapes only (no initialization is computed)."""
    return nnx.eval_shape(constructor)


def test_mlp_shapes_and_activations():
    net = MLP(64, [16], 10, activation="tanh", rngs=nnx.Rngs(0))
    assert net(jnp.ones((5, 8, 8, 1))).shape == (5, 10)
    assert net(jnp.ones((5, 64))).shape == (5, 10)
    assert net(jnp.ones(64)).shape == (10,)
    assert num_params(net) == 64 * 16 + 16 + 16 * 10 + 10
    assert num_params(abstract(lambda: MLP(3, [], 2, rngs=nnx.Rngs(0)))) == 3 * 2 + 2
    with pytest.raises(ValueError, match="activation"):
        MLP(3, [4], 2, activation="swish2", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="trailing dimensions"):
        net(jnp.ones((5, 7)))


def test_cnn_shape_and_count():
    net = CNN(10, channels=(4, 8), rngs=nnx.Rngs(0))
    assert net(jnp.ones((3, 8, 8, 1))).shape == (3, 10)
    assert num_params(net) == (9 * 1 * 4 + 4) + (9 * 4 * 8 + 8) + (2 * 2 * 8 * 10 + 10)
    with pytest.raises(ValueError, match="divisible"):
        CNN(10, channels=(4, 8, 16), image_size=6, rngs=nnx.Rngs(0))


def resnet_count(depths, widths, *, in_channels, num_classes, stem_kernel, norm):
    """Parameters of a basic-block ResNet, counted by hand from the layer shapes."""
    extra = {"group": 2, "batch": 2, "none": 0}[norm]  # scale + bias per channel after a conv
    bias = 1 if norm == "none" else 0  # convolutions have biases only without a norm

    def conv(k, cin, cout):
        return k * k * cin * cout + bias * cout + extra * cout

    total = conv(stem_kernel, in_channels, widths[0])
    cin = widths[0]
    for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        for j in range(depth):
            total += conv(3, cin, width) + conv(3, width, width)
            if (i > 0 and j == 0) or cin != width:
                total += conv(1, cin, width)
            cin = width
    return total + cin * num_classes + num_classes


@pytest.mark.parametrize("norm", ["group", "batch", "none"])
def test_resnet18_count_and_shape(norm):
    net = abstract(lambda: resnet18(1000, in_channels=3, norm=norm, rngs=nnx.Rngs(0)))
    expected = resnet_count(
        (2, 2, 2, 2),
        (64, 128, 256, 512),
        in_channels=3,
        num_classes=1000,
        stem_kernel=7,
        norm=norm,
    )
    assert num_params(net) == expected
    if norm != "none":
        assert expected == 11_689_512  # torchvision.models.resnet18().parameters()
    else:
        # Each of the 20 norms (2c parameters; 5 per stage width) becomes a conv bias (c).
        assert expected == 11_689_512 - 5 * (64 + 128 + 256 + 512)
    # The 32×32 input goes 16 (stem) -> 8 (pool) -> 8, 4, 2, 1 (stages) -> pooled logits.
    out = jax.eval_shape(
        lambda x: resnet18(1000, in_channels=3, norm=norm, rngs=nnx.Rngs(0))(x),
        jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32),
    )
    assert out.shape == (2, 1000)


def test_small_resnet_forward_and_counts():
    net = small_resnet(rngs=nnx.Rngs(0))
    logits = net(jnp.ones((2, 8, 8, 1)))
    assert logits.shape == (2, 10) and bool(jnp.all(jnp.isfinite(logits)))
    for norm in ["group", "batch", "none"]:
        counted = num_params(abstract(lambda norm=norm: small_resnet(norm=norm, rngs=nnx.Rngs(0))))
        assert counted == resnet_count(
            (1, 1), (8, 16), in_channels=1, num_classes=10, stem_kernel=3, norm=norm
        )
    with pytest.raises(ValueError, match="norm"):
        ResNet(10, norm="layer", rngs=nnx.Rngs(0))


def test_batchnorm_resnet_through_the_adapter_is_batch_independent():
    net = small_resnet(norm="batch", rngs=nnx.Rngs(0))
    model = from_nnx(net, classification_loss)
    assert "mean" not in str(jax.tree_util.tree_flatten_with_path(model.params)[0])
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(4, 8, 8, 1)), dtype=jnp.float32)
    forward = jax.jit(lambda params, x: model.merge(params)(x))
    np.testing.assert_allclose(
        forward(model.params, x[:1]), forward(model.params, x)[:1], rtol=1e-5, atol=1e-6
    )


@pytest.fixture(scope="module")
def token_transformer():
    return Transformer(
        vocab_size=6,
        max_len=3,
        d_model=8,
        num_heads=2,
        num_layers=1,
        d_mlp=16,
        out_features=5,
        rngs=nnx.Rngs(0),
    )


def test_transformer_shapes_and_causal_mask(token_transformer):
    x = jnp.array([[1, 2, 5], [3, 4, 5]], dtype=jnp.int32)
    out = token_transformer(x)
    assert out.shape == (2, 3, 5)
    changed = token_transformer(x.at[:, 2].set(0))
    np.testing.assert_allclose(changed[:, :2], out[:, :2], rtol=1e-6, atol=1e-6)
    assert not np.allclose(changed[:, 2], out[:, 2])
    changed = token_transformer(x.at[:, 1].set(0))
    np.testing.assert_allclose(changed[:, :1], out[:, :1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(changed[:, 1:], out[:, 1:])
    with pytest.raises(ValueError, match="max_len"):
        token_transformer(jnp.zeros((1, 4), dtype=jnp.int32))
    with pytest.raises(ValueError, match="exactly one"):
        Transformer(max_len=3, d_model=8, num_heads=2, num_layers=1, d_mlp=8, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="divide"):
        Transformer(vocab_size=3, max_len=3, d_model=6, num_heads=4, num_layers=1, d_mlp=8,
                    rngs=nnx.Rngs(0))  # fmt: skip


def test_transformer_on_modular_addition(token_transformer):
    train, _ = modular_addition(5, train_fraction=0.4)
    model = from_nnx(token_transformer, modular_addition_loss)
    value = model.loss_fn(model.params, {k: v[:2] for k, v in train.items()})
    assert value.shape == () and 0.5 < float(value) < 5.0  # near log 5 at initialization


def test_continuous_transformer_on_in_context_regression():
    data = in_context_regression(3, num_points=4, dim=2, seed=0)
    net = Transformer(
        input_dim=3, max_len=8, d_model=8, num_heads=2, num_layers=1, d_mlp=16,
        out_features=1, rngs=nnx.Rngs(0),
    )  # fmt: skip
    out = net(data["x"])
    assert out.shape == (3, 8, 1)
    # Causal: the prediction at x_1 ignores y_1 and everything after it.
    edited = data["x"].copy()
    edited[:, 1:] = 0.0
    np.testing.assert_allclose(net(edited)[:, 0], out[:, 0], rtol=1e-6, atol=1e-6)
    model = from_nnx(net, in_context_regression_loss)
    np.testing.assert_allclose(
        model.loss_fn(model.params, data), 0.5 * np.mean((out[:, 0::2, 0] - data["y"]) ** 2),
        rtol=1e-6,
    )  # fmt: skip
    with pytest.raises(ValueError, match="out_features"):
        Transformer(input_dim=3, max_len=8, d_model=8, num_heads=2, num_layers=1, d_mlp=8,
                    rngs=nnx.Rngs(0))  # fmt: skip


def test_llc_end_to_end_on_digits_mlp():
    train, _ = digits(flat=True)
    model = from_nnx(MLP(64, [16], 10, rngs=nnx.Rngs(0)), classification_loss)
    res = slt.llc(
        model.loss_fn,
        model.params,
        train,
        num_chains=2,
        num_draws=20,
        num_burnin=10,
        batch_size=32,
        step_size=1e-5,
        progress=False,
    )
    assert np.isfinite(res.llc)
    assert res.datatree.attrs["num_params"] == 64 * 16 + 16 + 16 * 10 + 10
