"""SG-MCMC kernels (pure init/step functions) and the chain driver."""

from slt.samplers.rmsprop_sgld import rmsprop_sgld
from slt.samplers.run import Trace, run_chains
from slt.samplers.sgld import sgld
from slt.samplers.sgnht import sgnht

__all__ = ["Trace", "rmsprop_sgld", "run_chains", "sgld", "sgnht"]
