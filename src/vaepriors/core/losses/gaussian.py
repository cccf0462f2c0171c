"""Diagonal-Gaussian reparameterisation with a leading run axis."""

from __future__ import annotations

import torch

from vaepriors.core.priors.base import LOG_2PI

__all__ = ["LOG_2PI", "reparameterize"]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps (differentiable in mu and logvar)."""
    return mu + torch.exp(0.5 * logvar) * eps
