r"""Deep linear networks: the reference models of Furman & Lau (arXiv:2402.03698).

:math:`y = W_{L-1} \cdots W_0 x + \varepsilon` with :math:`W_i \in \mathbb{R}^{H_{i+1}\times H_i}`
for ``widths = [H_0, ..., H_L]`` (``params = {"W0": (H_1, H_0), ..., f"W{L-1}": (H_L, H_{L-1})}``,
no biases), inputs uniform on the cube :math:`[-1, 1]^{H_0}` (the paper's choice) and
:math:`\varepsilon \sim N(0, I_{H_L})`. The loss is the Gaussian negative log-likelihood per
sample,

.. math::

    \ell(w; x, y) = \tfrac12\lVert y - W_{L-1}\cdots W_0 x\rVert^2 + \tfrac{H_L}{2}\log 2\pi,

so :math:`L_n` is exactly the likelihood the RLCT refers to. The uniform inputs have second
moment :math:`I/3`, positive definite, which rescales :math:`K` by a constant factor and so does
not change λ; the exact value is :func:`slt.exact.dln` ``(widths, r)`` with ``r`` the rank of the
true product (Aoyagi 2024; Furman & Lau 2024, Thm B.1).
"""

import itertools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from slt.exact.dln import dln as exact_dln
from slt.exact.rrr import _check_int
from slt.models.problem import Problem

__all__ = [
    "localized_model",
    "loss",
    "make",
    "product",
    "random_network",
    "random_widths",
    "teacher",
    "train",
]


def loss(params: dict, batch: dict) -> jnp.ndarray:
    """Mean Gaussian NLL of ``batch = {"x": (b, H_0), "y": (b, H_L)}`` under ``params``.

    ``params = {"W0": (H_1, H_0), "W1": (H_2, H_1), ...}``; the layers are applied in the order
    of their index (not of the dict's keys, which sort ``"W10"`` before ``"W2"``).
    """
    h = batch["x"]
    for i in range(len(params)):
        h = h @ params[f"W{i}"].T
    resid = batch["y"] - h
    n_out = batch["y"].shape[-1]
    return 0.5 * jnp.mean(jnp.sum(resid**2, axis=-1)) + 0.5 * n_out * jnp.log(2 * jnp.pi)


def product(params: dict) -> np.ndarray:
    r"""The end-to-end matrix :math:`W_{L-1}\cdots W_0` (H_L × H_0) of ``params``, in float64."""
    out = np.asarray(params["W0"], np.float64)
    for i in range(1, len(params)):
        out = np.asarray(params[f"W{i}"], np.float64) @ out
    return out


def localized_model(gram, coef, rss, n_obs, *, center: dict, gamma: float = 1.0) -> None:
    r"""The LLC's localized posterior of a linear network as a NumPyro model, exact in n.

    Each layer :math:`W_i \sim N(W_i^\ast, \gamma^{-1})` entrywise (the localization
    :math:`\tfrac\gamma2\lVert w - w^\ast\rVert^2` of Lau et al. 2025, eq. 7, as a prior) and the
    likelihood is :math:`e^{-nL_n}` through the sufficient statistics of
    :func:`slt.models.rrr.sufficient_statistics` (one observed site, so
    :func:`slt.sample_tempered` at β samples :math:`p(w \mid w^\ast, \beta, \gamma)`), at a cost
    per gradient independent of n. ``center`` is ``{"W0": (H_1, H_0), ...}`` as in :func:`make`;
    ``{"W0": A, "W1": B}`` is reduced-rank regression.
    """
    import numpyro
    import numpyro.distributions as dist

    from slt.models.rrr import observe_nll, sufficient_nll

    out = None
    for i in range(len(center)):
        mean = jnp.asarray(center[f"W{i}"])
        layer = numpyro.sample(f"W{i}", dist.Normal(mean, gamma**-0.5).to_event(2))
        out = layer if out is None else layer @ out
    observe_nll(sufficient_nll(out, jnp.asarray(gram), jnp.asarray(coef), rss, n_obs))


