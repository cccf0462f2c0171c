"""A VAE of R stacked runs: encoder, decoder, prior and the prior's log-variance soft clip."""

from __future__ import annotations

import torch
from torch import nn

from vaepriors.core.priors import LogVarSoftClip, Prior, PriorDistribution, VampPrior


class StackedVAE(nn.Module):
    """``encoder`` maps (R, N, ...) to (R, N, 2 z_dim) = (mu, logvar); ``decoder`` maps (R, N, z_dim) back."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, prior: Prior, clip: LogVarSoftClip):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.clip = clip

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def prior_params(self) -> PriorDistribution:
        """The prior as every loss, sample and metric sees it: log-variances soft-clipped once clipping is on."""
        return self.prior.distribution(self.encoder).soft_clipped(self.clip)

    def convert_vamp_to_mog(self, weights: str) -> None:
        if not isinstance(self.prior, VampPrior):
            raise TypeError(f"only a VampPrior converts to a MoG, this model has {type(self.prior).__name__}")
        self.prior = self.prior.to_mixture(self.encoder, weights)
