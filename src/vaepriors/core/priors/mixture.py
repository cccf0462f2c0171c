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

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        return MixtureParams(self.mu, self.logvar, torch.log_softmax(self.logits, dim=-1))
