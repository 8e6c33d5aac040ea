r"""Extreme Hessian eigenvalues by Lanczos; the spectral density by stochastic Lanczos quadrature.

Lanczos (Golub & Van Loan 2013, *Matrix Computations*, 4th ed., §10.1) builds an orthonormal
basis :math:`V_m = [v_1, \dots, v_m]` of the Krylov space
:math:`\mathcal K_m(A, v_1) = \mathrm{span}\{v_1, Av_1, \dots, A^{m-1}v_1\}` in which
:math:`T_m = V_m^\top A V_m` is tridiagonal (diagonal :math:`\alpha_j`, off-diagonal
:math:`\beta_j`). The eigenvalues :math:`\theta_j` of :math:`T_m` (Ritz values) converge first to
the extreme eigenvalues of :math:`A`, with the residual bound

.. math::

    \lVert A y_j - \theta_j y_j \rVert = |\beta_m\, s_{mj}|, \qquad y_j = V_m s_j,

(Golub & Van Loan 2013, §10.1). Every new vector is reorthogonalised against the whole basis
twice (classical Gram-Schmidt twice, "twice is enough": Giraud, Langou & Rozložník 2005,
Comput. Math. Appl. 50:1069; Golub & Van Loan 2013, §10.3), which keeps the basis orthonormal to
working precision and suppresses the spurious copies of converged eigenvalues of plain Lanczos.
When the Krylov space is exhausted (:math:`\beta_j \approx 0`, e.g. a Hessian of low rank after
rank + 1 steps) the iteration restarts from a new Gaussian vector (the entries of the start
vector, rotated) orthogonalised against the basis, and :math:`\beta_j` is set to 0, so that with
``num_iterations = d`` the Ritz values are the whole spectrum. The basis costs
``(num_iterations + 1) * d`` numbers of memory.

Stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019, "An investigation into neural net
optimization via Hessian eigenvalue density", ICML; Ubaru, Chen & Saad 2017,
SIAM J. Matrix Anal. Appl. 38:1075) runs Lanczos from random unit probes :math:`v`: the Ritz
values :math:`\theta_j` with weights :math:`\tau_j = s_{1j}^2` are the nodes and weights of the
Gauss quadrature of the spectral measure of :math:`v`, whose expectation over probes is the
eigenvalue density :math:`\frac1d\sum_i \delta(t - \lambda_i)`; smoothed with a Gaussian of width
:math:`\sigma` it gives :math:`\hat\phi_\sigma(t) = \frac1P\sum_p\sum_j \tau_{pj}\,
\mathcal N(t;\theta_{pj},\sigma^2)`.

The iteration is one ``lax.fori_loop`` inside one compiled function, cached across calls with the
same loss, shapes and ``num_iterations``; vectors are float64 when 64-bit floats are enabled
(``jax.enable_x64``), float32 otherwise. The small :math:`T_m` is diagonalised on the host in
float64.
"""

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt._types import ArrayTree, Batch
from slt.data import check_data
from slt.geometry.hvp import DEFAULT_CHUNK_SIZE, LinearOperator, compute_dtype, linear_operator
from slt.posterior import LossFn

__all__ = [
    "LanczosResult",
    "SpectralDensity",
    "hessian_spectral_density",
    "hessian_top_eigenvalues",
    "lanczos_eigenvalues",
    "pytree_vectors",
    "spectral_density",
]

Which = Literal["LA", "LM", "SA"]


class LanczosResult(NamedTuple):
    """Ritz values (and vectors) from Lanczos.

    Attributes
    ----------
    eigenvalues
        The k selected Ritz values, shape (k,): descending for ``which="LA"``, descending in
        magnitude for ``"LM"``, ascending for ``"SA"``.
    residuals
        :math:`\\lVert A y_j - \\theta_j y_j\\rVert = |\\beta_m s_{mj}|` for each, shape (k,): an
        error bar (a small residual means a converged eigenvalue).
    eigenvectors
        The unit Ritz vectors as a pytree like ``params`` whose leaves have a leading axis of
        length k (flat (k, d) for :func:`lanczos_eigenvalues`), or None unless ``return_vectors``.
    num_iterations
        The Lanczos steps m taken.
    """

    eigenvalues: jax.Array
    residuals: jax.Array
    eigenvectors: ArrayTree | None
    num_iterations: int


