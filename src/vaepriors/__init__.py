"""Priors for variational autoencoders: Soft-IntroVAE with learnable priors and decoupled (flow) priors."""

__version__ = "0.1.0"
