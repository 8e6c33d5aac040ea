r"""What the multi-temperature estimator should read at finite n, by deterministic quadrature.

The estimator fits :math:`E^{\beta}[nL_n]` on :math:`1/\beta`. Without the dataset's
fluctuation (:math:`L_n \to K`, no :math:`U_n` term) that expectation is

.. math::

    E^{\beta}[nK] = \frac{g(n\beta)}{\beta}, \qquad
    g(t) = E_t[tK] = -t\,\frac{d}{dt}\log Z(t), \quad Z(t) = \int e^{-tK(w)}\varphi(w)\,dw,

and :math:`g(t) \to \lambda` only as fast as the zeta function's next pole allows: for
:math:`Z(t) \asymp t^{-\lambda}(\log t)^{m-1}`, :math:`g(t) = \lambda - (m-1)/\log t + \dots`;
a second pole :math:`\lambda'` adds :math:`O(t^{-(\lambda'-\lambda)})`. :func:`expected_slope`
applies the suite's least squares to :math:`g` computed by quadrature, so a case whose
measured slope matches it (and not λ) is slow by theory, not by the sampler.

Two families have a low-dimensional Z:

* normal crossings :math:`K = \prod_j w_j^{2k_j}` with prior :math:`\prod_j (h_j+1)w_j^{h_j}` on
  :math:`[0,1]^d` (:mod:`slt.models.normal_crossing`), d ≤ 2, integrated in
  :math:`s_j = -\log w_j`;
* the tanh network :math:`f = \sum_h a_h\tanh(b_hx)` with zero truth
  (:mod:`slt.models.tanh`): :math:`K = \tfrac12 a^\top G(b) a` with
  :math:`G(b)_{hk} = E_x[\tanh(b_hx)\tanh(b_kx)]`, so the Gaussian prior of ``a`` integrates in
  closed form, :math:`\int e^{-tK}N(a;0,I)\,da = \det(I + tG)^{-1/2}` and
  :math:`E[tK\mid b] = \tfrac12\operatorname{tr}(tG(I+tG)^{-1})`, leaving an H-dimensional
  integral over ``b`` (H ≤ 2 here);
* reduced-rank regression with H ≤ 2 and truth 0 (:mod:`slt.models.rrr`, x ~ N(0, I), prior
  N(0, 1)): integrating ``B`` leaves an H-dimensional integral over the eigenvalues of
  :math:`AA^\top` (:func:`rrr_zero_truth_g`).

The LLC estimator's finite-n target at a localization center has two more: the closed-form
shift of a linear-Gaussian truth (:func:`linear_center_gap`) and, for any linear network, its
exact value by NUTS (:func:`linear_network_target`).
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from slt.estimators.base import Estimate

__all__ = [
    "expected_slope",
    "linear_center_gap",
    "NetworkTarget",
    "linear_network_target",
    "normal_crossing_g",
    "rrr_zero_truth_g",
    "tanh_g",
]


def expected_slope(g: Callable[[np.ndarray], np.ndarray], n: int, betas: np.ndarray) -> float:
    """Least-squares slope of :math:`g(n\\beta_j)/\\beta_j` on :math:`1/\\beta_j`."""
    betas = np.asarray(betas, float)
    x = 1.0 / betas
    y = g(n * betas) / betas
    return float(np.polyfit(x, y, 1)[0])


def normal_crossing_g(
    k: tuple[int, ...], h: tuple[float, ...] | None, t: np.ndarray, *, num: int = 3000
) -> np.ndarray:
    r""":math:`g(t)` for :math:`K = \prod_j w_j^{2k_j}`, prior :math:`\prod_j(h_j+1)w_j^{h_j}`.

    With :math:`w_j = e^{-s_j}` the integrand is smooth in :math:`s \in [0, S]^d`; ``num``
    trapezoid nodes per axis on :math:`S = 60/\min(h_j + 1)` (the prior mass beyond is below
    :math:`e^{-60}`).
    """
    k = tuple(int(v) for v in k)
    h = tuple(float(v) for v in (h or [0.0] * len(k)))
    if len(k) != len(h) or not 1 <= len(k) <= 2:
        raise ValueError(f"k and h must have the same length 1 or 2; got k={k}, h={h}")
    s_max = 60.0 / min(hj + 1.0 for hj in h)
    s = np.linspace(0.0, s_max, num)
    w = np.full(num, s[1] - s[0])
    w[[0, -1]] /= 2
    grids = np.meshgrid(*([s] * len(k)), indexing="ij")
    log_k = sum(-2.0 * kj * sj for kj, sj in zip(k, grids, strict=True))
    # prior (h+1) w^h dw = (h+1) e^{-(h+1)s} ds
    log_prior = sum(math.log(hj + 1.0) - (hj + 1.0) * sj for hj, sj in zip(h, grids, strict=True))
    weight = np.prod(np.meshgrid(*([w] * len(k)), indexing="ij"), axis=0)
    out = []
    for tv in np.atleast_1d(np.asarray(t, float)):
        tk = tv * np.exp(log_k)
        p = weight * np.exp(log_prior - tk)
        out.append(float(np.sum(p * tk) / np.sum(p)))
    return np.asarray(out)


def tanh_g(
    H: int,
    t: np.ndarray,
    *,
    input_bound: float = 2.0,
    output_scale: float = 1.0,
    num: int = 801,
    num_x: int = 48,
) -> np.ndarray:
    r""":math:`g(t)` of the zero-truth tanh network with H ≤ 2 units.

    Priors :math:`a \sim N(0, s_a^2 I)` (``output_scale`` = :math:`s_a`) and
    :math:`b \sim N(0, I)`. Writing :math:`a = s_a a'` turns :math:`tK` into
    :math:`(ts_a^2)\,\tfrac12 a'^\top G a'`, so :math:`g` is the unit-scale one at
    :math:`ts_a^2`.

    ``x ~ U(-input_bound, input_bound)`` by ``num_x``-point Gauss-Legendre; ``b`` on a
    ``num``-point grid per axis, :math:`b = c\sinh u` with :math:`c = 10^{-3}` so that the
    region :math:`|b| \lesssim t^{-1/2}` where the singularity lives is resolved.
    """
    if H not in (1, 2):
        raise ValueError(f"H must be 1 or 2 (the b-integral is H-dimensional); got {H}")
    nodes, weights = np.polynomial.legendre.leggauss(num_x)
    x, wx = nodes * input_bound, weights / 2
    c = 1e-3
    u = np.linspace(-math.asinh(8.0 / c), math.asinh(8.0 / c), num)
    b1 = c * np.sinh(u)
    jac = c * np.cosh(u) * (u[1] - u[0]) * np.exp(-0.5 * b1**2) / math.sqrt(2 * math.pi)
    th = np.tanh(b1[:, None] * x[None, :])  # (num, num_x)
    out = []
    for tv in np.atleast_1d(np.asarray(t, float)) * output_scale**2:
        if H == 1:
            g11 = th**2 @ wx
            det = 1.0 + tv * g11
            tr = tv * g11 / det
            z = np.sum(jac / np.sqrt(det))
            e = np.sum(jac / np.sqrt(det) * 0.5 * tr)
        else:
            g11 = th**2 @ wx
            g12 = th @ (wx[:, None] * th.T)  # (num, num)
            m11 = 1.0 + tv * g11[:, None]
            m22 = 1.0 + tv * g11[None, :]
            m12 = tv * g12
            det = m11 * m22 - m12**2
            # tr(tG (I + tG)^{-1}) = tr(I - (I + tG)^{-1}) = 2 - (m11 + m22)/det
            tr = 2.0 - (m11 + m22) / det
            wts = jac[:, None] * jac[None, :] / np.sqrt(det)
            z, e = np.sum(wts), np.sum(wts * 0.5 * tr)
        out.append(float(e / z))
    return np.asarray(out)


def rrr_zero_truth_g(M: int, N: int, H: int, t: np.ndarray, *, num: int = 1500) -> np.ndarray:
    r""":math:`g(t)` of reduced-rank regression with a zero truth and H ≤ 2.

    With :math:`x \sim N(0, I_M)`, :math:`K = \tfrac12\lVert BA\rVert_F^2`, and the prior
    N(0, 1) on every entry, each of the N rows of B integrates in closed form:
    :math:`\int e^{-tK}\varphi(B)\,dB = \det(I_H + tAA^\top)^{-N/2}`. So with
    :math:`\ell_1, \dots, \ell_H` the eigenvalues of :math:`AA^\top`, a Wishart
    :math:`W_H(M, I)` matrix (M ≥ H; otherwise the roles of A and B swap),

    .. math::

        Z(t) = E\Bigl[\prod_i (1 + t\ell_i)^{-N/2}\Bigr], \qquad
        E_t[tK] = \frac{1}{Z(t)} E\Bigl[\prod_i (1 + t\ell_i)^{-N/2}
        \sum_i \frac N2 \frac{t\ell_i}{1 + t\ell_i}\Bigr],

    an H-dimensional integral against the eigenvalue density
    :math:`\propto \prod_i \ell_i^{(M-H-1)/2}e^{-\ell_i/2}\prod_{i<j}|\ell_i - \ell_j|`
    (Anderson, *An Introduction to Multivariate Statistical Analysis*, 3rd ed., Thm 13.3.2).
    Trapezoid rule in :math:`s = \log\ell` on [-40, 6] with ``num`` nodes per axis, which
    resolves the scale :math:`\ell \sim 1/t` where the singularity lives for any t below
    :math:`10^{15}`.
    """
    M, N, H = int(M), int(N), int(H)
    if H not in (1, 2) or min(M, N) < H:
        raise ValueError(f"need H in (1, 2) and M, N >= H; got M={M}, N={N}, H={H}")
    s = np.linspace(-40.0, 6.0, num)
    ell = np.exp(s)
    # log of the eigenvalue density per axis, with the Jacobian d ell = ell ds
    log_density = ((M - H - 1) / 2 + 1) * s - ell / 2
    out = []
    for tv in np.atleast_1d(np.asarray(t, float)):
        log_w = log_density - N / 2 * np.log1p(tv * ell)
        moment = N / 2 * tv * ell / (1 + tv * ell)
        if H == 2:
            gap = np.abs(ell[:, None] - ell[None, :])
            with np.errstate(divide="ignore"):  # log 0 = -inf on the diagonal: weight 0
                log_gap = np.log(gap)
            log_w = log_w[:, None] + log_w[None, :] + log_gap
            moment = moment[:, None] + moment[None, :]
        out.append(float(np.exp(logsumexp(log_w, b=moment) - logsumexp(log_w))))
    return np.asarray(out)


def linear_center_gap(x: np.ndarray, y: np.ndarray, product: np.ndarray, rank: int) -> float:
    r""":math:`n\,(L_n(w^*) - \min_{\operatorname{rank} W \le k} L_n(W))`, linear-Gaussian models.

    For :math:`y = Wx + N(0, I)` with :math:`W` realizable up to rank ``k`` (reduced-rank
    regression with ``k = H``, a deep linear network with ``k`` its narrowest width) and the
    truth's product ``product`` (N, M) at the localization center :math:`w^*`. The LLC estimator
    measures :math:`n\beta(E_\beta[L_n] - L_n(w^*))`, but the tempered posterior concentrates
    around the empirical minimum, not around :math:`w^*`: to leading order

    .. math::

        E[\hat\lambda] \approx \lambda - \beta\, n\,(L_n(w^*) - \min L_n),

    For a regular model twice this gap is the likelihood-ratio statistic, asymptotically
    :math:`\chi^2_d` (Wilks 1938), so its mean is :math:`d/2 = \lambda`; it is part of the
    :math:`O_p(1)` remainder in Watanabe's (2013, JMLR 14) expansion of :math:`E_\beta[nL_n]`.
    At β = 1/log n the shift is then about −λ/log n: −11% at n = 10⁴, −8.7% at n = 10⁵.
    For full-rank truths (``rank(product) == k``) it matched the exact Gibbs target of
    :func:`slt.validation.gibbs.rrr_gibbs` within 0.3% of λ at β₀ = 0.3 and 1
    (tests/validation/test_finite_n.py). For rank-reduced truths the unused directions are not
    quadratic and the formula overstates the shift: by up to 1.3% of λ at β₀ = 0.3 and by
    2–6% at β₀ = 1 on three cases.

    Computed in closed form from the sufficient statistics
    (:func:`slt.models.rrr.sufficient_statistics`: the least-squares fit :math:`\hat C` and
    :math:`G = X^\top X`). Against :math:`\hat C` the truth loses
    :math:`\tfrac12\operatorname{tr}((W^* - \hat C)G(W^* - \hat C)^\top)`, and the rank-k minimum
    keeps the top k singular values of the fitted values :math:`X\hat C^\top` (Eckart–Young),
    losing :math:`\tfrac12\sum_{i>k}s_i^2`, with :math:`s_i^2` the eigenvalues of
    :math:`\hat C G\hat C^\top`. The gap is the difference of the two.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    product = np.asarray(product, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be (n, M) and (n, N); got {x.shape} and {y.shape}")
    if product.shape != (y.shape[1], x.shape[1]):
        shape = (y.shape[1], x.shape[1])
        raise ValueError(f"product must be (N, M) = {shape}; got {product.shape}")
    rank = int(rank)
    if not 0 <= rank <= min(product.shape):
        raise ValueError(f"rank must be in [0, {min(product.shape)}]; got {rank}")
    from slt.models.rrr import sufficient_statistics

    stats = sufficient_statistics(x, y)
    gram, coef = stats["gram"], stats["coef"]  # (M, M), (N, M)
    diff = product - coef
    truth_loss = np.trace(diff @ gram @ diff.T)
    squared = np.linalg.eigvalsh(coef @ gram @ coef.T)[::-1]  # s_i^2, largest first
    return float(0.5 * truth_loss - 0.5 * np.sum(squared[rank:]))


class NetworkTarget(NamedTuple):
    """What :func:`linear_network_target` returns."""

    statistic: Estimate
    r""":math:`n\beta(E[L_n] - L_n(w^\ast))` with its Monte Carlo standard error."""
    rhat: float
    """R-hat of the chains' :math:`nL_n` trace."""
    energy: np.ndarray
    """:math:`nL_n(w)` per draw, (chain, draw)."""


def linear_network_target(
    stats: dict[str, np.ndarray],
    center: dict[str, np.ndarray],
    *,
    beta: float,
    gamma: float = 1.0,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_draws: int = 1000,
    max_tree_depth: int = 10,
    seed: int = 0,
) -> NetworkTarget:
    r"""The exact value of the LLC estimator's target for a linear network on its dataset.

    :math:`n\beta\,(E[L_n(w)] - L_n(w^\ast))` under the localized tempered posterior
    :math:`p(w \mid w^\ast, \beta, \gamma)` of Lau et al. (2025, eq. 7), which is what a perfect
    sampler reads at this n, β and γ; against λ it carries the finite-n shift
    (:func:`linear_center_gap`) and whatever the localization does. NUTS (NumPyro, through
    :func:`slt.sample_tempered` on :func:`slt.models.dln.localized_model`) samples it with no
    discretization bias: each proposal is Metropolis-corrected, and the likelihood is exact in
    n through the sufficient statistics. Its only error is Monte Carlo, returned as the MCSE.

    For reduced-rank regression (``center = {"W0": A, "W1": B}``) it agrees with the exact
    Gibbs sampler :func:`slt.validation.gibbs.rrr_gibbs` within its MCSE, and for one layer with
    the closed form of a Gaussian posterior (tests/validation/test_finite_n.py). NUTS explores
    the flat directions of a network's symmetries (:math:`W_i \to GW_i`,
    :math:`W_{i+1} \to W_{i+1}G^{-1}`), along which only γ holds the chains, far faster than
    SG-MCMC, at the price of deep trees there: raise ``max_tree_depth`` if R-hat of the result's
    chains (returned) is high.

    Parameters
    ----------
    stats
        ``gram``, ``coef``, ``rss``, ``n_obs`` from :func:`slt.models.rrr.sufficient_statistics`.
    center
        :math:`w^\ast` as ``{"W0": (H_1, H_0), ..., "W{L-1}": (H_L, H_{L-1})}``.
    beta, gamma
        The inverse temperature (nβ is ``beta * n_obs``) and the localization strength.
    num_chains, num_warmup, num_draws, max_tree_depth, seed
        NUTS settings (vectorized chains started at :math:`w^\ast`).

    Returns
    -------
    NetworkTarget
    """
    from functools import partial

    import jax.numpy as jnp

    from slt.estimators.base import rhat
    from slt.estimators.wbic import posterior_mean
    from slt.models.dln import localized_model, product
    from slt.models.rrr import sufficient_nll
    from slt.workflows.tempered import sample_tempered

    if not gamma > 0:
        raise ValueError(f"gamma must be > 0 (the localization is the prior); got {gamma!r}")
    keys = [f"W{i}" for i in range(len(center))]
    if not keys or set(center) != set(keys):
        raise ValueError(f"center must have keys W0, ..., W{{L-1}}; got {sorted(center)}")
    data = {k: jnp.asarray(v) for k, v in stats.items()}
    fit = sample_tempered(
        partial(localized_model, center=center, gamma=gamma),
        data,
        beta=beta,
        num_chains=num_chains,
        num_warmup=num_warmup,
        num_samples=num_draws,
        seed=seed,
        n=int(stats["n_obs"]),
        max_tree_depth=max_tree_depth,
        keep_log_likelihood=False,
        progress=False,
    )
    at_center = float(
        sufficient_nll(
            product(center), *(np.asarray(stats[k]) for k in ("gram", "coef", "rss", "n_obs"))
        )
    )
    energy = posterior_mean(fit.energy)
    statistic = Estimate(beta * (energy.value - at_center), beta * energy.se)
    return NetworkTarget(statistic, rhat(np.asarray(fit.energy)), np.asarray(fit.energy))
