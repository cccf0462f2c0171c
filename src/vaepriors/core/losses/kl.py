"""KL(q(z|x) || p(z)) between a diagonal-Gaussian posterior and a prior (``PriorDistribution``), for both studies.

Shapes carry a leading run axis: mu, logvar (R, B, d); dpVAE is one run (R = 1).

- ``kl_monte_carlo``: (1/S) sum_s [log q(z_s|x) - log p(z_s)], both densities sampled; S-IntroVAE's estimator for
  every prior (100 samples, reference §4.2), ``MonteCarloKL``.
- ``kl_closed_form``: the analytic KL, defined only for a one-component Gaussian prior; ``ClosedFormKL`` (Table 4
  compares the two) and dpVAE's KL to N(0, I).
- ``kl_entropy_form``: dpVAE's Eq. (24) with its constant restored, -H[q(z|x)] - (1/S) sum_s log p(z_s), the
  posterior entropy in closed form (the authors' form; their code drops the -L/2 of -H). Only the cross-entropy is
  sampled, so with the decoder's own sample (S = 1) it is the unbiased single-sample KL a dpVAE trains with.
- ``kl_single_sample``: dpVAE's KL (paper App. C, the authors' code): closed form where the prior has one, else Eq. (24)
  with the decoder's sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch.distributions import Normal, kl_divergence

from vaepriors.core.priors import MixtureParams, PriorDistribution, Randomness
from vaepriors.core.priors.base import LOG_2PI


@dataclass(frozen=True)
class KLResult:
    per_sample: torch.Tensor  # (R, B)
    mean_responsibility: torch.Tensor | None = None  # (R, K): responsibilities averaged over all z samples


def posterior(mu: torch.Tensor, logvar: torch.Tensor) -> Normal:
    """The diagonal Gaussian q(z|x) = N(mu, diag exp(logvar)), batch shape that of mu. Arguments are not validated:
    a diverged run's NaN must become a recorded divergence of that run, not an exception that ends its whole stack."""
    return Normal(mu, torch.exp(0.5 * logvar), validate_args=False)


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


def has_closed_form_kl(prior: PriorDistribution) -> bool:
    """Whether ``kl_closed_form`` applies: a one-component Gaussian prior."""
    return isinstance(prior, MixtureParams) and prior.n_components == 1


def kl_closed_form(mu: torch.Tensor, logvar: torch.Tensor, prior: PriorDistribution) -> torch.Tensor:
    """Analytic KL(N(mu, sigma^2) || N(mu_p, sigma_p^2)) summed over d, (R, B); the prior must be one Gaussian."""
    if not has_closed_form_kl(prior):
        raise ValueError("the closed-form KL needs a one-component Gaussian prior; use kl='mc' for mixtures "
                         "and flows")
    target = Normal(prior.mu[:, :1], torch.exp(0.5 * prior.logvar[:, :1]), validate_args=False)
    return kl_divergence(posterior(mu, logvar), target).sum(-1)


def kl_entropy_form(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, prior: PriorDistribution) -> torch.Tensor:
    """dpVAE's Eq. (24) with its constant restored, per sample (R, B):

        KL = -H[q(z|x)] - (1/S) sum_s log p(z_s),   H = (1/2) sum_l (1 + log 2 pi + logvar_l),

    from samples z of q(z|x): (R, B, d) for one (the decoder's, so gradients reach mu and logvar through it) or
    (R, B, S, d). For a flow log p(z) includes log|det dg/dz| (Eq. 7), so the cross-entropy term is
    ||g(z)||^2 / 2 - log|det dg/dz| + (L/2) log 2 pi, Eq. (24)'s; the entropy is exact rather than sampled, as in the
    paper and the authors' code, which spares the estimator the noise of log q(z_s|x).
    """
    if z.dim() == mu.dim():  # the prior sees z itself: no view between z and its other consumers' gradients
        log_p = prior.log_density(z)
    else:
        runs, batch, dim = mu.shape
        log_p = prior.log_density(z.reshape(runs, -1, dim)).view(runs, batch, -1).mean(-1)
    return -posterior(mu, logvar).entropy().sum(-1) - log_p


def kl_single_sample(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, prior: PriorDistribution) -> torch.Tensor:
    """dpVAE's KL per sample (R, B) given the decoder's sample z (R, B, d): the closed form for a Gaussian prior,
    otherwise Eq. (24) (``kl_entropy_form``), as the authors train both the VAE and the dpVAE rows."""
    return kl_closed_form(mu, logvar, prior) if has_closed_form_kl(prior) else kl_entropy_form(mu, logvar, z, prior)


class KLEstimator(Protocol):
    def __call__(self, mu: torch.Tensor, logvar: torch.Tensor, prior: PriorDistribution, randomness: Randomness,
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
        per_sample = kl_closed_form(mu, logvar, prior)
        mean_resp = torch.ones(mu.shape[0], 1, device=mu.device) if responsibilities else None
        return KLResult(per_sample, mean_resp)


def make_kl(kind: str, mc_samples: int) -> KLEstimator:
    estimators = {"mc": lambda: MonteCarloKL(mc_samples), "closed": ClosedFormKL}
    if kind not in estimators:
        raise ValueError(f"unknown KL estimator {kind!r}; choose one of {sorted(estimators)}")
    return estimators[kind]()
