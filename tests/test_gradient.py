"""The gradient estimators of slt.gradient, and the noise temperature slt.llc reports."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slt
from slt.gradient import (
    control_variate,
    full_loss_and_grad,
    gradient_noise,
    noise_temperature,
)
from slt.tree import tree_sq_norm, tree_sub


def regression(n=2000, d=4, sigma=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w_true = rng.normal(size=d).astype(np.float32)
    y = (x @ w_true + sigma * rng.normal(size=n)).astype(np.float32)
    data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w["w"]) ** 2)
    return loss, {"w": jnp.asarray(w_true)}, data


def tanh_model(n=1200, seed=0):
    """A nonlinear model whose per-sample gradients are not linear in w."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(n, 3)), jnp.float32)
    y = jnp.asarray(rng.normal(size=n), jnp.float32)
    params = {"a": jnp.asarray(rng.normal(size=(3, 5)), jnp.float32), "b": jnp.ones(5)}
    loss = lambda w, b: 0.5 * jnp.mean((b["y"] - jnp.tanh(b["x"] @ w["a"]) @ w["b"]) ** 2)
    return loss, params, {"x": x, "y": y}


def test_full_loss_and_grad_matches_one_pass_with_a_remainder_chunk():
    loss, params, data = tanh_model(n=1000)
    anchor = full_loss_and_grad(loss, params, data, chunk_size=96)  # 10 chunks + 40 left over
    value, grad = jax.value_and_grad(loss)(params, data)
    np.testing.assert_allclose(anchor.loss, value, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), anchor.grad, grad
    )


def test_full_loss_and_grad_rejects_a_bad_chunk_size():
    loss, params, data = regression()
    with pytest.raises(ValueError, match="chunk_size"):
        full_loss_and_grad(loss, params, data, chunk_size=0)


def test_control_variate_is_exact_at_the_center():
    loss, params, data = tanh_model()
    anchor = full_loss_and_grad(loss, params, data)
    cv = control_variate(loss, params, anchor)
    for start in (0, 300, 1100):
        batch = jax.tree.map(lambda x, s=start: x[s : s + 100], data)
        value, grad = jax.value_and_grad(cv)(params, batch)
        np.testing.assert_allclose(value, anchor.loss, rtol=1e-6)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), grad, anchor.grad)


def test_control_variate_gradient_has_the_closed_form_and_is_unbiased():
    loss, params, data = tanh_model()
    anchor = full_loss_and_grad(loss, params, data)
    cv = control_variate(loss, params, anchor)
    w = jax.tree.map(lambda x: x + 0.05, params)
    grad = jax.grad(loss)
    batches = [jax.tree.map(lambda x, s=s: x[s : s + 100], data) for s in range(0, 1200, 100)]
    for batch in batches[:2]:  # the formula of Baker et al. (2019), eq. 6
        expected = jax.tree.map(
            lambda g, g0, gn: g - g0 + gn, grad(w, batch), grad(params, batch), anchor.grad
        )
        got = jax.grad(cv)(w, batch)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), got, expected)
    # Over the disjoint batches of one epoch the mean is the full-data gradient: unbiased.
    mean = jax.tree.map(lambda *g: sum(g) / len(g), *[jax.grad(cv)(w, b) for b in batches])
    full = grad(w, data)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), mean, full)
    values = np.mean([cv(w, b) for b in batches])
    np.testing.assert_allclose(values, loss(w, data), rtol=1e-5)


def test_control_variate_noise_is_smaller_near_the_center_and_shrinks_with_distance():
    loss, params, data = tanh_model()
    cv = control_variate(loss, params, full_loss_and_grad(loss, params, data))
    key = jax.random.key(0)
    rng = np.random.default_rng(1)
    direction = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), x.dtype), params)
    plain, reduced = [], []
    for r in (0.01, 0.1):
        w = jax.tree.map(lambda x, v, r=r: x + r * v, params, direction)
        plain.append(float(gradient_noise(key, loss, w, data, 50, num_pairs=64)))
        reduced.append(float(gradient_noise(key, cv, w, data, 50, num_pairs=64)))
    assert reduced[1] < 0.1 * plain[1]
    # Quadratic in the distance: a factor 10 further gives about 100 times the variance.
    assert 30 < reduced[1] / reduced[0] < 300
    assert plain[0] / plain[1] > 0.5  # while the plain noise barely changes


