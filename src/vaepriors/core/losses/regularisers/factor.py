"""FactorVAE (Kim & Mnih 2018; paper Eqs. 27-29): loss = rec + KL + gamma * TC, with the total correlation
KL(q(z) || prod_l q(z_l)) estimated by the density-ratio trick. For a decoupled prior the TC acts on the
representation z, not on z0 (paper §4.3); only the KL changes, through the ``PriorDistribution``.

A discriminator D: R^L -> 2 logits learns to tell samples of q(z) (class 0) from samples of prod_l q(z_l) (class 1,
made by permuting each latent column of another batch independently). At the optimum
logit_0 - logit_1 = log q(z) / prod_l q(z_l), so TC ~= mean_n [D(z_n)_0 - D(z_n)_1].

Training protocol (the authors'): per iteration, VAE step on this loss, then ``discriminator_step(z, z_other)``
with z the same batch's sample and z_other a sample of a second, independent batch. The discriminator has its own
Adam; keep its parameters out of the VAE optimiser (the VAE backward leaves gradients on them, which
``discriminator_step`` clears). The discriminator loss uses detached inputs, which is also the fix for the in-place
autograd error of the authors' code on PyTorch >= 1.5.

Runs. For R stacked runs the discriminator is R discriminators in one ``RunStack``, run r initialised under
``discriminator_seeds[r]`` as a single discriminator would be, and the column permutations come from the runs' own
streams (``permutations``, a ``Randomness``), so each run's adversary is the one it would have alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn
from torch.nn.functional import cross_entropy

from vaepriors.core.losses.regularisers.base import LatentBatch, Regulariser, Terms, register
from vaepriors.core.nets.run_stack import RunStack
from vaepriors.core.priors import PriorDistribution, Randomness

JOINT, PERMUTED = 0, 1


def permute_dims(z: torch.Tensor, randomness: Randomness) -> torch.Tensor:
    """(R, N, L) -> (R, N, L) with an independent random permutation of each run's batch applied to every column:
    each column keeps its values (its marginal), the dependence between columns is destroyed. A permutation is the
    stable argsort of one uniform per entry (ties, of probability ~N^2 / 2^25 per column, keep their order)."""
    order = randomness.uniform(*z.shape[1:]).argsort(dim=1, stable=True).to(z.device)
    return z.gather(1, order)


def discriminator_network(latent_dim: int, hidden: int = 1000, hidden_layers: int = 5,
                          negative_slope: float = 0.2) -> nn.Sequential:
    """L -> [hidden, LeakyReLU(0.2)] x hidden_layers -> 2 logits (paper App. C: 5 x 1000); PyTorch init."""
    widths = [latent_dim] + [hidden] * hidden_layers
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(negative_slope)]
    return nn.Sequential(*layers, nn.Linear(hidden, 2))


@register
@dataclass(kw_only=True, eq=False)
class FactorVAE(Regulariser):
    """loss = rec + KL + gamma * TC. Discriminator Adam: lr 1e-4, betas (0.9, 0.999) as in the dpVAE code (the
    original FactorVAE uses (0.5, 0.9)). One discriminator per run, seeded by ``discriminator_seeds``;
    ``permutations`` drives the column permutations (both supplied by the trainer)."""

    name: ClassVar[str] = "factor"
    has_auxiliary_step: ClassVar[bool] = True
    latent_dim: int
    gamma: float = 1000.0
    hidden: int = 1000
    hidden_layers: int = 5
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    discriminator_seeds: tuple[int, ...] = (0,)
    permutations: Randomness | None = None
    discriminator: RunStack = field(init=False)
    optimizer: torch.optim.Adam = field(init=False)

    def __post_init__(self):
        super().__post_init__()
        networks = []
        for seed in self.discriminator_seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                networks.append(discriminator_network(self.latent_dim, self.hidden, self.hidden_layers))
        self.discriminator = RunStack.from_runs(networks)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=self.betas)

    def total_correlation(self, z: torch.Tensor) -> torch.Tensor:
        """Density-ratio TC estimate mean_n [D(z_n)_0 - D(z_n)_1] per run of z (R, N, L), (R,), differentiable in z."""
        logits = self.discriminator(z)
        return (logits[..., JOINT] - logits[..., PERMUTED]).mean(-1)

    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        tc = self.total_correlation(batch.z)
        return self.reduce(batch.kl) + self.gamma * tc, {"tc": tc}

    def auxiliary_step(self, z: torch.Tensor, z_other: torch.Tensor) -> Terms:
        return self.discriminator_step(z, z_other)

    def discriminator_step(self, z: torch.Tensor, z_other: torch.Tensor) -> Terms:
        """One Adam step on (1/2)[CE(D(z), joint) + CE(D(permute_dims(z_other)), permuted)], inputs detached;
        per run of z, z_other (R, N, L) (the sum over runs is minimised); returns that loss and the discriminator's
        accuracy on the two sets (before the step), per run (R,)."""
        if self.permutations is None:
            raise ValueError("FactorVAE's discriminator step needs the runs' permutation streams (permutations)")
        n = z.shape[1]
        inputs = torch.cat([z.detach(), permute_dims(z_other.detach(), self.permutations)], dim=1)
        labels = torch.cat([z.new_full((n,), JOINT, dtype=torch.long),
                            z.new_full((z_other.shape[1],), PERMUTED, dtype=torch.long)])
        logits = self.discriminator(inputs)
        losses = cross_entropy(logits.flatten(0, 1), labels.repeat(len(z)), reduction="none").view(len(z), -1)
        loss = 0.5 * (losses[:, :n].mean(-1) + losses[:, n:].mean(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        accuracy = (logits.argmax(-1) == labels).float().mean(-1)
        return {"d_loss": loss.detach(), "d_accuracy": accuracy}

    def state_dict(self) -> dict:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])

    def to(self, device: torch.device | str) -> "FactorVAE":
        self.discriminator.to(device)
        return self
