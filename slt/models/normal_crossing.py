r"""Regression models whose Kullback-Leibler divergence is exactly a normal crossing.

Observe :math:`y_i = f(w) + \varepsilon_i`, :math:`\varepsilon_i \sim N(0, 1)`, with the truth
:math:`f = 0`. Then :math:`K(w) = \tfrac12 f(w)^2`, and with
:math:`f(w) = \sqrt2 \prod_j w_j^{k_j}`,

.. math::

    K(w) = \prod_j w_j^{2k_j},

the normal crossing of :func:`slt.exact.normal_crossing`. The prior is
:math:`w_j \sim \mathrm{Beta}(h_j + 1, 1)`, density :math:`(h_j + 1) w_j^{h_j}` on [0, 1], i.e.
:math:`\varphi \propto \prod_j |w_j|^{h_j}` near the true set. The support is one-sided and the
true set :math:`\{w : \text{some } w_j = 0, k_j \ge 1\}` lies on its boundary; since ``K`` is
even in every :math:`w_j`, the zeta function (and the RLCT and multiplicity) is the same as
for the symmetric prior :math:`\propto |w_j|^{h_j}` on [-1, 1]. (NumPyro samples
:math:`w_j` through a logit: the true set is at :math:`-\infty` in those coordinates, where
the posterior has an exponentially decaying tail.) The prior is NumPyro's ``Beta(h + 1, 1)``
density written out (:math:`\log(h+1) + h\log w`) and sampled by inversion, which runs
eagerly without the Gamma and Dirichlet machinery.

A sum over blocks in disjoint variables, :math:`K = \sum_b K_b`, is the same construction with
one observed site per block: each observation :math:`i` is a vector :math:`(y_{b,i})_b`, all in
the one data plate, so :math:`L_n` adds the blocks' negative log-likelihoods
(:func:`slt.exact.normal_crossing_sum`).

References
----------
S. Watanabe, *Algebraic Geometry and Statistical Learning Theory*, Cambridge University Press,
2009, Ch. 2 and 7.
"""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from slt.exact.normal_crossing import normal_crossing, normal_crossing_sum
from slt.exact.rrr import _check_int
from slt.models.problem import GlobalProblem

__all__ = ["make", "make_sum", "model", "model_sum", "regression_function"]

_SQRT2 = math.sqrt(2.0)


def regression_function(w: jnp.ndarray, k: tuple[int, ...]) -> jnp.ndarray:
    r""":math:`f(w) = \sqrt2 \prod_j w_j^{k_j}` (integer powers: finite gradients at 0)."""
    f = jnp.asarray(_SQRT2, dtype=w.dtype)
    for j, kj in enumerate(k):
        if kj > 0:
            f = f * w[..., j] ** kj
    return f