class SpectralDensity(NamedTuple):
    """A smoothed eigenvalue density from stochastic Lanczos quadrature.

    Attributes
    ----------
    nodes, weights
        Gauss quadrature nodes :math:`\\theta_{pj}` and weights :math:`\\tau_{pj}` per probe,
        shape (num_probes, num_iterations); each row of weights sums to 1.
    grid
        Points t at which the density is evaluated, shape (num_points,).
    density
        :math:`\\hat\\phi_\\sigma(t)` on the grid; it integrates to about 1.
    sigma
        The Gaussian smoothing width.
    """

    nodes: jax.Array
    weights: jax.Array
    grid: jax.Array
    density: jax.Array
    sigma: float


def check_k_iterations(k: int, num_iterations: int | None, dim: int) -> int:
    """Validate ``k`` and ``num_iterations`` against ``dim``; return the number of iterations."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}")
    if k > dim:
        raise ValueError(f"k must be at most the dimension d = {dim}; got k = {k}")
    if num_iterations is None:
        return min(dim, max(3 * k, 80))
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, int):
        raise ValueError(f"num_iterations must be an integer; got {num_iterations!r}")
    if not k <= num_iterations <= dim:
        raise ValueError(f"num_iterations must lie in [k, d] = [{k}, {dim}]; got {num_iterations}")
    return num_iterations


def _orthogonalise(basis: jax.Array, w: jax.Array) -> jax.Array:
    """``w`` minus its projection on the rows of ``basis`` (zero rows are inert), done twice."""
    w = w - basis.T @ (basis @ w)
    return w - basis.T @ (basis @ w)


def _tridiagonal(apply, operands, key, dim, num_iterations, dtype):
    """Lanczos with full reorthogonalisation: basis (m+1, d), alphas (m,), betas (m,)."""
    m = num_iterations
    eps = jnp.finfo(dtype).eps
    z = jax.random.normal(key, (dim,), dtype)
    basis = jnp.zeros((m + 1, dim), dtype).at[0].set(z / jnp.linalg.norm(z))

    def body(i, carry):
        basis, alphas, betas, scale = carry
        v = basis[i]
        w = apply(operands, v).astype(dtype)
        alpha = jnp.vdot(v, w)
        w = _orthogonalise(basis, w)
        beta = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.maximum(jnp.abs(alpha), beta))
        broke = beta <= 100 * eps * scale

        def restart(_):
            # A fresh Gaussian direction without drawing again in the loop (a draw there costs
            # more compile time than the rest of the loop): the start vector's entries, rotated.
            r = _orthogonalise(basis, jnp.roll(z, i + 1))
            nr = jnp.linalg.norm(r)
            return r / jnp.where(nr > 0, nr, 1)

        v_next = jax.lax.cond(broke, restart, lambda _: w / jnp.where(beta > 0, beta, 1), None)
        beta = jnp.where(broke, jnp.zeros((), dtype), beta)
        return basis.at[i + 1].set(v_next), alphas.at[i].set(alpha), betas.at[i].set(beta), scale

    init = (basis, jnp.zeros(m, dtype), jnp.zeros(m, dtype), jnp.zeros((), dtype))
    basis, alphas, betas, _ = jax.lax.fori_loop(0, m, body, init)
    return basis, alphas, betas


def _ritz_eigh(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of the tridiagonal :math:`T_m`, on the host in float64."""
    alphas = np.asarray(alphas, np.float64)
    off = np.asarray(betas, np.float64)[:-1]
    theta, s = np.linalg.eigh(np.diag(alphas) + np.diag(off, 1) + np.diag(off, -1))
    return theta, s


def _lanczos(apply, operands, key, dim, num_iterations, dtype, return_basis):
    basis, alphas, betas = _tridiagonal(apply, operands, key, dim, num_iterations, dtype)
    return alphas, betas, basis[:num_iterations] if return_basis else None


_STATIC = ("apply", "dim", "num_iterations", "dtype")
_lanczos_jit = jax.jit(_lanczos, static_argnames=(*_STATIC, "return_basis"))


