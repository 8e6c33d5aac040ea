r"""``slt.sample_tempered``: draws from a NumPyro model's tempered posterior, as a DataTree.

:math:`p_\beta(w) \propto \varphi(w)\prod_{i=1}^n p(z_i\mid w)^\beta` (Watanabe 2013, JMLR 14:867),
sampled with NumPyro's NUTS, HMC, or MALA (HMC with one leapfrog step), all with NumPyro's
step-size (and diagonal mass-matrix) adaptation and chains vectorized. Each draw carries
:math:`nL_n(w) = -\sum_i \log p(z_i\mid w)` (the *untempered* log-likelihood), from which WBIC,
the multi-temperature RLCT and the free energy are computed.
"""

import warnings
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from arviz_base import from_dict
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, log_likelihood

from slt._version import __version__, installed_version
from slt.diagnostics.convert import attr_value
from slt.errors import DivergenceWarning
from slt.estimators.wbic import wbic_beta
from slt.progress import Progress, chunk_size, chunked_scan
from slt.progress import resolve as resolve_progress
from slt.tempering import observed_sites, temper
from slt.workflows.checks import check_int, check_positive

__all__ = [
    "TEMPERED_SAMPLERS",
    "TemperedFit",
    "TemperedSampler",
    "sample_tempered",
    "wbic_beta",
]

TEMPERED_SAMPLERS = ("nuts", "hmc", "mala")


class TemperedFit(NamedTuple):
    """Draws from a tempered posterior.

    Attributes
    ----------
    datatree
        ``posterior`` (latent sites), ``sample_stats`` (``lp``, ``energy``, ``diverging``,
        ``acceptance_rate``, ``step_size``, ``n_steps``, ``loss`` = :math:`L_n(w)`), and
        ``log_likelihood`` (untempered, per observation, (chain, draw, obs)) when kept.
    beta
        The inverse temperature sampled at.
    n
        The number of observations.
    energy
        :math:`nL_n(w)` per draw, shape (chain, draw).
    num_divergent
        Divergent transitions after warm-up.
    """

    datatree: xr.DataTree
    beta: float
    n: int
    energy: np.ndarray
    num_divergent: int


def _infer_n(sites: dict[str, tuple[int, ...]], n: int | None) -> int:
    if n is not None:
        return check_int("n", n, low=1)
    leading = {shape[0] for shape in sites.values() if shape}
    if len(leading) != 1:
        raise ValueError(
            f"cannot infer n from the observed sites' batch shapes {sites}; put the likelihood "
            "inside numpyro.plate('data', n) or pass n"
        )
    return int(leading.pop())


def _hmc_settings(sampler: str, target_accept_prob: float | None, max_tree_depth: int) -> dict:
    """NumPyro's functional HMC: ``algo`` and the ``init_kernel`` settings of ``sampler``."""
    if sampler not in TEMPERED_SAMPLERS:
        raise ValueError(
            f"sampler must be one of {', '.join(map(repr, TEMPERED_SAMPLERS))}; got {sampler!r}"
        )
    if sampler == "nuts":
        return dict(
            algo="NUTS",
            target_accept_prob=target_accept_prob or 0.8,
            max_tree_depth=max_tree_depth,
        )
    if sampler == "hmc":
        return dict(algo="HMC", target_accept_prob=target_accept_prob or 0.8)
    # MALA is HMC with a single leapfrog step; 0.574 is its optimal acceptance rate (Roberts &
    # Rosenthal 1998). trajectory_length=None: with both set NumPyro cannot adapt the step size
    # (it collapses to ~1e-120 and the chain freezes).
    return dict(
        algo="HMC",
        num_steps=1,
        trajectory_length=None,
        target_accept_prob=target_accept_prob or 0.574,
    )


def pointwise_log_likelihood(
    model, samples: dict[str, jax.Array], data: dict[str, Any], sites: dict[str, tuple[int, ...]]
) -> np.ndarray:
    """Untempered :math:`\\log p(z_i\\mid w_s)` summed over observed sites: (chain, draw, obs)."""
    ll = log_likelihood(model, samples, batch_ndims=2, **data)
    total = None
    for name in sites:
        value = ll[name]
        value = value.reshape(value.shape[:3] + (-1,)).sum(-1) if value.ndim > 3 else value
        if value.ndim == 2:  # a site without a data plate: one "observation"
            value = value[..., None]
        total = value if total is None else total + value
    assert total is not None
    return np.asarray(total)


