"""Mixture of Gaussians MoG(K) with learnable means and log-variances, and optionally learnable contributions."""

from __future__ import annotations

import torch
from torch import nn

from vaepriors.core.priors.base import MixtureParams, Prior


class MixtureOfGaussiansPrior(Prior):
    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor, logits: torch.Tensor,
                 learnable_contributions: bool):
        super().__init__()
        self.mu = nn.Parameter(mu.clone())
        self.logvar = nn.Parameter(logvar.clone())
        self.set_contribution_logits(*logits.shape, learnable_contributions, init=logits)

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        return MixtureParams(self.mu, self.logvar, torch.log_softmax(self.logits, dim=-1))
