"""Priors: standard Gaussian, VampPrior(K), MoG(K) (per-run Gaussian mixtures) and the decoupled (flow) prior."""

from vaepriors.priors.base import MixtureParams, Prior, PriorDistribution, Randomness
from vaepriors.priors.flow import DecoupledPrior, DecoupledPriorConfig, FlowDistribution
from vaepriors.priors.mixture import MixtureOfGaussiansPrior
from vaepriors.priors.soft_clip import LogVarSoftClip, soft_clip
from vaepriors.priors.standard_gaussian import StandardGaussianPrior
from vaepriors.priors.vamp import VampPrior

__all__ = ["MixtureParams", "Prior", "PriorDistribution", "Randomness", "DecoupledPrior", "DecoupledPriorConfig",
           "FlowDistribution", "MixtureOfGaussiansPrior", "LogVarSoftClip", "soft_clip", "StandardGaussianPrior",
           "VampPrior"]