def sample_tempered(
    model,
    data: dict[str, Any],
    *,
    beta: float,
    sampler: Literal["nuts", "hmc", "mala"] = "nuts",
    num_chains: int = 4,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    seed: int = 0,
    n: int | None = None,
    target_accept_prob: float | None = None,
    dense_mass: bool = False,
    max_tree_depth: int = 8,
    keep_log_likelihood: bool = True,
    max_divergent_fraction: float = 0.01,
    progress: bool | Literal["auto"] = "auto",
) -> TemperedFit:
    r"""Sample a NumPyro model's tempered posterior :math:`\varphi(w)\prod_i p(z_i\mid w)^\beta`.

    Parameters
    ----------
    model
        A NumPyro model: latent sites are the prior, observed sites (``obs=``) the likelihood.
    data
        Keyword arguments for ``model``.
    beta
        Inverse temperature β > 0; :func:`wbic_beta` gives WBIC's 1/log n.
    sampler
        ``"nuts"``, ``"hmc"`` or ``"mala"`` (HMC with one leapfrog step), all NumPyro's, with
        step-size adaptation during warm-up.
    num_chains, num_warmup, num_samples
        Vectorized chains; adaptation steps; kept draws per chain.
    seed
        Random seed.
    n
        Number of observations; inferred from the leading batch dimension of the observed
        sites (their data plate) when omitted.
    target_accept_prob
        Step-size adaptation target (default 0.8; 0.574 for MALA).
    dense_mass
        Adapt a dense mass matrix instead of a diagonal one.
    max_tree_depth
        NUTS's tree-depth cap (at most 2^depth − 1 leapfrog steps per draw). Singular posteriors
        have curved, thin regions where NUTS builds deep trees: with NumPyro's default of 10 one
        temperature of a small reduced-rank posterior did not finish in 10 minutes on 2 cores;
        at 8 it takes seconds. Draws that hit the cap are marked in
        ``sample_stats.reached_max_treedepth``.
    keep_log_likelihood
        Keep the pointwise log-likelihood (chain, draw, obs) for WAIC.
    max_divergent_fraction
        Warn (:class:`~slt.errors.DivergenceWarning`) above this fraction of divergent
        transitions.
    progress
        Show a progress line on stderr over the warm-up and draw steps; ``"auto"``: only when
        stderr is a terminal.

    For exact references enable 64-bit floats first (``numpyro.enable_x64()``).
    """
    beta = check_positive("beta", beta)
    sampler_ = TemperedSampler(
        model,
        data,
        sampler=sampler,
        num_chains=num_chains,
        num_warmup=num_warmup,
        num_samples=num_samples,
        n=n,
        target_accept_prob=target_accept_prob,
        dense_mass=dense_mass,
        max_tree_depth=max_tree_depth,
        keep_log_likelihood=keep_log_likelihood,
        max_divergent_fraction=max_divergent_fraction,
        progress=progress,
    )
    return sampler_.fit(beta, seed)


