"""KL(q(z|x) || p(z)) between a diagonal-Gaussian posterior and a (mixture) prior.

``mc`` is the authors' estimator for every prior (100 samples, reference §4.2); ``closed`` is the analytic KL,
defined only for a one-component (Gaussian) prior. Table 4 compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch.distributions import Normal, kl_divergence

from vaepriors.losses.gaussian import LOG_2PI
from vaepriors.priors.base import MixtureParams, PriorDistribution
from vaepriors.training.randomness import RunRandomness


@dataclass(frozen=True)
class KLResult:
    per_sample: torch.Tensor  # (R, B)
    mean_responsibility: torch.Tensor | None = None  # (R, K): responsibilities averaged over all z samples


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, prior: PriorDistribution, eps: torch.Tensor,
                   responsibilities: bool = False) -> KLResult:
    """(1/S) sum_s [log q(z_s|x) - log p(z_s)], z_s = mu + sigma * eps_s; eps broadcasts to (R, B, S, d)."""
    runs, batch, dim = mu.shape
    z = mu.unsqueeze(2) + torch.exp(0.5 * logvar).unsqueeze(2) * eps
    log_q = -0.5 * (eps.square() + logvar.unsqueeze(2) + LOG_2PI).sum(-1)
    joint = prior.log_joint(z.reshape(runs, -1, dim))
    log_p = torch.logsumexp(joint, dim=-1).view(runs, batch, -1)
    mean_resp = torch.softmax(joint, dim=-1).mean(1) if responsibilities else None
    return KLResult((log_q - log_p).mean(-1), mean_resp)


class KLEstimator(Protocol):
    def __call__(self, mu: torch.Tensor, logvar: torch.Tensor, prior: PriorDistribution, randomness: RunRandomness,
                 responsibilities: bool = False) -> KLResult: ...


@dataclass(frozen=True)
class MonteCarloKL:
    samples: int = 100

    def __call__(self, mu, logvar, prior, randomness, responsibilities=False) -> KLResult:
        eps = randomness.normal(mu.shape[1], self.samples, mu.shape[2])
        return kl_monte_carlo(mu, logvar, prior, eps, responsibilities)


@dataclass(frozen=True)
class ClosedFormKL:
    def __call__(self, mu, logvar, prior, randomness, responsibilities=False) -> KLResult:
        if not isinstance(prior, MixtureParams) or prior.n_components != 1:
            raise ValueError("the closed-form KL needs a one-component Gaussian prior; use kl='mc' for mixtures "
                             "and flows")
        posterior = Normal(mu, torch.exp(0.5 * logvar))
        target = Normal(prior.mu[:, :1], torch.exp(0.5 * prior.logvar[:, :1]))
        per_sample = kl_divergence(posterior, target).sum(-1)
        mean_resp = torch.ones(mu.shape[0], 1, device=mu.device) if responsibilities else None
        return KLResult(per_sample, mean_resp)


def make_kl(kind: str, mc_samples: int) -> KLEstimator:
    estimators = {"mc": lambda: MonteCarloKL(mc_samples), "closed": ClosedFormKL}
    if kind not in estimators:
        raise ValueError(f"unknown KL estimator {kind!r}; choose one of {sorted(estimators)}")
    return estimators[kind]()