def _orthogonal(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size x size`` orthogonal matrix (QR of a Gaussian matrix)."""
    return np.linalg.qr(rng.normal(size=(size, size)))[0]


def teacher(widths: list[int], r: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    r"""A balanced teacher whose product has rank exactly r, singular values uniform in [1, 2].

    With :math:`Q_i` a random :math:`H_i \times H_i` orthogonal matrix and :math:`U_i` its first
    r columns, :math:`W_i = U_{i+1} S^{1/L} U_i^\top`, so that
    :math:`W_{L-1}\cdots W_0 = U_L S U_0^\top` is a random rank-r matrix with singular values
    :math:`S`. This is the SVD factorisation of the product spread evenly over the layers,
    padded with zero singular values and rotated between layers: the factors are balanced
    (:math:`W_{i+1}^\top W_{i+1} = W_i W_i^\top`), every layer has rank exactly r, and the
    rotations (exact symmetries of the model) leave no row or column identically zero. For
    ``r = 0`` every layer is the zero matrix.

    Parameters
    ----------
    widths
        ``[H_0, ..., H_L]``, at least two integers ``>= 1``.
    r
        Rank of the product, ``0 <= r <= min(widths)``.
    rng
        Source of the rotations and singular values.

    Returns
    -------
    dict
        ``{"W0": (H_1, H_0), ...}``, float64 numpy arrays.
    """
    exact_dln(widths, r)  # validates widths and r
    widths = [int(h) for h in widths]
    r = int(r)
    num_layers = len(widths) - 1
    bases = [_orthogonal(h, rng)[:, :r] for h in widths]
    root = rng.uniform(1.0, 2.0, size=r) ** (1.0 / num_layers)
    return {f"W{i}": (bases[i + 1] * root) @ bases[i].T for i in range(num_layers)}


def train(params: dict, data: dict, *, steps: int = 500) -> dict:
    r"""Full-batch gradient descent on :math:`L_n` from ``params``, ``steps`` steps, in one jit.

    The step size is :math:`1/B` with
    :math:`B = \lVert \hat\Sigma_x\rVert \sum_i \prod_{j\ne i}\lVert W_j\rVert^2` at the start
    (:math:`\hat\Sigma_x = X^\top X / n`, spectral norms), an upper bound on the largest
    eigenvalue of the Gauss-Newton part of the Hessian, so the step is stable with a margin of
    about two near a minimum; B is floored at :math:`\lVert\hat\Sigma_x\rVert` so that a zero
    start (``r = 0``; a critical point for two or more layers) gets a finite step. Runs in the
    dtype of ``params`` (float32 by default). Gradient descent converges linearly in the
    non-degenerate directions of the minimum; in the degenerate ones it barely moves, where
    the gradient is zero to leading order anyway.

    Parameters
    ----------
    params
        Start, e.g. the teacher; ``{"W0", "W1", ...}`` arrays.
    data
        ``{"x": (n, H_0), "y": (n, H_L)}``.
    steps
        Number of gradient steps, ``>= 0``.

    Returns
    -------
    dict
        The parameters after ``steps`` steps (JAX arrays, same dtype as ``params``).
    """
    steps = _check_int("steps", steps, 0)
    x = np.asarray(data["x"], dtype=np.float64)
    cov_norm = float(np.linalg.norm(x.T @ x / x.shape[0], ord=2))
    norms_sq = [
        float(np.linalg.norm(np.asarray(params[f"W{i}"]), ord=2)) ** 2 for i in range(len(params))
    ]
    bound = cov_norm * sum(
        float(np.prod([s for j, s in enumerate(norms_sq) if j != i])) for i in range(len(norms_sq))
    )
    lr = 1.0 / max(bound, cov_norm)
    grad_fn = jax.grad(loss)

    def step(p: dict, _: None) -> tuple[dict, None]:
        g = grad_fn(p, data)
        return jax.tree.map(lambda w, gw: w - lr * gw, p, g), None

    @jax.jit
    def run(p: dict) -> dict:
        return jax.lax.scan(step, p, None, length=steps)[0]

    return run({k: jnp.asarray(v) for k, v in params.items()})


def _build(
    widths: list[int],
    r: int,
    rng: np.random.Generator,
    *,
    n: int,
    w_star: str,
    steps: int,
    dtype: str,
) -> Problem:
    exact = exact_dln(widths, r)
    widths = [int(h) for h in widths]
    r = int(r)
    n = _check_int("n", n, 1)
    steps = _check_int("steps", steps, 0)
    if w_star not in ("teacher", "trained"):
        raise ValueError(f"w_star must be 'teacher' or 'trained'; got {w_star!r}")
    truth = teacher(widths, r, rng)
    x = rng.uniform(-1.0, 1.0, size=(n, widths[0]))
    y = x @ product(truth).T + rng.normal(size=(n, widths[-1]))
    cast = lambda a: jnp.asarray(a, dtype=dtype)
    data = {"x": cast(x), "y": cast(y)}
    params = {k: cast(v) for k, v in truth.items()}
    if w_star == "trained":
        params = train(params, data, steps=steps)
    return Problem(
        name=f"dln(widths={widths},r={r})",
        loss_fn=loss,
        params=params,
        data=data,
        exact=exact,
    )


def make(
    widths: list[int],
    r: int,
    *,
    n: int = 10_000,
    seed: int = 0,
    w_star: Literal["teacher", "trained"] = "teacher",
    steps: int = 500,
    dtype: str = "float32",
) -> Problem:
    """Data from a balanced rank-r teacher and the point :math:`w^\\ast` at which to measure
    the LLC.

    Parameters
    ----------
    widths
        ``[H_0, ..., H_L]``: input width, hidden widths, output width (``L >= 1``).
    r
        Rank of the true product, ``0 <= r <= min(widths)``.
    n
        Number of samples.
    seed
        Seed of the teacher (:func:`teacher`), the inputs (uniform on :math:`[-1, 1]^{H_0}`) and
        the noise.
    w_star
        ``"teacher"``: the true parameter; ``"trained"``: the teacher after ``steps`` steps of
        full-batch gradient descent on :math:`L_n` (:func:`train`), a point close to the
        empirical minimum, as a training run would reach.
    steps
        Gradient steps for ``w_star="trained"``.
    dtype
        Floating dtype of data and parameters.

    Returns
    -------
    Problem
        ``loss_fn`` = :func:`loss`, ``params = {"W0", ...}``, ``data = {"x", "y"}``,
        ``exact`` = :func:`slt.exact.dln` ``(widths, r)``.

    Examples
    --------
    >>> from slt.models import dln
    >>> p = dln.make([5, 4, 3, 5], 0, n=100)
    >>> p.exact.rlct, p.params["W1"].shape
    (5.5, (3, 4))
    """
    seed = _check_int("seed", seed, 0)
    return _build(
        widths, r, np.random.default_rng(seed), n=n, w_star=w_star, steps=steps, dtype=dtype
    )


def _check_range(name: str, value: object, low: int) -> tuple[int, int]:
    """Return ``value`` as an inclusive integer range ``(lo, hi)`` with ``low <= lo <= hi``."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi) of integers, got {value!r}")
    lo = _check_int(f"{name}[0]", value[0], low)
    hi = _check_int(f"{name}[1]", value[1], lo)
    return lo, hi