class TemperedSampler:
    """One NumPyro MCMC of ``model`` on ``data``, compiled once and run at any β.

    β enters the compiled program as an argument (with the data arrays), so sampling several
    temperatures of one model (the multi-temperature RLCT, thermodynamic integration) compiles
    once instead of once per temperature. β = 0 samples the prior (for TI); the public entry
    point :func:`sample_tempered` requires β > 0.

    With ``progress`` on (``"auto"``: when stderr is a terminal) each :meth:`fit` draws one
    progress line on stderr over its warm-up and draw steps, labelled with the sampler and β;
    the program reports every 1% of the steps without waiting on the host. Off, the compiled
    program holds no host callback.
    """

    def __init__(
        self,
        model,
        data: dict[str, Any],
        *,
        sampler: str = "nuts",
        num_chains: int = 4,
        num_warmup: int = 1000,
        num_samples: int = 1000,
        n: int | None = None,
        target_accept_prob: float | None = None,
        dense_mass: bool = False,
        max_tree_depth: int = 8,
        keep_log_likelihood: bool = True,
        max_divergent_fraction: float = 0.01,
        progress: bool | Literal["auto"] = "auto",
    ) -> None:
        self.num_chains = check_int("num_chains", num_chains, low=1)
        self.num_warmup = check_int("num_warmup", num_warmup, low=0)
        self.num_samples = check_int("num_samples", num_samples, low=1)
        if not isinstance(data, dict):
            raise ValueError(
                f"data must be a dict of keyword arguments for model; got {type(data)}"
            )
        self.model, self.data, self.sampler = model, data, sampler
        self.sites = observed_sites(model, data)
        self.n = _infer_n(self.sites, n)
        self.max_tree_depth = check_int("max_tree_depth", max_tree_depth, low=1)
        self.target_accept_prob = target_accept_prob
        self.keep_log_likelihood = keep_log_likelihood
        self.max_divergent_fraction = max_divergent_fraction
        self.progress = show = resolve_progress(progress)
        arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray | jax.Array)}
        static = {k: v for k, v in data.items() if k not in arrays}

        def tempered(beta, **arrays):
            temper(model, beta=beta)(**arrays, **static)

        self._arrays = arrays
        settings = _hmc_settings(sampler, target_accept_prob, self.max_tree_depth)
        algo = settings.pop("algo")
        info, potential_gen, constrain_gen, _ = initialize_model(
            jax.random.key(0),
            tempered,
            model_args=(1.0,),
            model_kwargs=arrays,
            dynamic_args=True,
        )
        self._shape = info.z  # the unconstrained parameters' structure
        self._potential_gen = potential_gen
        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo=algo)
        num_warmup, num_samples = self.num_warmup, self.num_samples
        chunk = chunk_size(num_warmup + num_samples)

        def one_chain(key, beta, arrays, run_id):
            init_key, run_key = jax.random.split(key)
            leaves, treedef = jax.tree.flatten(self._shape)
            keys = jax.random.split(init_key, len(leaves))
            # NumPyro's init_to_uniform: uniform on (-2, 2) in unconstrained space.
            z0 = jax.tree.unflatten(
                treedef,
                [
                    jax.random.uniform(k, jnp.shape(x), jnp.result_type(x), -2.0, 2.0)
                    for k, x in zip(keys, leaves, strict=True)
                ],
            )
            args = dict(model_args=(beta,), model_kwargs=arrays)
            state = init_kernel(
                z0, num_warmup, dense_mass=dense_mass, rng_key=run_key, **settings, **args
            )

            def step(state, _):
                state = sample_kernel(state, **args)
                return state, None

            def draw(state, _):
                state = sample_kernel(state, **args)
                out = (
                    state.z,
                    state.potential_energy,
                    state.energy,
                    state.diverging,
                    state.accept_prob,
                    state.num_steps,
                    state.adapt_state.step_size,
                )
                return state, out

            if show:  # blocks of ~1% of the steps, one host call before each (slt.progress)
                report = dict(run_id=run_id, chunk=chunk)
                state, _ = chunked_scan(step, state, jnp.arange(num_warmup), **report)
                _, (z, pe, energy, div, acc, steps, size) = chunked_scan(
                    draw, state, num_warmup + jnp.arange(num_samples), **report
                )
            else:
                state, _ = jax.lax.scan(step, state, length=num_warmup)
                _, (z, pe, energy, div, acc, steps, size) = jax.lax.scan(
                    draw, state, length=num_samples
                )
            # Untempered nL_n(w) = U_1(z) - U_0(z): the prior and the log-Jacobian cancel.
            n_loss = jax.vmap(self.energy_fn(arrays))(z)
            samples = jax.vmap(constrain_gen(beta, **arrays))(z)
            stats = dict(
                lp=-pe,
                energy=energy,
                diverging=div,
                acceptance_rate=acc,
                n_steps=steps,
                step_size=size,
            )
            return samples, stats, n_loss

        self._program = jax.jit(jax.vmap(one_chain, in_axes=(0, None, None, None)))

    @property
    def unconstrained_structure(self) -> Any:
        """A pytree of the unconstrained latent sites (shapes and dtypes of what is sampled)."""
        return self._shape

    def energy_fn(self, arrays: dict[str, Any] | None = None):
        r""":math:`z \mapsto nL_n(w(z))` in unconstrained coordinates, untempered:
        :math:`U_1(z) - U_0(z)`, the prior and the log-Jacobian cancelling. ``arrays``: the
        model's array arguments (default: those the sampler was built with)."""
        arrays = self._arrays if arrays is None else arrays
        u1 = self._potential_gen(1.0, **arrays)
        u0 = self._potential_gen(0.0, **arrays)
        return lambda z: u1(z) - u0(z)

    def fit(self, beta: float, seed: int = 0, data: dict[str, Any] | None = None) -> TemperedFit:
        """Draws at inverse temperature ``beta`` (>= 0) from ``seed``.

        ``data`` replaces the arrays of the data this sampler was built with (same keys and
        shapes, e.g. a replicate dataset): the compiled program is reused.
        """
        beta = check_positive("beta", beta, allow_zero=True)
        seed = check_int("seed", seed, low=0)
        n, sites, sampler = self.n, self.sites, self.sampler
        arrays = self._arrays
        if data is not None:
            if set(data) != set(self.data):
                raise ValueError(f"data must have the keys {sorted(self.data)}; got {sorted(data)}")
            arrays = {k: data[k] for k in arrays}
            for k, v in arrays.items():
                if np.shape(v) != np.shape(self._arrays[k]):
                    raise ValueError(
                        f"data[{k!r}] must have shape {np.shape(self._arrays[k])}; "
                        f"got {np.shape(v)}"
                    )
        full = dict(self.data, **arrays)
        keys = jax.random.split(jax.random.key(seed), self.num_chains)
        total = self.num_warmup + self.num_samples
        label = f"{sampler} β={beta:.3g}"
        with Progress(total, label=label, enabled=self.progress) as bar:
            run_id = None if bar.id is None else np.int32(bar.id)
            samples, raw, energy_draws = jax.device_get(self._program(keys, beta, arrays, run_id))
        if self.keep_log_likelihood:
            pointwise = pointwise_log_likelihood(self.model, samples, full, sites)
            energy = -pointwise.sum(axis=-1).astype(np.float64)
        else:
            energy = np.asarray(energy_draws, np.float64)
        stats = {k: np.asarray(v) for k, v in raw.items()}
        diverging = stats["diverging"] = stats["diverging"].astype(bool)
        stats["reached_max_treedepth"] = (
            stats["n_steps"] >= 2**self.max_tree_depth - 1
            if sampler == "nuts"
            else np.zeros_like(diverging)
        )
        stats["loss"] = energy / n
        groups: dict[str, dict[str, np.ndarray]] = {
            "posterior": {k: np.asarray(v) for k, v in samples.items()},
            "sample_stats": stats,
        }
        if self.keep_log_likelihood:
            groups["log_likelihood"] = {"obs": pointwise}
        dt = from_dict(groups, dims={"obs": ["obs_id"]})
        num_divergent = int(diverging.sum())
        attrs = {
            "inference_library": "slt",
            "slt_version": __version__,
            "jax_version": jax.__version__,
            "numpyro_version": installed_version("numpyro"),
            "estimator": "tempered_posterior",
            "sampler": sampler,
            "beta": beta,
            "n": n,
            "num_chains": self.num_chains,
            "num_warmup": self.num_warmup,
            "num_samples": self.num_samples,
            "seed": seed,
            "x64": bool(jnp.zeros(()).dtype == jnp.float64),
            "num_divergent": num_divergent,
            "observed_sites": list(sites),
        }
        dt.attrs.update({k: attr_value(v) for k, v in attrs.items()})
        if num_divergent > self.max_divergent_fraction * diverging.size:
            warnings.warn(
                f"{num_divergent} of {diverging.size} transitions diverged at beta={beta:g} "
                f"(sampler {sampler!r}); raise target_accept_prob (now "
                f"{self.target_accept_prob or 'default'}) or reparametrize the model",
                DivergenceWarning,
                stacklevel=3,
            )
        return TemperedFit(dt, beta, n, energy, num_divergent)
