"""What every dpVAE regulariser shares: the prior seen through two callables, the KL to it, the batch reduction,
the loss contract and the name -> class registry.

Contract. ``regulariser(x, x_hat, mu, logvar, z, step, prior) -> (loss, terms)``: ``loss`` is the scalar to
*minimise* (the negative regularised ELBO, reconstruction included), ``terms`` the named scalar parts, detached, for
logging; always ``rec`` (reduced reconstruction error) and ``kl`` (reduced KL(q(z|x) || p(z))), plus each
regulariser's own. Shapes: x, x_hat (N, ...); mu, logvar, z (N, L) with z = mu + exp(logvar / 2) * eps the one
reparameterised sample the decoder saw; ``step`` the training iteration (only beta-VAE-B's capacity uses it).

Reconstruction: rec_weight * SSE_n with SSE_n = sum over data dims of (x_n - x_hat_n)^2, the authors' likelihood
(a Gaussian with sigma^2 = 1/2 up to a constant) and this package's (``losses.reconstruction``).

Reduction (reference §2-3). ``per_sample``: every term is a mean over the batch, i.e. a per-sample objective.
``authors``: rec and KL are *summed* over the batch as in the authors' code, while the terms that are batch
statistics anyway (beta-TCVAE's MI / TC / dimension-wise KL, FactorVAE's TC, InfoVAE's MMD) stay batch means;
relative to ``per_sample`` this divides every regulariser weight except beta-VAE-H's beta by the batch size B, and
makes beta-VAE-B's capacity C a per-batch quantity (effectively C / B nats per sample).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch.distributions import Normal, kl_divergence

from vaepriors.losses.reconstruction import squared_error

Terms = dict[str, torch.Tensor]

REDUCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"per_sample": torch.mean, "authors": torch.sum}


@dataclass(frozen=True)
class LatentPrior:
    """p(z) as the regularisers see it, so the standard Gaussian and the decoupled (flow) prior are interchangeable.

    log_prob: z (N, L) -> log p(z) (N,); for a decoupled prior log N(g(z); 0, I) + log|det dg/dz| (paper Eq. 7).
    sample: n -> (n, L), differentiable in the prior's parameters (decoupled prior: g^-1(z0), z0 ~ N(0, I)).
    closed_form_kl: (mu, logvar) -> KL(q(z|x) || p(z)) (N,) where one exists; None for a flow.
    """

    log_prob: Callable[[torch.Tensor], torch.Tensor]
    sample: Callable[[int], torch.Tensor]
    closed_form_kl: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def posterior(mu: torch.Tensor, logvar: torch.Tensor) -> Normal:
    """The diagonal Gaussian q(z|x) = N(mu, diag exp(logvar)), batch shape (N, L)."""
    return Normal(mu, torch.exp(0.5 * logvar))


def standard_normal_prior(latent_dim: int, device: torch.device | str = "cpu",
                          generator: torch.Generator | None = None) -> LatentPrior:
    """p(z) = N(0, I_L) with its closed-form KL to a diagonal-Gaussian posterior."""
    def log_prob(z: torch.Tensor) -> torch.Tensor:
        return Normal(z.new_zeros(()), z.new_ones(())).log_prob(z).sum(-1)

    def sample(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, device=device, generator=generator)

    def closed_form_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return kl_divergence(posterior(mu, logvar), Normal(mu.new_zeros(()), mu.new_ones(()))).sum(-1)

    return LatentPrior(log_prob, sample, closed_form_kl)


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, prior: LatentPrior) -> torch.Tensor:
    """KL(q(z|x) || p(z)) per sample (N,).

    Closed form where the prior has one. Otherwise the paper's Eq. (24) with its constants restored,
    KL = -H[q(z|x)] - log p(z), with the analytic entropy H = (1/2) sum_l (1 + log 2 pi + logvar_l) and one
    reparameterised sample z for the cross-entropy (unbiased; for a flow, log p(z) includes log|det dg/dz|).
    """
    if prior.closed_form_kl is not None:
        return prior.closed_form_kl(mu, logvar)
    return -posterior(mu, logvar).entropy().sum(-1) - prior.log_prob(z)


@dataclass(frozen=True)
class LatentBatch:
    """The encoder's output for one batch: mu, logvar, z (N, L) and the per-sample KL (N,)."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    kl: torch.Tensor


@dataclass(kw_only=True, eq=False)
class Regulariser(ABC):
    """loss = rec_weight * reduce(SSE) + penalty(...); see the module docstring for the contract and reductions."""

    name: ClassVar[str]
    reduction: str = "per_sample"
    rec_weight: float = 1.0

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {self.reduction!r}; choose one of {sorted(REDUCTIONS)}")

    def reduce(self, per_sample: torch.Tensor) -> torch.Tensor:
        """(N,) -> scalar: mean (``per_sample``) or sum (``authors``); used for rec and KL only."""
        return REDUCTIONS[self.reduction](per_sample)

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 z: torch.Tensor, step: int, prior: LatentPrior) -> tuple[torch.Tensor, Terms]:
        rec = self.reduce(squared_error(x.unsqueeze(0), x_hat.unsqueeze(0)).squeeze(0))
        batch = LatentBatch(mu, logvar, z, kl_to_prior(mu, logvar, z, prior))
        penalty, terms = self.penalty(batch, step, prior)
        terms = {"rec": rec, "kl": self.reduce(batch.kl), **terms}
        return self.rec_weight * rec + penalty, {name: value.detach() for name, value in terms.items()}

    @abstractmethod
    def penalty(self, batch: LatentBatch, step: int, prior: LatentPrior) -> tuple[torch.Tensor, Terms]:
        """Everything but the reconstruction term (scalar) and the named terms it adds."""

    def state_dict(self) -> dict:
        """Trainable state a checkpoint must hold besides the VAE's (only FactorVAE's discriminator has any)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""

    def to(self, device: torch.device | str) -> "Regulariser":
        """Move owned modules (FactorVAE's discriminator) to ``device``; call before the first step."""
        return self


REGULARISERS: dict[str, type[Regulariser]] = {}


def register(cls: type[Regulariser]) -> type[Regulariser]:
    """Class decorator: make ``cls`` selectable by its ``name`` in a configuration."""
    REGULARISERS[cls.name] = cls
    return cls


def make_regulariser(name: str, **params) -> Regulariser:
    """Build the regulariser called ``name`` (see ``REGULARISERS``) with its dataclass fields as keywords."""
    if name not in REGULARISERS:
        raise ValueError(f"unknown regulariser {name!r}; choose one of {sorted(REGULARISERS)}")
    return REGULARISERS[name](**params)