def random_widths(
    rng: np.random.Generator,
    num_layers: tuple[int, int] = (2, 5),
    width: tuple[int, int] = (2, 10),
) -> list[int]:
    """Random widths ``[H_0, ..., H_L]``: L and each H_i uniform on inclusive integer ranges.

    Parameters
    ----------
    rng
        Source of the draws.
    num_layers
        ``(lo, hi)``, ``1 <= lo <= hi``: the number of weight matrices L.
    width
        ``(lo, hi)``, ``1 <= lo <= hi``: every width, input and output included.

    Returns
    -------
    list of int
        ``L + 1`` widths.
    """
    lo_l, hi_l = _check_range("num_layers", num_layers, 1)
    lo_w, hi_w = _check_range("width", width, 1)
    num = int(rng.integers(lo_l, hi_l + 1))
    return [int(h) for h in rng.integers(lo_w, hi_w + 1, size=num + 1)]


def random_network(
    seed: int,
    *,
    num_layers: tuple[int, int] = (2, 5),
    width: tuple[int, int] = (2, 10),
    n: int = 10_000,
    w_star: Literal["teacher", "trained"] = "teacher",
    steps: int = 500,
    dtype: str = "float32",
) -> Problem:
    """A random deep linear network problem, drawn as in Furman & Lau (arXiv:2402.03698).

    The number of layers and the widths come from :func:`random_widths`. Each layer
    ``i`` has full rank ``min(H_i, H_{i+1})``; with probability 1/2 it is rank-reduced to a
    rank drawn uniformly from ``0, ..., min(H_i, H_{i+1}) - 1``. The true rank is the
    minimum of the layer ranks (the rank of a product of generic matrices of those ranks).
    The teacher is then the balanced rank-r network of :func:`teacher`: the exact λ depends on
    the truth only through the widths and the rank of the product. A rank of 0 gives the zero
    teacher. The defaults give small networks (at most a few hundred parameters); the paper
    goes to 1e8 parameters with wider ranges.

    Parameters
    ----------
    seed
        Seed of everything: the architecture, the ranks, the teacher and the data.
    num_layers, width
        Inclusive ranges passed to :func:`random_widths`.
    n, w_star, steps, dtype
        As in :func:`make`.

    Returns
    -------
    Problem
        As :func:`make` returns; ``name`` gives the widths and the true rank.

    Examples
    --------
    >>> from slt.models import dln
    >>> p = dln.random_network(3, n=100)
    >>> p.name == dln.random_network(3, n=100).name
    True
    """
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    widths = random_widths(rng, num_layers, width)
    ranks = []
    for h_in, h_out in itertools.pairwise(widths):
        full = min(h_in, h_out)
        ranks.append(int(rng.integers(0, full)) if rng.random() < 0.5 else full)
    return _build(widths, min(ranks), rng, n=n, w_star=w_star, steps=steps, dtype=dtype)
