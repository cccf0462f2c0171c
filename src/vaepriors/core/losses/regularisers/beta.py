"""The plain ELBO and the two beta-VAEs (paper §4.3 and Eqs. 25-26; Table 2 weights). With a decoupled prior only
the KL changes (``losses.kl.kl_single_sample`` of the ``PriorDistribution``), so the classes are the same for VAE and
dpVAE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaepriors.core.losses.kl import has_closed_form_kl
from vaepriors.core.losses.regularisers.base import LatentBatch, Regulariser, Terms, register
from vaepriors.core.priors import PriorDistribution, Randomness


@register
@dataclass(kw_only=True, eq=False)
class BetaVAEH(Regulariser):
    """beta-VAE-H (Higgins et al.): loss = rec + beta * KL."""

    name: ClassVar[str] = "beta_h"
    beta: float = 4.0

    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        return self.beta * self.reduce(batch.kl), {}


@register
@dataclass(kw_only=True, eq=False)
class VanillaVAE(BetaVAEH):
    """The unregularised ELBO, loss = rec + KL (the paper's "VAE" rows)."""

    name: ClassVar[str] = "vae"
    beta: float = 1.0


@register
@dataclass(kw_only=True, eq=False)
class BetaVAEB(Regulariser):
    """beta-VAE-B (Burgess et al.): loss = rec + gamma * |KL - C(step)|, C rising linearly from 0 to c_max.

    Under ``reduction="authors"`` KL is the batch sum, so C is nats per batch, as in the authors' code.
    ``authors_dp_kl``: paper-compatible variant for beta-dpVAE-B. The authors' decoupled-prior KL (their Eq. 24)
    drops the -L/2 constant, i.e. it is the exact KL + L/2 per sample; the constant is invisible to every other
    regulariser but shifts |KL - C|. When set, L/2 per sample is added to the KL inside |.| where the KL is Eq. (24)
    (priors without a closed-form KL; their standard-prior KL is exact, so nothing changes there).
    """

    name: ClassVar[str] = "beta_b"
    gamma: float = 15.0
    c_max: float = 25.0
    c_stop: int = 100_000
    authors_dp_kl: bool = False

    def capacity(self, step: int) -> float:
        """C(step) = c_max * clip(step / c_stop, 0, 1)."""
        return self.c_max * min(max(step / self.c_stop, 0.0), 1.0)

    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        kl = batch.kl
        if self.authors_dp_kl and not has_closed_form_kl(prior):
            kl = kl + 0.5 * batch.z.shape[-1]
        capacity = self.capacity(step)
        return self.gamma * (self.reduce(kl) - capacity).abs(), {"capacity": kl.new_full(kl.shape[:-1], capacity)}