class _PowerPrior(dist.Distribution):
    """The density :math:`(h + 1) w^h` on (0, 1), i.e. ``Beta(h + 1, 1)``, written out.

    Sampled by inversion (:math:`w = u^{1/(h+1)}`, :math:`u \\sim U(0, 1)`) and with a two-term
    log-density: NumPyro's ``Beta`` samples through Gamma rejection and evaluates through a
    Dirichlet, each of which takes seconds to compile per shape when a model runs eagerly.
    """

    arg_constraints = {"h": constraints.greater_than(-1.0)}
    support = constraints.unit_interval
    reparametrized_params = ["h"]
    pytree_data_fields = ("h",)

    def __init__(self, h: jnp.ndarray, *, validate_args: bool | None = None) -> None:
        self.h = h
        super().__init__(batch_shape=jnp.shape(h), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        """:math:`u^{1/(h+1)}` with :math:`u \\sim U(0, 1)`."""
        shape = tuple(sample_shape) + tuple(self.batch_shape)
        dtype = jnp.result_type(self.h)
        u = jax.random.uniform(key, shape, dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
        return u ** (1.0 / (self.h + 1.0))

    def log_prob(self, value):
        """:math:`\\log(h + 1) + h \\log w` (the ``h = 0`` term is 0 even at ``w = 0``)."""
        safe = jnp.where(self.h == 0, 1.0, value)  # no 0 * inf in the gradient at w = 0
        return jnp.log1p(self.h) + self.h * jnp.log(safe)


def _prior(h: tuple[float, ...], dtype) -> dist.Distribution:
    """Independent :math:`w_j \\sim \\mathrm{Beta}(h_j + 1, 1)`, one event of size ``len(h)``."""
    return _PowerPrior(jnp.asarray(h, dtype)).to_event(1)


def model(y: jnp.ndarray, k: tuple[int, ...], h: tuple[float, ...]) -> None:
    r"""Prior :math:`w_j \sim \mathrm{Beta}(h_j + 1, 1)`; likelihood :math:`y_i \sim N(f(w), 1)`.

    Parameters
    ----------
    y
        Observations, shape (n,).
    k, h
        Exponents of :math:`K = \prod_j w_j^{2k_j}` and of the prior
        :math:`\propto \prod_j w_j^{h_j}`.
    """
    y = jnp.asarray(y)
    w = numpyro.sample("w", _prior(h, y.dtype))
    f = regression_function(w, k)
    with numpyro.plate("data", y.shape[0]):
        numpyro.sample("y", dist.Normal(f, 1.0), obs=y)


def model_sum(y: jnp.ndarray, k: tuple[tuple[int, ...], ...], h: tuple[tuple[float, ...], ...]):
    r"""Blocks ``b`` in disjoint variables ``w_b``: :math:`y_{b,i} \sim N(f_b(w_b), 1)`.

    Parameters
    ----------
    y
        Observations, shape (n, B): column ``b`` is block ``b``'s observed site ``y_b``.
    k, h
        Per block, the exponents of :math:`K_b` and of its prior.
    """
    y = jnp.asarray(y)
    fs = []
    for b, (kb, hb) in enumerate(zip(k, h, strict=True)):
        w = numpyro.sample(f"w_{b}", _prior(hb, y.dtype))
        fs.append(regression_function(w, kb))
    with numpyro.plate("data", y.shape[0]):
        for b, f in enumerate(fs):
            numpyro.sample(f"y_{b}", dist.Normal(f, 1.0), obs=y[:, b])


def _structure(k: Sequence[int], h: Sequence[float] | None) -> tuple[tuple[int, ...], tuple]:
    normal_crossing(k, h)  # validates k and h (ValueError naming them)
    kt = tuple(int(kj) for kj in k)
    ht = tuple(0.0 for _ in kt) if h is None else tuple(float(hj) for hj in h)
    return kt, ht


def make(
    k: Sequence[int],
    h: Sequence[float] | None = None,
    *,
    n: int = 1000,
    seed: int = 0,
    dtype: str = "float32",
) -> GlobalProblem:
    r"""The normal crossing :math:`K(w) = \prod_j w_j^{2k_j}` as a regression problem.

    Parameters
    ----------
    k
        Exponents :math:`k_j \ge 0`, at least one :math:`\ge 1`.
    h
        Prior exponents :math:`h_j > -1` (prior :math:`\mathrm{Beta}(h_j + 1, 1)`); default 0
        (uniform on [0, 1]).
    n
        Number of observations.
    seed
        Seed of the data :math:`y_i \sim N(0, 1)` (numpy).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model`, ``data = {"y", "k", "h"}``, ``exact`` =
        :func:`slt.exact.normal_crossing` ``(k, h)``.

    Examples
    --------
    >>> from slt.models import normal_crossing
    >>> p = normal_crossing.make([1, 1], n=100)
    >>> p.name, p.exact.rlct, p.exact.multiplicity
    ('normal_crossing(k=(1, 1),h=(0.0, 0.0),n=100)', 0.5, 2)
    """
    exact = normal_crossing(k, h)
    kt, ht = _structure(k, h)
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    y = np.random.default_rng(seed).normal(size=n).astype(dtype)
    return GlobalProblem(
        name=f"normal_crossing(k={kt},h={ht},n={n})",
        model=model,
        data={"y": y, "k": kt, "h": ht},
        n=n,
        exact=exact,
        truth={"w": np.zeros(len(kt), y.dtype)},
    )


def make_sum(
    blocks: Sequence[Sequence[int] | tuple[Sequence[int], Sequence[float] | None]],
    *,
    n: int = 1000,
    seed: int = 0,
    dtype: str = "float32",
) -> GlobalProblem:
    r"""A sum :math:`K = \sum_b \prod_j w_{b,j}^{2k_{b,j}}` over blocks in disjoint variables.

    Parameters
    ----------
    blocks
        One entry per block: ``k`` (prior exponents 0), or a tuple ``(k, h)`` whose first
        entry is itself a sequence. E.g.
        ``[[1], [2]]`` is :math:`K = w_1^2 + w_2^4` with λ = 3/4.
    n
        Number of observations (each a vector of one value per block).
    seed
        Seed of the data :math:`y_{b,i} \sim N(0, 1)` (numpy).
    dtype
        Floating dtype of the data.

    Returns
    -------
    GlobalProblem
        ``model`` = :func:`model_sum`, ``data = {"y", "k", "h"}`` with ``y`` of shape
        (n, B), ``exact`` = :func:`slt.exact.normal_crossing_sum` of the blocks.

    Examples
    --------
    >>> from slt.models import normal_crossing
    >>> normal_crossing.make_sum([[1], [2]], n=100).exact.rlct
    0.75
    """
    if isinstance(blocks, str | bytes) or not isinstance(blocks, Sequence) or not blocks:
        raise ValueError(f"blocks must be a non-empty sequence of blocks, got {blocks!r}")
    ks, hs, exacts = [], [], []
    for b, block in enumerate(blocks):
        is_pair = (
            isinstance(block, tuple)
            and len(block) == 2
            and not isinstance(block[0], int | np.integer)
        )
        kb, hb = block if is_pair else (block, None)
        try:
            kt, ht = _structure(kb, hb)  # type: ignore[arg-type]
        except ValueError as err:
            raise ValueError(f"blocks[{b}]: {err}") from None
        ks.append(kt)
        hs.append(ht)
        # Shorthand k blocks are summed as exact fractions (a correctly rounded rlct).
        exacts.append(kt if not any(ht) else normal_crossing(kt, ht))
    exact = normal_crossing_sum(*exacts)
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    y = np.random.default_rng(seed).normal(size=(n, len(ks))).astype(dtype)
    label = " + ".join(f"nc(k={kt},h={ht})" for kt, ht in zip(ks, hs, strict=True))
    return GlobalProblem(
        name=f"normal_crossing_sum({label},n={n})",
        model=model_sum,
        data={"y": y, "k": tuple(ks), "h": tuple(hs)},
        n=n,
        exact=exact,
        truth={f"w_{b}": np.zeros(len(kb), y.dtype) for b, kb in enumerate(ks)},
    )
