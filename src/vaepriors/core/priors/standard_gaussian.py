"""The standard Gaussian prior N(0, I) (the authors' ``ImposedPrior``): one fixed component."""

import torch
from torch import nn

from vaepriors.core.priors.base import MixtureParams, Prior
from vaepriors.core.priors.registry import PriorRequest, register_prior


class StandardGaussianPrior(Prior):
    def __init__(self, runs: int, z_dim: int):
        super().__init__()
        self.register_buffer("mu", torch.zeros(runs, 1, z_dim))
        self.register_buffer("logvar", torch.zeros(runs, 1, z_dim))
        self.register_buffer("logits", torch.zeros(runs, 1))

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        return MixtureParams(self.mu, self.logvar, self.logits)


@register_prior("standard_gaussian", learnable=False, closed_form_kl=True)
def _build(request: PriorRequest) -> StandardGaussianPrior:
    return StandardGaussianPrior(request.runs, request.z_dim)
