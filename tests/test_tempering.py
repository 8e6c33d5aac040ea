import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import log_density

from slt.tempering import observed_sites, temper


def model(x):
    w = numpyro.sample("w", dist.Normal(0.0, 2.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("x", dist.Normal(w, 1.0), obs=x)


def test_only_the_likelihood_is_scaled():
    x = jnp.asarray(np.random.default_rng(0).normal(size=20))
    w = 0.3
    for beta in [0.0, 0.25, 1.0, 3.0]:
        got, _ = log_density(temper(model, beta=beta), (x,), {}, {"w": w})
        prior = dist.Normal(0.0, 2.0).log_prob(w)
        lik = dist.Normal(w, 1.0).log_prob(x).sum()
        np.testing.assert_allclose(got, prior + beta * lik, rtol=1e-6)


def test_observed_sites_and_errors():
    x = jnp.zeros(7)
    assert observed_sites(model, {"x": x}) == {"x": (7,)}

    def no_obs():
        numpyro.sample("w", dist.Normal())

    with pytest.raises(ValueError, match="no observed sample site"):
        observed_sites(no_obs, {})
    with pytest.raises(ValueError, match="beta"):
        temper(model, beta=-1.0)


def test_a_bounded_priors_jacobian_is_not_tempered():
    # w ~ Uniform(0, 1) is sampled as w = sigmoid(u); the potential in u must be
    # −[log U(w) + log w(1−w) + β Σ log N(x_i | w, 1)]: the Jacobian term is prior, not tempered.
    import jax
    from numpyro.infer.util import initialize_model

    def bounded(x):
        w = numpyro.sample("w", dist.Uniform(0.0, 1.0))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("x", dist.Normal(w, 1.0), obs=x)

    x = jnp.asarray(np.random.default_rng(1).normal(0.4, 1.0, size=30))
    assert observed_sites(bounded, {"x": x}) == {"x": (30,)}  # no log-Jacobian site
    beta, u = 0.2, 0.7
    info = initialize_model(jax.random.key(0), temper(bounded, beta=beta), model_args=(x,))
    got = info.potential_fn({"w": jnp.asarray(u)})
    w = 1 / (1 + np.exp(-u))
    lik = np.sum(-0.5 * (np.asarray(x) - w) ** 2 - 0.5 * np.log(2 * np.pi))
    expected = -(np.log(w * (1 - w)) + beta * lik)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
