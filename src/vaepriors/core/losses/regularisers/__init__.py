"""The dpVAE paper's regularisers (beta-VAE-H/B, beta-TCVAE, FactorVAE, InfoVAE, plus the plain ELBO) as loss
classes with one contract, usable with the standard Gaussian or a decoupled (flow) prior (a ``PriorDistribution`` of
R stacked runs); ``make_regulariser`` picks one by its configuration name. See ``base`` for the contract and the two
batch reductions."""

from vaepriors.core.losses.regularisers.base import (REDUCTIONS, REGULARISERS, Regulariser, make_regulariser)
from vaepriors.core.losses.regularisers.beta import BetaVAEB, BetaVAEH, VanillaVAE
from vaepriors.core.losses.regularisers.factor import FactorVAE, discriminator_network, permute_dims
from vaepriors.core.losses.regularisers.info import InfoVAE, mmd, prior_samples, rbf_kernel
from vaepriors.core.losses.regularisers.tcvae import SAMPLING, BetaTCVAE, tc_decomposition

__all__ = ["REDUCTIONS", "REGULARISERS", "SAMPLING", "BetaTCVAE", "BetaVAEB", "BetaVAEH", "FactorVAE",
           "InfoVAE", "Regulariser", "VanillaVAE", "discriminator_network", "make_regulariser",
           "mmd", "permute_dims", "prior_samples", "rbf_kernel", "tc_decomposition"]