def lanczos_eigenvalues(
    operator: LinearOperator,
    *,
    k: int = 1,
    num_iterations: int | None = None,
    seed: int = 0,
    which: Which = "LA",
    return_vectors: bool = False,
) -> LanczosResult:
    """Extreme eigenvalues of a symmetric matrix-free operator, by Lanczos.

    Parameters
    ----------
    operator
        A symmetric :class:`~slt.geometry.hvp.LinearOperator` (Hessian, Fisher).
    k
        How many Ritz values to return, ``1 <= k <= d``.
    num_iterations
        Lanczos steps m, ``k <= m <= d``; default ``min(d, max(3k, 80))``. With ``m = d`` the
        Ritz values are the full spectrum up to round-off.
    seed
        Seed of the random start (and restart) vectors.
    which
        ``"LA"`` largest algebraic, ``"LM"`` largest magnitude, ``"SA"`` smallest algebraic.
    return_vectors
        Also return the Ritz vectors, as a flat (k, d) array.

    Returns
    -------
    LanczosResult

    Examples
    --------
    >>> from slt.geometry.hvp import linear_operator
    >>> loss = lambda w, x: jnp.mean(0.5 * jnp.sum(x * w**2, axis=-1))
    >>> op = linear_operator(loss, jnp.ones(4), jnp.array([[1.0, 2.0, 3.0, 4.0]]))
    >>> res = lanczos_eigenvalues(op, k=2, num_iterations=4)
    >>> [round(float(x), 4) for x in res.eigenvalues]
    [4.0, 3.0]
    """
    m = check_k_iterations(k, num_iterations, operator.dim)
    if which not in ("LA", "LM", "SA"):
        raise ValueError(f"which must be 'LA', 'LM' or 'SA'; got {which!r}")
    dtype = jnp.dtype(compute_dtype(operator.dtype))
    alphas, betas, basis = _lanczos_jit(
        operator.apply,
        operator.operands,
        jax.random.key(seed),
        dim=operator.dim,
        num_iterations=m,
        dtype=dtype,
        return_basis=bool(return_vectors),
    )
    # T_m's eigen-decomposition and the selection run on the host (m is small), so k and which
    # do not recompile anything.
    betas = np.asarray(betas, np.float64)
    theta, s = _ritz_eigh(alphas, betas)
    key = {"LA": -theta, "LM": -np.abs(theta), "SA": theta}[which]
    idx = np.argsort(key, kind="stable")[:k]
    residuals = np.abs(betas[-1] * s[-1, idx])
    vectors = jnp.asarray(s[:, idx].T, dtype) @ basis if basis is not None else None
    return LanczosResult(jnp.asarray(theta[idx], dtype), jnp.asarray(residuals, dtype), vectors, m)


def pytree_vectors(operator: LinearOperator, result: LanczosResult) -> LanczosResult:
    """``result`` with its flat Ritz vectors unravelled into pytrees like the operator's
    parameters (leading axis k); unchanged when it holds no vectors."""
    if result.eigenvectors is None:
        return result
    vectors = jax.vmap(lambda u: operator.unravel(u.astype(operator.dtype)))(result.eigenvectors)
    return result._replace(eigenvectors=vectors)


