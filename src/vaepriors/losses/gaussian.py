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
    """log w_k + log N(z; mu_k, diag exp(logvar_k)) for z (R, N, d); returns (R, N, K).

    The quadratic form sum_j (z_j - mu_kj)^2 / var_kj is expanded into one batched matmul,
    [z^2, z] @ [1/var_k, -2 mu_k/var_k]^T + sum_j mu_kj^2/var_kj, which avoids the (R, N, K, d) difference tensor
    (4x faster on a CPU); the float32 cancellation error is far below the Monte-Carlo noise (tests bound it).
    """
    precision = torch.exp(-prior.logvar)
    features = torch.cat([z.square(), z], dim=-1)
    coefficients = torch.cat([precision, -2.0 * prior.mu * precision], dim=-1).transpose(1, 2)
    offset = (prior.mu.square() * precision).sum(-1) + prior.logvar.sum(-1) + z.shape[-1] * LOG_2PI
    quadratic = torch.baddbmm(offset.unsqueeze(1), features, coefficients)
    return prior.log_weights.unsqueeze(1) - 0.5 * quadratic


def mixture_log_density(z: torch.Tensor, prior: MixtureParams) -> torch.Tensor:
    """log p(z) = logsumexp_k [log w_k + log N(z; mu_k, sigma_k^2)], shape (R, N)."""
    return torch.logsumexp(mixture_log_joint(z, prior), dim=-1)