def test_gradient_noise_matches_the_closed_form_of_linear_regression():
    # At the true w the per-sample gradient is -x ε with x ~ N(0, I), ε ~ N(0, σ²): covariance
    # σ² I, so tr Var(∇L_B)/d = σ²/b · (n - b)/(n - 1) for a batch drawn without replacement.
    sigma, n, d, b = 1.5, 20000, 20, 100
    loss, params, data = regression(n=n, d=d, sigma=sigma)
    expected = sigma**2 / b * (n - b) / (n - 1)
    got = float(gradient_noise(jax.random.key(3), loss, params, data, b, num_pairs=400))
    # One pair's |g1 - g2|²/2 is about (σ²/b) χ²_d / 1 per coordinate: relative sd sqrt(2/d)
    # per pair, 1.6% over 400 pairs; data noise adds about 1/sqrt(n) = 0.7%. 4 sd: 7%.
    assert got == pytest.approx(expected, rel=0.07)
    assert float(gradient_noise(jax.random.key(3), loss, params, data, n)) == pytest.approx(
        0.0, abs=1e-12
    )
    # With 2 * pairs * b <= n the pairs are disjoint slices of one permutation (a cheaper path
    # with its own correction): 50 pairs, relative sd sqrt(2 / (d * 50)) = 4.5% -> 4 sd: 18%.
    disjoint = float(gradient_noise(jax.random.key(4), loss, params, data, b, num_pairs=50))
    assert disjoint == pytest.approx(expected, rel=0.18)
    pooled = np.mean(
        [
            float(gradient_noise(jax.random.key(k), loss, params, data, b, num_pairs=50))
            for k in range(8)
        ]
    )
    assert pooled == pytest.approx(expected, rel=0.07)  # 8 x 50 pairs: 1.6% sd
    # With replacement (batching="iid") a batch of b has variance sigma^2/b, without the
    # finite-population factor; at b = n it is sigma^2/n, not 0 (400 pairs: 7% as above).
    iid = float(
        gradient_noise(jax.random.key(5), loss, params, data, b, num_pairs=400, replace=True)
    )
    assert iid == pytest.approx(sigma**2 / b, rel=0.07)
    whole = gradient_noise(jax.random.key(6), loss, params, data, n, num_pairs=400, replace=True)
    assert float(whole) == pytest.approx(sigma**2 / n, rel=0.07)


def test_noise_temperature_formula():
    # tau = eps (n beta)^2 v / 4 (Welling & Teh 2011, section 4).
    assert float(noise_temperature(2e-3, step_size=1e-4, nbeta=500.0)) == pytest.approx(0.0125)