def hessian_top_eigenvalues(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    k: int = 1,
    num_iterations: int | None = None,
    seed: int = 0,
    which: Which = "LA",
    return_vectors: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> LanczosResult:
    r"""The top-k eigenvalues of the Hessian :math:`\nabla^2 L_n(w)` of the full-data loss.

    Lanczos with full reorthogonalisation on the Hessian-vector product (Golub & Van Loan 2013,
    §10.1; Ghorbani et al. 2019), never forming the Hessian. Check ``residuals``: a Ritz
    value is converged when its residual is small against it.

    Parameters
    ----------
    loss_fn
        ``loss_fn(params, batch) -> scalar``, the mean loss over the batch.
    params
        The point :math:`w`, any pytree of floating arrays.
    data
        A pytree of arrays sharing a leading axis of length n.
    k, num_iterations, seed, which
        As for :func:`lanczos_eigenvalues`.
    return_vectors
        Also return the Ritz vectors, as a pytree like ``params`` with a leading axis k.
    chunk_size
        Samples per chunk of the full-data loss.

    Returns
    -------
    LanczosResult

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)  # H = 2 X^T X / n
    >>> x = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    >>> res = hessian_top_eigenvalues(loss, jnp.zeros(2), x, k=2)
    >>> [round(float(v), 4) for v in res.eigenvalues]
    [4.0, 1.0]
    """
    check_data(data)
    op = linear_operator(loss_fn, params, data, chunk_size=chunk_size)
    res = lanczos_eigenvalues(
        op,
        k=k,
        num_iterations=num_iterations,
        seed=seed,
        which=which,
        return_vectors=return_vectors,
    )
    return pytree_vectors(op, res)


def _slq(apply, operands, keys, dim, num_iterations, dtype):
    def one(key):
        return _tridiagonal(apply, operands, key, dim, num_iterations, dtype)[1:]

    return jax.lax.map(one, keys)


_slq_jit = jax.jit(_slq, static_argnames=_STATIC)


def spectral_density(
    operator: LinearOperator,
    *,
    num_iterations: int | None = None,
    num_probes: int = 8,
    seed: int = 0,
    num_points: int = 512,
    sigma: float | None = None,
) -> SpectralDensity:
    """Eigenvalue density of a symmetric operator by stochastic Lanczos quadrature.

    Parameters
    ----------
    operator
        A symmetric :class:`~slt.geometry.hvp.LinearOperator`.
    num_iterations
        Lanczos steps per probe, at most d; default ``min(d, 80)``.
    num_probes
        Independent random unit probes, at least 1 (run one after another).
    seed
        Seed of the probes.
    num_points
        Grid points, at least 2.
    sigma
        Gaussian smoothing width; default 1% of the range of the nodes (1 if that is 0).

    Returns
    -------
    SpectralDensity

    Examples
    --------
    >>> from slt.geometry.hvp import linear_operator
    >>> loss = lambda w, x: jnp.mean(0.5 * jnp.sum(x * w**2, axis=-1))
    >>> op = linear_operator(loss, jnp.ones(3), jnp.array([[1.0, 2.0, 3.0]]))
    >>> sd = spectral_density(op, num_iterations=3, num_probes=2)
    >>> [round(float(w), 4) for w in sd.weights.sum(axis=1)]
    [1.0, 1.0]
    """
    m = check_k_iterations(1, num_iterations, operator.dim)
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be a positive integer; got {num_probes!r}")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 2:
        raise ValueError(f"num_points must be an integer >= 2; got {num_points!r}")
    if sigma is not None and not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    dtype = jnp.dtype(compute_dtype(operator.dtype))
    keys = jax.random.split(jax.random.key(seed), num_probes)
    alphas, betas = _slq_jit(operator.apply, operator.operands, keys, operator.dim, m, dtype)
    pairs = [_ritz_eigh(a, b) for a, b in zip(np.asarray(alphas), np.asarray(betas), strict=True)]
    nodes = jnp.asarray(np.stack([theta for theta, _ in pairs]), dtype)
    weights = jnp.asarray(np.stack([s[0] ** 2 for _, s in pairs]), dtype)
    lo, hi = float(nodes.min()), float(nodes.max())
    width = float(sigma) if sigma is not None else (0.01 * (hi - lo) if hi > lo else 1.0)
    grid = jnp.linspace(lo - 5 * width, hi + 5 * width, num_points, dtype=dtype)
    z = (grid[:, None, None] - nodes[None]) / width
    kernel = jnp.exp(-0.5 * z**2) / (width * jnp.sqrt(2 * jnp.pi))
    density = jnp.sum(weights[None] * kernel, axis=(1, 2)) / num_probes
    return SpectralDensity(nodes, weights, grid, density, width)


def hessian_spectral_density(
    loss_fn: LossFn,
    params: ArrayTree,
    data: Batch,
    *,
    num_iterations: int | None = None,
    num_probes: int = 8,
    seed: int = 0,
    num_points: int = 512,
    sigma: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SpectralDensity:
    r"""The Hessian eigenvalue density of :math:`L_n` at ``params`` (Ghorbani et al. 2019).

    Stochastic Lanczos quadrature on the Hessian-vector product; see :func:`spectral_density`
    for the arguments. Memory is ``(num_iterations + 1) * d`` numbers per probe at a time.

    Examples
    --------
    >>> loss = lambda w, x: jnp.mean((x @ w) ** 2)
    >>> sd = hessian_spectral_density(loss, jnp.zeros(2), jnp.eye(2), num_iterations=2)
    >>> sorted({round(float(t), 4) for t in sd.nodes.ravel()})
    [1.0]
    """
    check_data(data)
    op = linear_operator(loss_fn, params, data, chunk_size=chunk_size)
    return spectral_density(
        op,
        num_iterations=num_iterations,
        num_probes=num_probes,
        seed=seed,
        num_points=num_points,
        sigma=sigma,
    )
