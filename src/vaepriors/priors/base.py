"""The prior interface: every prior is a (possibly one-component) Gaussian mixture per run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MixtureParams:
    """Component means and log-variances (R, K, d) and log mixture weights (R, K) of R priors."""

    mu: torch.Tensor
    logvar: torch.Tensor
    log_weights: torch.Tensor

    @property
    def n_components(self) -> int:
        return self.mu.shape[1]

    def detach(self) -> "MixtureParams":
        return MixtureParams(self.mu.detach(), self.logvar.detach(), self.log_weights.detach())

    def with_logvar(self, logvar: torch.Tensor) -> "MixtureParams":
        return MixtureParams(self.mu, logvar, self.log_weights)


class Prior(nn.Module, ABC):
    """A prior of R runs. ``encoder`` is passed because a VampPrior's components are encoder outputs."""

    @abstractmethod
    def component_params(self, encoder: nn.Module) -> MixtureParams:
        """Unclipped mixture parameters (log-variance clipping is applied by the model)."""

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]


def contribution_logits(runs: int, components: int, learnable: bool, init: torch.Tensor | None = None):
    """Mixture logits: a learnable parameter with LC, otherwise a constant zero buffer (uniform weights)."""
    logits = torch.zeros(runs, components) if init is None else init.clone()
    return nn.Parameter(logits) if learnable else logits


def sample_prior_with_components(prior: MixtureParams, n: int, randomness) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples per run, (R, n, d), and the component each came from, (R, n): component by inverse CDF (not
    differentiable in the weights, like the authors' multinomial), then z = mu_k + sigma_k * eps (reparameterised
    in mu_k and logvar_k)."""
    weights = prior.log_weights.detach().exp()
    cdf = weights.cumsum(-1)
    u = randomness.uniform(n) * cdf[:, -1:]
    index = torch.searchsorted(cdf, u.contiguous()).clamp_(0, prior.n_components - 1)
    dim = prior.mu.shape[-1]
    gather_index = index.unsqueeze(-1).expand(-1, -1, dim)
    mu = prior.mu.gather(1, gather_index)
    logvar = prior.logvar.gather(1, gather_index)
    return mu + torch.exp(0.5 * logvar) * randomness.normal(n, dim), index


def sample_prior(prior: MixtureParams, n: int, randomness) -> torch.Tensor:
    """n samples per run, (R, n, d) (see ``sample_prior_with_components``)."""
    return sample_prior_with_components(prior, n, randomness)[0]
