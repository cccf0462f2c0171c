"""InfoVAE with the MMD divergence (Zhao et al. 2019; paper Eqs. 32-33):

    loss = rec + (1 - alpha) * KL + (alpha + lambda - 1) * MMD(q(z), p(z))     (Table 2: alpha = 0, lambda = 1000)

MMD compares the batch's posterior samples z (N, L) with N fresh prior samples z = g^-1(z0), z0 ~ N(0, I)
(``prior_samples``, paper Sec. 4.2; g = id for N(0, I)), which for a decoupled prior keep their gradient, so the MMD
also trains the flow (as in the authors' code).

Kernel (the authors' choice, from Zhao's InfoVAE code): k(a, b) = exp(-||a - b||^2 / h) with h = L^2 by default,
i.e. an RBF of bandwidth sigma = L / sqrt(2) (the code writes exp(-mean_l (a_l - b_l)^2 / L)). The estimator is
the biased V-statistic mean K(z, z) + mean K(s, s) - 2 mean K(z, s), diagonals included, as theirs; it is >= 0
and exactly 0 for identical sample sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaepriors.core.losses.regularisers.base import LatentBatch, Regulariser, Terms, register
from vaepriors.core.priors import PriorDistribution, Randomness


def prior_samples(prior: PriorDistribution, n: int, randomness: Randomness) -> torch.Tensor:
    """n samples (R, n, L) of an R-run prior as dpVAE generates them (paper Sec. 4.2): z = g^-1(z0), z0 ~ N(0, I),
    g = id for N(0, I); differentiable in the prior's parameters. The noise stream holds only the normal draws, as in
    the authors' code (``prior.sample`` would also draw a mixture component)."""
    return prior.from_generation_space(randomness.normal(n, prior.dim))


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """k(a_i, b_j) = exp(-||a_i - b_j||^2 / scale) for a (..., N, L), b (..., M, L); returns (..., N, M)."""
    return torch.exp(-(a.unsqueeze(-2) - b.unsqueeze(-3)).square().sum(-1) / scale)


def mmd(a: torch.Tensor, b: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Biased (V-statistic) squared MMD between sample sets a (..., N, L) and b (..., M, L), per leading index (e.g.
    per run, (R,)); ``scale`` defaults to L^2."""
    scale = float(a.shape[-1] ** 2) if scale is None else scale
    return (rbf_kernel(a, a, scale).mean((-2, -1)) + rbf_kernel(b, b, scale).mean((-2, -1))
            - 2.0 * rbf_kernel(a, b, scale).mean((-2, -1)))


@register
@dataclass(kw_only=True, eq=False)
class InfoVAE(Regulariser):
    """loss = rec + (1 - alpha) KL + (alpha + lam - 1) MMD; ``kernel_scale`` h (None: L^2, the authors')."""

    name: ClassVar[str] = "info"
    alpha: float = 0.0
    lam: float = 1000.0
    kernel_scale: float | None = None

    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        divergence = mmd(batch.z, prior_samples(prior, batch.z.shape[-2], randomness), self.kernel_scale)
        loss = (1.0 - self.alpha) * self.reduce(batch.kl) + (self.alpha + self.lam - 1.0) * divergence
        return loss, {"mmd": divergence}
