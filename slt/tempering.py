r"""Tempering a NumPyro model: the likelihood raised to the power β, the prior untouched.

The tempered posterior of Watanabe (2013, JMLR 14:867) is
:math:`p_\beta(w) \propto \varphi(w)\prod_i p(z_i \mid w)^\beta`. In a NumPyro model the likelihood
is the set of *observed* sample sites and the prior the latent ones, so tempering is a handler
that scales the log-density of every observed site by β (as :class:`numpyro.handlers.scale` does
for all sites).
"""

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from numpyro.handlers import seed, trace
from numpyro.primitives import Messenger

__all__ = ["observed_sites", "temper"]


class temper(Messenger):  # noqa: N801 - NumPyro's handlers are lower-case classes
    """Scale the log-likelihood of every observed site by ``beta``; latent sites are untouched.

    Parameters
    ----------
    fn
        A NumPyro model.
    beta
        The inverse temperature β > 0 (β = 0 gives the prior).
    """

    def __init__(self, fn: Callable[..., Any] | None = None, beta: float = 1.0) -> None:
        # A traced β (a compiled program sampling several temperatures) is checked by its caller.
        if not isinstance(beta, jax.core.Tracer) and not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0; got {beta!r}")
        self.beta = beta
        super().__init__(fn)

    def process_message(self, msg: dict[str, Any]) -> None:
        """Multiply the site's scale by β when it is an observed sample site of the likelihood.

        Auxiliary observed sites are not likelihood: NumPyro writes the log-Jacobian of a
        constrained latent site as an observed ``factor`` flagged ``is_auxiliary``; scaling it
        would change the prior (a bounded prior's tail slope became β instead of 1).
        """
        infer = msg.get("infer") or {}
        if msg["type"] == "sample" and msg.get("is_observed") and not infer.get("is_auxiliary"):
            msg["scale"] = self.beta if msg.get("scale") is None else self.beta * msg["scale"]


def observed_sites(model: Callable[..., Any], data: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Names and batch shapes of the observed sample sites of ``model(**data)``.

    Raises
    ------
    ValueError
        When the model has no observed site (there is no likelihood to temper).
    """
    tr = trace(seed(model, jax.random.key(0))).get_trace(**data)
    sites = {
        name: tuple(site["fn"].batch_shape)
        for name, site in tr.items()
        if site["type"] == "sample"
        and site["is_observed"]
        and not (site.get("infer") or {}).get("is_auxiliary")
    }
    if not sites:
        raise ValueError(
            "model has no observed sample site: mark the likelihood with "
            "numpyro.sample(..., obs=...)"
        )
    return sites
