"""Priors: standard Gaussian, VampPrior(K), MoG(K), all exposed as per-run Gaussian mixtures."""

from vaepriors.priors.base import MixtureParams, Prior, sample_prior, sample_prior_with_components
from vaepriors.priors.mixture import MixtureOfGaussiansPrior
from vaepriors.priors.soft_clip import LogVarSoftClip, soft_clip
from vaepriors.priors.standard_gaussian import StandardGaussianPrior
from vaepriors.priors.vamp import VampPrior

__all__ = ["MixtureParams", "Prior", "sample_prior", "sample_prior_with_components", "MixtureOfGaussiansPrior", "LogVarSoftClip", "soft_clip",
           "StandardGaussianPrior", "VampPrior"]
