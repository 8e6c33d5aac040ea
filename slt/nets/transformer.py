r"""A decoder-only Transformer (Vaswani et al. 2017, arXiv:1706.03762) with pre-LayerNorm blocks
as in GPT-2 (Radford et al. 2019), in Flax NNX.

With :math:`h^{(0)}_t = E[x_t] + P_t` (token and learned positional embeddings; or
:math:`W_{\text{in}} x_t + P_t` for continuous inputs), each of the L blocks computes

.. math::

    a = h + \operatorname{Attn}(\operatorname{LN}_1(h)), \qquad
    h' = a + W_2\,\operatorname{gelu}(W_1 \operatorname{LN}_2(a) + b_1) + b_2,

and the output is :math:`W_{\text{out}} \operatorname{LN}_f(h^{(L)}) + b_{\text{out}}` at every
position. Multi-head causal self-attention, with :math:`d_h = d_{\text{model}} / H`:

.. math::

    \operatorname{Attn}(h)_t = W_O \bigoplus_{i=1}^H \sum_{s \le t}
    \operatorname{softmax}_s\Bigl(\tfrac{q^i_t \cdot k^i_s}{\sqrt{d_h}}\Bigr) v^i_s,

so output t depends on inputs :math:`1..t` only. The continuous-input variant is the in-context
linear regression model of Garg et al. (2022, arXiv:2208.01066) and Raventós et al. (2023,
arXiv:2306.15063).
"""

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["Block", "CausalSelfAttention", "Transformer"]


class CausalSelfAttention(nnx.Module):
    """Multi-head self-attention with a causal mask, written with ``einsum``.

    Parameters
    ----------
    d_model
        Width of the residual stream.
    num_heads
        Number of heads H; must divide ``d_model``.
    rngs
        ``nnx.Rngs`` for initialization.
    """

    def __init__(self, d_model: int, num_heads: int, *, rngs: nnx.Rngs) -> None:
        if d_model % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        self.num_heads = num_heads
        self.qkv = nnx.Linear(d_model, 3 * d_model, rngs=rngs)
        self.out = nnx.Linear(d_model, d_model, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Attention outputs ``(..., T, d_model)`` for inputs ``(..., T, d_model)``."""
        *lead, t, d = x.shape
        dh = d // self.num_heads
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
        q, k, v = (z.reshape(*lead, t, self.num_heads, dh) for z in (q, k, v))
        scores = jnp.einsum("...qhd,...khd->...hqk", q, k) / jnp.sqrt(jnp.asarray(dh, q.dtype))
        causal = jnp.tril(jnp.ones((t, t), dtype=bool))
        scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        mixed = jnp.einsum("...hqk,...khd->...qhd", weights, v).reshape(*lead, t, d)
        return self.out(mixed)


class Block(nnx.Module):
    """A pre-LayerNorm Transformer block: attention then a GELU MLP, each residual."""

    def __init__(self, d_model: int, num_heads: int, d_mlp: int, *, rngs: nnx.Rngs) -> None:
        self.ln1 = nnx.LayerNorm(d_model, rngs=rngs)
        self.attn = CausalSelfAttention(d_model, num_heads, rngs=rngs)
        self.ln2 = nnx.LayerNorm(d_model, rngs=rngs)
        self.mlp_in = nnx.Linear(d_model, d_mlp, rngs=rngs)
        self.mlp_out = nnx.Linear(d_mlp, d_model, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """The residual stream after this block."""
        x = x + self.attn(self.ln1(x))
        return x + self.mlp_out(jax.nn.gelu(self.mlp_in(self.ln2(x))))


class Transformer(nnx.Module):
    """Decoder-only Transformer over token ids or over continuous vectors.

    Give exactly one of ``vocab_size`` (inputs are integer token ids ``(batch, T)``) and
    ``input_dim`` (inputs are vectors ``(batch, T, input_dim)``, linearly projected).

    Parameters
    ----------
    vocab_size
        Number of token ids (token embedding input).
    input_dim
        Size of continuous input vectors (linear input projection).
    max_len
        Longest sequence; the learned positional embedding has this many rows.
    d_model, num_heads, num_layers, d_mlp
        Width of the residual stream, heads per layer, number of blocks, MLP hidden width.
    out_features
        Size of the output head at every position (defaults to ``vocab_size``; required with
        ``input_dim``).
    rngs
        ``nnx.Rngs`` for initialization.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from slt.nets import Transformer
    >>> net = Transformer(vocab_size=6, max_len=3, d_model=8, num_heads=2, num_layers=1,
    ...                   d_mlp=16, out_features=5, rngs=nnx.Rngs(0))
    >>> net(jnp.zeros((2, 3), dtype=jnp.int32)).shape
    (2, 3, 5)
    """

    def __init__(
        self,
        *,
        vocab_size: int | None = None,
        input_dim: int | None = None,
        max_len: int,
        d_model: int,
        num_heads: int,
        num_layers: int,
        d_mlp: int,
        out_features: int | None = None,
        rngs: nnx.Rngs,
    ) -> None:
        if (vocab_size is None) == (input_dim is None):
            raise ValueError("give exactly one of vocab_size (tokens) and input_dim (vectors)")
        out = out_features if out_features is not None else vocab_size
        if out is None:
            raise ValueError("out_features is required with continuous inputs (input_dim)")
        self.max_len = max_len
        self.continuous = input_dim is not None
        self.embed: nnx.Embed | nnx.Linear
        if vocab_size is not None:
            self.embed = nnx.Embed(vocab_size, d_model, rngs=rngs)
        else:
            assert input_dim is not None
            self.embed = nnx.Linear(input_dim, d_model, rngs=rngs)
        self.pos = nnx.Embed(max_len, d_model, rngs=rngs)
        self.blocks = nnx.List(
            [Block(d_model, num_heads, d_mlp, rngs=rngs) for _ in range(num_layers)]
        )
        self.ln_f = nnx.LayerNorm(d_model, rngs=rngs)
        self.head = nnx.Linear(d_model, out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Outputs ``(batch, T, out_features)`` for ``(batch, T)`` ids or ``(batch, T, dim)``."""
        t = x.shape[-2] if self.continuous else x.shape[-1]
        if t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len {self.max_len}")
        h = self.embed(x) + self.pos(jnp.arange(t))
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h))
