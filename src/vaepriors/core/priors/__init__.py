"""Priors: standard Gaussian, VampPrior(K), MoG(K) (per-run Gaussian mixtures) and the decoupled (flow) prior, each
registered by name in ``registry`` (importing this package registers them)."""

from vaepriors.core.priors.base import MixtureParams, Prior, PriorDistribution, Randomness
from vaepriors.core.priors.flow import DecoupledPrior, DecoupledPriorConfig, FlowDistribution
from vaepriors.core.priors.mixture import MixtureOfGaussiansPrior
from vaepriors.core.priors.registry import PRIORS, PriorKind, PriorRequest, build_prior, prior_kind, register_prior
from vaepriors.core.priors.soft_clip import LogVarSoftClip, soft_clip
from vaepriors.core.priors.standard_gaussian import StandardGaussianPrior
from vaepriors.core.priors.vamp import VampPrior

__all__ = ["MixtureParams", "Prior", "PriorDistribution", "Randomness", "DecoupledPrior", "DecoupledPriorConfig",
           "FlowDistribution", "MixtureOfGaussiansPrior", "LogVarSoftClip", "soft_clip", "StandardGaussianPrior",
           "VampPrior", "PRIORS", "PriorKind", "PriorRequest", "build_prior", "prior_kind", "register_prior"]