def test_llc_records_tau_and_warns_when_it_is_above_threshold():
    loss, params, data = regression(n=4000, d=4, sigma=1.0)
    settings = dict(num_chains=2, num_draws=400, num_burnin=100, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cool = slt.llc(loss, params, data, step_size=1e-5, batch_size=400, **settings)
    nbeta = cool.datatree.attrs["nbeta"]
    expected = 1e-5 * nbeta**2 / 4 * (1 / 400)  # iid batches (the default): sigma^2 / b
    assert cool.datatree.attrs["noise_temperature"] == pytest.approx(expected, rel=0.3)
    with pytest.warns(slt.NoiseTemperatureWarning, match=r"noise temperature tau = .*batch_size"):
        hot = slt.llc(loss, params, data, step_size=1e-3, batch_size=10, **settings)
    assert hot.datatree.attrs["noise_temperature"] > 0.03
    assert hot.verdict.startswith("step too large")


def test_llc_control_variate_at_full_batch_is_the_full_gradient_run():
    loss, params, data = regression(n=500, d=3)
    # a batch of n is the whole dataset, whatever the batching (iid by default)
    settings = dict(step_size=1e-4, batch_size=500, num_chains=2, num_draws=200, progress=False)
    plain = slt.llc(loss, params, data, **settings)
    cv = slt.llc(loss, params, data, gradient="control_variate", **settings)
    assert plain.datatree.attrs["batching"] == "reshuffle"
    assert plain.datatree.attrs["noise_temperature"] < 1e-12  # no minibatch noise
    assert cv.datatree.attrs["gradient"] == "control_variate"
    assert cv.llc == pytest.approx(plain.llc, rel=1e-3, abs=1e-3)


def test_llc_rejects_an_unknown_gradient():
    loss, params, data = regression(n=500, d=3)
    with pytest.raises(ValueError, match="gradient must be one of 'minibatch', 'control_variate'"):
        slt.llc(loss, params, data, gradient="svrg", progress=False)


def test_control_variate_distance_scale_sanity():
    loss, params, data = tanh_model()
    anchor = full_loss_and_grad(loss, params, data)
    assert float(tree_sq_norm(tree_sub(anchor.grad, jax.grad(loss)(params, data)))) < 1e-10


def flat_regression(n=2000, k=4, d=12, seed=0):
    """Linear regression on k of d coordinates: the other d - k never enter the loss (λ = k/2).

    ``w*`` is the least-squares solution, so the chain's stationary mean is ``w*`` and
    :math:`n\\beta\\,\\mathbb{E}[L_n - L_n(w^*)] = \\tfrac{n\\beta}{2}\\operatorname{tr}(H_n S)`
    exactly, with S the stationary covariance of the SGLD recursion (a discrete Lyapunov
    equation, solved by scipy independently of slt).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    y = x @ rng.normal(size=k) + rng.normal(size=n)
    w_ols = np.linalg.lstsq(x, y, rcond=None)[0]
    data = {"x": jnp.asarray(x, jnp.float32), "y": jnp.asarray(y, jnp.float32)}
    params = {"w": jnp.asarray(w_ols, jnp.float32), "free": jnp.zeros(d - k, jnp.float32)}
    loss = lambda w, b: 0.5 * jnp.mean((b["y"] - b["x"] @ w["w"]) ** 2)
    return loss, params, data, (x, y, w_ols)


def lyapunov_llc(x, y, w_ols, *, nbeta, step_size, gamma, batch_size):
    """nβ E[L - L*] of SGLD on ``flat_regression``: with iid batches of ``batch_size`` and with
    the full gradient (``batch_size=None``), from the discrete Lyapunov equation."""
    import scipy.linalg

    n, k = x.shape
    h = x.T @ x / n
    m = np.eye(k) - step_size / 2 * (nbeta * h + gamma * np.eye(k))
    q = step_size * np.eye(k)
    if batch_size is not None:
        g = -x * (y - x @ w_ols)[:, None]  # per-sample gradients at w*
        q = q + step_size**2 / 4 * nbeta**2 * np.cov(g.T, bias=True) / batch_size
    s = scipy.linalg.solve_discrete_lyapunov(m, q)
    return nbeta / 2 * float(np.trace(h @ s))


def exact_loss_llc(res, x, y, w_ols):
    """nβ (L_n - L_n(w*)) on the stored positions, in float64, and its standard error from
    40 batch means (4 chains x 10 segments, each far longer than the autocorrelation)."""
    nbeta = res.datatree.attrs["nbeta"]
    w = np.asarray(res.datatree["posterior"]["w"].values, np.float64)  # (chain, draw, k)
    resid = y[None, None, :] - np.einsum("cdk,nk->cdn", w, x)
    excess = nbeta * (0.5 * np.mean(resid**2, -1) - 0.5 * np.mean((y - x @ w_ols) ** 2))
    means = excess.reshape(excess.shape[0], 10, -1).mean(-1).ravel()
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(means.size))


NOISY = dict(nbeta=1000.0, step_size=2e-5, gamma=1.0, batch_size=10)


def test_noise_bias_is_the_excess_of_iid_minibatches_on_a_model_with_flat_directions():
    # tau = eps (nβ)^2 v / 4 averages the gradient variance over all d = 12 coordinates, but the
    # noise sits in the k = 4 that the loss sees. The excess is (d/2) tau (= tr Q / 2, the
    # Lyapunov trace identity of slt.gradient), about 0.95 here, not tau * λ (about 0.32).
    loss, params, data, (x, y, w_ols) = flat_regression()
    settings = dict(num_chains=4, num_draws=40000, num_burnin=2000, params_every=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", slt.NoiseTemperatureWarning)
        res = slt.llc(loss, params, data, batching="iid", progress=False, **NOISY, **settings)
    got, se = exact_loss_llc(res, x, y, w_ols)
    expected = lyapunov_llc(x, y, w_ols, **NOISY)  # 2.957
    assert se < 0.06
    assert got == pytest.approx(expected, abs=4 * se)
    bias = res.datatree.attrs["noise_bias"]
    tau = res.datatree.attrs["noise_temperature"]
    assert bias == pytest.approx(12 / 2 * tau)
    cool = lyapunov_llc(x, y, w_ols, **(NOISY | {"batch_size": None}))  # 2.008: no gradient noise
    # The predicted excess matches the Lyapunov one (tau-hat is measured on 4 x few batches:
    # a 10% tolerance), and the old reading tau * λ is far off.
    assert bias == pytest.approx(expected - cool, rel=0.1)
    assert abs(got - cool - tau * 2.0) > 10 * se


@functools.cache
def iid_cv_trace_run():
    """``slt.llc`` on :func:`flat_regression` with iid batches and the control-variate trace
    (one run, shared by the two tests that read it)."""
    loss, params, data, _ = flat_regression()
    settings = dict(num_chains=4, num_draws=40000, num_burnin=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", slt.NoiseTemperatureWarning)
        return slt.llc(
            loss,
            params,
            data,
            batching="iid",
            trace="control_variate",
            progress=False,
            **NOISY,
            **settings,
        )


def test_noise_corrected_llc_of_iid_batches_and_the_cv_trace_is_the_cool_value():
    # The recipe result.llc_noise_corrected documents: iid batches, the control-variate trace,
    # (d/2) tau-hat subtracted. On this quadratic model the chain's excess is exactly (d/2) tau
    # (the test above), so the corrected trace must land on the noise-free Lyapunov value.
    _, _, _, (x, y, w_ols) = flat_regression()
    res = iid_cv_trace_run()
    cool = lyapunov_llc(x, y, w_ols, **(NOISY | {"batch_size": None}))  # 2.008
    bias = res.datatree.attrs["noise_bias"]
    assert res.datatree.attrs["noise_correction"] == 1  # the default under iid batches
    assert res.llc == res.llc_noise_corrected == pytest.approx(res.llc_uncorrected - bias)
    assert bias > 10 * res.mcse  # the correction is far larger than the error bar
    # tau-hat is measured on 4 x 8 batch pairs: allow 10% of the bias beside 4 MCSE.
    assert res.llc == pytest.approx(cool, abs=4 * res.mcse + 0.1 * bias)
    assert res.llc_per_chain.mean() == pytest.approx(res.llc)


def test_reshuffled_batches_cool_the_chain_and_their_trace_reads_high():
    # The documented behaviour of batching="reshuffle" (slt.data): on the same model and step,
    # the chain's exact-loss mean is below the iid Lyapunov value (the noise of an epoch sums to
    # zero), and the loss trace reads far above that exact-loss mean.
    loss, params, data, (x, y, w_ols) = flat_regression()
    settings = dict(num_chains=4, num_draws=40000, num_burnin=2000, params_every=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", slt.NoiseTemperatureWarning)
        res = slt.llc(
            loss, params, data, batching="reshuffle", trace="minibatch", **NOISY, **settings
        )
    assert res.datatree.attrs["noise_correction"] == 0  # not derived for reshuffled batches
    got, se = exact_loss_llc(res, x, y, w_ols)  # measured 2.38
    assert got < lyapunov_llc(x, y, w_ols, **NOISY) - 10 * se
    assert res.llc > got + 10 * (se + res.mcse)  # measured 3.42


def test_batching_is_validated():
    loss, params, data = regression(n=500, d=3)
    with pytest.raises(ValueError, match="batching must be one of 'reshuffle', 'iid'"):
        slt.llc(loss, params, data, batching="shuffle", progress=False)


def test_control_variate_trace_keeps_the_iid_mean_and_drops_the_batch_noise():
    # Under iid batches the plain trace is unbiased but carries the batch noise of the loss
    # (MCSE 0.66 at 4 x 40000 draws on this model); L_B(w) - L_B(w*) + L(w*) has the same mean
    # and the noise of the differences only.
    _, _, _, (x, y, w_ols) = flat_regression()
    res = iid_cv_trace_run()
    assert res.datatree.attrs["trace"] == "control_variate"
    assert res.mcse < 0.1
    assert res.llc_uncorrected == pytest.approx(
        lyapunov_llc(x, y, w_ols, **NOISY), abs=4 * res.mcse
    )


def test_trace_is_validated():
    loss, params, data = regression(n=500, d=3)
    with pytest.raises(ValueError, match="trace must be one of 'minibatch', 'control_variate'"):
        slt.llc(loss, params, data, trace="exact", progress=False)
