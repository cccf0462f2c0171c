"""Mixture of Gaussians MoG(K) with learnable means and log-variances, and optionally learnable contributions."""

from __future__ import annotations

import torch
from torch import nn

from vaepriors.core.priors.base import MixtureParams, Prior, contribution_logits


class MixtureOfGaussiansPrior(Prior):
    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor, logits: torch.Tensor,
                 learnable_contributions: bool):
        super().__init__()
        self.mu = nn.Parameter(mu.clone())
        self.logvar = nn.Parameter(logvar.clone())
        logits = contribution_logits(*logits.shape, learnable_contributions, init=logits)
        if learnable_contributions:
            self.logits = logits
        else:
            self.register_buffer("logits", logits)
        self.learnable_contributions = learnable_contributions

    @classmethod
    def random(cls, runs: int, components: int, z_dim: int, learnable_contributions: bool,
               generators) -> "MixtureOfGaussiansPrior":
        """The authors' random init: mu ~ N(0, 1)/sqrt(K d), logvar ~ N(0, 1), uniform weights."""
        mu = torch.stack([torch.randn(components, z_dim, generator=g, device=g.device) for g in generators])
        logvar = torch.stack([torch.randn(components, z_dim, generator=g, device=g.device) for g in generators])
        return cls(mu / (components * z_dim) ** 0.5, logvar, torch.zeros(runs, components), learnable_contributions)

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        return MixtureParams(self.mu, self.logvar, torch.log_softmax(self.logits, dim=-1))
