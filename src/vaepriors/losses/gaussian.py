"""Diagonal-Gaussian and Gaussian-mixture log densities with a leading run axis."""

from __future__ import annotations

import math

import torch

from vaepriors.priors.base import MixtureParams

LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps (differentiable in mu and logvar)."""
    return mu + torch.exp(0.5 * logvar) * eps


def mixture_log_joint(z: torch.Tensor, prior: MixtureParams) -> torch.Tensor:
    """log w_k + log N(z; mu_k, diag exp(logvar_k)) for z (R, N, d); returns (R, N, K)."""
    diff = z.unsqueeze(-2) - prior.mu.unsqueeze(1)
    quadratic = (diff.square() * torch.exp(-prior.logvar).unsqueeze(1)).sum(-1)
    log_norm = prior.logvar.sum(-1) + z.shape[-1] * LOG_2PI
    return prior.log_weights.unsqueeze(1) - 0.5 * (quadratic + log_norm.unsqueeze(1))


def mixture_log_density(z: torch.Tensor, prior: MixtureParams) -> torch.Tensor:
    """log p(z) = logsumexp_k [log w_k + log N(z; mu_k, sigma_k^2)], shape (R, N)."""
    return torch.logsumexp(mixture_log_joint(z, prior), dim=-1)
