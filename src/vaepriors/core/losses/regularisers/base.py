"""What every dpVAE regulariser shares: the prior as a ``PriorDistribution`` (the interface S-IntroVAE uses), the
KL to it, the batch reduction, the loss contract and the name -> class registry.

Contract. ``regulariser(x, x_hat, mu, logvar, z, step, prior, randomness) -> (loss, terms)`` for R stacked runs of
one configuration (docs/dpvae.md "Stacks"): ``loss`` (R,) is each run's value to *minimise*, its negative
regularised ELBO (reconstruction included); minimising their sum gives every run the gradients it would get alone;
``terms`` the named per-run parts (R,), detached, for logging; always ``rec`` (reduced reconstruction error) and
``kl`` (reduced KL(q(z|x) || p(z))), plus each regulariser's own. Shapes: x, x_hat (R, N, ...); mu, logvar, z (R, N, L)
with z = mu + exp(logvar / 2) * eps the one reparameterised sample the decoder saw; ``step`` the training
iteration (only beta-VAE-B's capacity uses it).

Prior. A ``PriorDistribution`` of R runs, the interface S-IntroVAE's losses use: N(0, I) (``StandardGaussianPrior``)
or the decoupled prior (``FlowDistribution``, Eq. 7). ``randomness`` is the runs' noise (``Randomness``, (R, *shape)
per draw; a dpVAE stack's ``vaepriors.core.randomness.RunRandomness``). Every batch statistic works on the last two axes
(N, L), so runs never mix.

KL: ``losses.kl.kl_single_sample``, the closed form for N(0, I), Eq. (24) with the decoder's sample and the posterior
entropy in closed form for a flow (App. C; the authors' code).

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

from vaepriors.core.losses.kl import kl_single_sample
from vaepriors.core.losses.reconstruction import squared_error
from vaepriors.core.priors import PriorDistribution, Randomness

Terms = dict[str, torch.Tensor]

REDUCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"per_sample": torch.mean, "authors": torch.sum}


@dataclass(frozen=True)
class LatentBatch:
    """The encoder's output for one batch of R runs: mu, logvar, z (R, N, L) and the per-sample KL (R, N)."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    kl: torch.Tensor


@dataclass(kw_only=True, eq=False)
class Regulariser(ABC):
    """loss = rec_weight * reduce(SSE) + penalty(...); see the module docstring for the contract and reductions."""

    name: ClassVar[str]
    # A regulariser that trains a network of its own (FactorVAE's discriminator) says so here; the trainer then
    # calls ``auxiliary_step`` after every VAE step with this batch's z and a second, independent batch's z.
    has_auxiliary_step: ClassVar[bool] = False
    reduction: str = "per_sample"
    rec_weight: float = 1.0

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {self.reduction!r}; choose one of {sorted(REDUCTIONS)}")

    def reduce(self, per_sample: torch.Tensor) -> torch.Tensor:
        """Per-sample values (R, N) -> per run (R,): mean (``per_sample``) or sum (``authors``); rec and KL only."""
        return REDUCTIONS[self.reduction](per_sample, dim=-1)

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 z: torch.Tensor, step: int, prior: PriorDistribution,
                 randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        rec = self.reduce(squared_error(x, x_hat))
        batch = LatentBatch(mu, logvar, z, kl_single_sample(mu, logvar, z, prior))
        penalty, terms = self.penalty(batch, step, prior, randomness)
        terms = {"rec": rec, "kl": self.reduce(batch.kl), **terms}
        return self.rec_weight * rec + penalty, {name: value.detach() for name, value in terms.items()}

    @abstractmethod
    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        """Everything but the reconstruction term, per run (R,), and the named per-run terms it adds."""

    def auxiliary_step(self, z: torch.Tensor, z_other: torch.Tensor) -> Terms:
        """One optimiser step of the regulariser's own network on latents (R, N, L) of two independent batches;
        returns its per-run terms. A regulariser without a network of its own has nothing to step (no terms); the
        trainer calls this only for ``has_auxiliary_step``, which spares it the second batch's encoder pass."""
        return {}

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
