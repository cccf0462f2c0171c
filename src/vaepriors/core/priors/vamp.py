"""VampPrior(K): the components are the encoder's posteriors of K learnable pseudo-inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaepriors.core.priors.base import MixtureParams, Prior
from vaepriors.core.priors.mixture import MixtureOfGaussiansPrior
from vaepriors.core.priors.registry import PriorRequest, register_prior

# How the mixture logits are carried over when the VampPrior becomes a MoG (reference §3.1 and §12.10).
VAMP_TO_MOG_WEIGHTS = ("authors", "preserve")


class VampPrior(Prior):
    """``input_range`` bounds the pseudo-inputs with a hard tanh before encoding (images: [0, 1], reference §13)."""

    def __init__(self, pseudo_inputs: torch.Tensor, learnable_contributions: bool,
                 input_range: tuple[float, float] | None = None):
        super().__init__()
        self.pseudo_inputs = nn.Parameter(pseudo_inputs.clone())  # (R, K, data dims): initialised from data
        self.input_range = input_range
        self.set_contribution_logits(*pseudo_inputs.shape[:2], learnable_contributions)

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        inputs = self.pseudo_inputs if self.input_range is None else F.hardtanh(self.pseudo_inputs, *self.input_range)
        mu, logvar = encoder(inputs).chunk(2, dim=-1)
        return MixtureParams(mu, logvar, torch.log_softmax(self.logits, dim=-1))

    def to_mixture(self, encoder: nn.Module, weights: str) -> MixtureOfGaussiansPrior:
        """Freeze the current components into a MoG.

        ``weights='authors'`` loads the softmax *probabilities* as the new logits, as the authors' code does
        (learned contributions are then reset to nearly uniform); ``'preserve'`` keeps the learned weights.
        """
        if weights not in VAMP_TO_MOG_WEIGHTS:
            raise ValueError(f"vamp_to_mog_weights must be one of {VAMP_TO_MOG_WEIGHTS}, got {weights!r}")
        with torch.no_grad():
            params = self.distribution(encoder)
            logits = params.log_weights.exp() if weights == "authors" else params.log_weights
        return MixtureOfGaussiansPrior(params.mu, params.logvar, logits, self.learnable_contributions)


@register_prior("vamp", mixture=True, converts_to_mog=True)
def _build(request: PriorRequest) -> VampPrior:
    """Pseudo-inputs initialised from K data points per run (reference §3, §13)."""
    if request.pseudo_inputs is None:
        raise ValueError("a VampPrior is made from data: the request needs pseudo_inputs")
    return VampPrior(request.pseudo_inputs(request.components), request.learnable_contributions,
                     request.input_range)
