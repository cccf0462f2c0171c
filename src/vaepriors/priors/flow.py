"""The decoupled prior of dpVAE (Bhalodia et al. 2020): a RealNVP flow between representation and generation space.

The prior on the representation space is p(z) = N(g(z); 0, I) |det dg/dz| (Eq. 7), where the bijection
g: z -> z0 is a stack of K affine coupling blocks (Eqs. 8-9). Mechanics follow the authors' code (reference §1):

- block k with binary mask b_k (1 = conditioned on, kept) maps, in the generation direction z0 -> z,
      y = b*x + (1-b)*(x*exp(s_k(b*x)) + t_k(b*x)),
  so the paper's Eq. (8) formula is g^-1, not g; both conventions describe the same model family. s_k and t_k are
  separate networks L -> 64 -> 64 -> L (LeakyReLU 0.01) that both end in tanh, so s_k, t_k lie in [-1, 1];
  their outputs are multiplied by (1-b), which makes the block the identity on the kept coordinates;
- g^-1 applies blocks 1..K in order; g applies their inverses x = (y - t)*exp(-s) in reverse order and
  log|det dg/dz| = -sum_k sum_l (1-b_k^l) s_k^l (the sign of Eq. 22 flips with the direction convention);
- masks alternate [a, 1-a, a, ...] with a = 1 on the first floor(L/2) coordinates (for L = 2: [1,0], [0,1], ...).

Initialisation: PyTorch's default (the authors' choice); ``identity_init`` zeroes the last layer of every s and t
network so the flow starts as the identity.

Shapes: every map acts on the last axis, so any leading shape (..., L) works, e.g. (N, L) or (N, S, L); a leading
run axis (R, N, L) with one flow shared by all runs (dpVAE, image models: R = 1). Built with per-run ``generators``,
the s and t networks hold R independent weight sets (``models.stacked.StackedLinear``) and the leading axis of every
input is the run axis, as in the vectorised 2D trainer; the coupling arithmetic is the same.

As a ``Prior`` (the S-IntroVAE prior player, next to SG, VampPrior and MoG) the flow hands the losses a
``FlowDistribution``: log p(z) as a one-component ``log_joint``, samples g^-1(z0) reparameterised in the flow, and a
detached view whose density passes gradients to z but none to the flow (``torch.func.functional_call`` with detached
parameters). ``log_scale_bound`` bounds every block's log-scale, |s_k| <= bound (the authors' tanh: 1), i.e. the
flow's volume change: the scale control that the soft clipping is for the MoG log-variances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.distributions import Normal

from vaepriors.losses.gaussian import reparameterize
from vaepriors.models.stacked import StackedLinear
from vaepriors.priors.base import Prior, PriorDistribution

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class DecoupledPriorConfig:
    """Latent size L, number of coupling blocks K (paper: 6) and width of the s/t networks (paper: 64)."""

    z_dim: int
    blocks: int = 6
    hidden: int = 64
    identity_init: bool = False
    log_scale_bound: float = 1.0

    def __post_init__(self):
        if self.z_dim < 2:
            raise ValueError(f"a coupling flow needs z_dim >= 2, got {self.z_dim}")
        if self.blocks < 1 or self.hidden < 1:
            raise ValueError(f"blocks and hidden must be positive, got {self.blocks} and {self.hidden}")
        if not self.log_scale_bound > 0:
            raise ValueError(f"log_scale_bound must be positive, got {self.log_scale_bound}")


def coupling_masks(z_dim: int, blocks: int) -> torch.Tensor:
    """(K, L) binary masks, 1 = kept: a = [1]*floor(L/2) + [0]*(L - floor(L/2)), alternating a, 1-a, a, ..."""
    first = torch.zeros(z_dim)
    first[: z_dim // 2] = 1.0
    return torch.stack([first if k % 2 == 0 else 1.0 - first for k in range(blocks)])


class RunStackedSequential(nn.Sequential):
    """Layers with a run axis applied to (R, ..., in): the axes between run and features are folded into one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x.reshape(x.shape[0], -1, x.shape[-1]))
        return y.reshape(*x.shape[:-1], y.shape[-1])


def coupling_network(z_dim: int, hidden: int, runs: int | None = None) -> nn.Sequential:
    """L -> hidden -> hidden -> L with LeakyReLU(0.01) and a final tanh (the authors' s and t networks); with
    ``runs``, R independent networks (uninitialised: ``reset_parameters`` draws their weights)."""
    if runs is None:
        linear, container = nn.Linear, nn.Sequential
    else:
        linear, container = (lambda fan_in, fan_out: StackedLinear(runs, fan_in, fan_out)), RunStackedSequential
    return container(linear(z_dim, hidden), nn.LeakyReLU(LEAKY_SLOPE), linear(hidden, hidden),
                     nn.LeakyReLU(LEAKY_SLOPE), linear(hidden, z_dim), nn.Tanh())


class AffineCoupling(nn.Module):
    """One coupling block; ``forward`` is the generation direction x -> y, ``inverse`` the density direction."""

    def __init__(self, mask: torch.Tensor, hidden: int, log_scale_bound: float = 1.0, runs: int | None = None):
        super().__init__()
        self.register_buffer("mask", mask)
        self.log_scale_bound = log_scale_bound
        self.scale = coupling_network(mask.numel(), hidden, runs)
        self.shift = coupling_network(mask.numel(), hidden, runs)

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        """PyTorch's default init, drawn per run (run-stacked networks)."""
        for network in (self.scale, self.shift):
            for layer in network:
                if isinstance(layer, StackedLinear):
                    layer.reset_parameters(generators)

    def zero_last_layers(self) -> None:
        """s = t = 0 everywhere: the block becomes the identity."""
        for network in (self.scale, self.shift):
            nn.init.zeros_(network[-2].weight)
            nn.init.zeros_(network[-2].bias)

    def scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(1-b)*s(b*x) and (1-b)*t(b*x), each (..., L); they depend only on the kept coordinates."""
        kept, free = self.mask * x, 1.0 - self.mask
        return free * self.log_scale_bound * self.scale(kept), free * self.shift(kept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = x*exp(s) + t, which equals b*x + (1-b)*(x*exp(s) + t) because s and t vanish where b = 1."""
        s, t = self.scale_shift(x)
        return x * torch.exp(s) + t

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = (y - t)*exp(-s) (y and x share the kept coordinates, so s and t are recomputed from y) and
        log|det dx/dy| = -sum_l s_l, shape (...)."""
        s, t = self.scale_shift(y)
        return (y - t) * torch.exp(-s), -s.sum(-1)


class DecoupledPrior(Prior):
    """p(z) = N(g(z); 0, I) |det dg/dz| with g a RealNVP stack; trained jointly with the VAE (no own loss).
    ``generators`` (one per run) make R independent flows, initialised from them."""

    def __init__(self, config: DecoupledPriorConfig, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.config = config
        masks = coupling_masks(config.z_dim, config.blocks)
        runs = None if generators is None else len(generators)
        self.runs = runs or 1  # a flow without a run axis serves one run (R = 1) as a prior
        self.blocks = nn.ModuleList(AffineCoupling(mask, config.hidden, config.log_scale_bound, runs)
                                    for mask in masks)
        if generators is not None:
            for block in self.blocks:
                block.reset_parameters(generators)
        if config.identity_init:
            for block in self.blocks:
                block.zero_last_layers()

    def to_base(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """g: z (..., L) -> z0 (..., L) and log|det dg/dz| (...)."""
        log_det = z.new_zeros(z.shape[:-1])
        for block in reversed(self.blocks):
            z, block_log_det = block.inverse(z)
            log_det = log_det + block_log_det
        return z, log_det

    def from_base(self, z0: torch.Tensor) -> torch.Tensor:
        """g^-1: z0 (..., L) -> z (..., L); differentiable in the flow parameters."""
        for block in self.blocks:
            z0 = block(z0)
        return z0

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = g^-1(z0), z0 ~ N(0, I): (n, L), on the flow's device and dtype, with gradients to the flow."""
        reference = self.blocks[0].mask
        z0 = torch.randn(n, self.config.z_dim, generator=generator, dtype=reference.dtype, device=reference.device)
        return self.from_base(z0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (the module's call, so ``functional_call`` can evaluate it with other parameters)."""
        return self.log_prob(z)

    def distribution(self, encoder: nn.Module | None = None) -> "FlowDistribution":
        return FlowDistribution(self)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = log N(g(z); 0, I) + log|det dg/dz| (Eq. 7), shape (...)."""
        z0, log_det = self.to_base(z)
        return Normal(z0.new_zeros(()), z0.new_ones(())).log_prob(z0).sum(-1) + log_det

    def kl_monte_carlo(self, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) of Eq. (24) with its constant restored, per sample (N,):

            KL = (1/S) sum_s [ ||g(z_s)||^2 / 2 - log|det dg/dz|(z_s) ] - (1/2) sum_l (logvar_l + 1),

        z_s = mu + sigma*eps_s, with the posterior entropy in closed form (as Eq. 24 and the authors' code; they
        drop the -L/2). mu, logvar (N, L); eps (N, L) for one sample or (N, S, L) for S samples.
        """
        eps = eps.unsqueeze(-2) if eps.dim() == mu.dim() else eps
        z = reparameterize(mu.unsqueeze(-2), logvar.unsqueeze(-2), eps)
        z0, log_det = self.to_base(z)
        cross_entropy_part = (0.5 * z0.square().sum(-1) - log_det).mean(-1)
        return cross_entropy_part - 0.5 * (logvar + 1.0).sum(-1)


@dataclass(frozen=True, eq=False)
class FlowDistribution(PriorDistribution):
    """The decoupled prior as the S-IntroVAE losses see it (see the module docstring); z is (R, N, L)."""

    flow: DecoupledPrior
    detached: bool = False

    @property
    def n_components(self) -> int:
        return 1

    @property
    def dim(self) -> int:
        return self.flow.config.z_dim

    @property
    def runs(self) -> int:
        return self.flow.runs

    def detach(self) -> "FlowDistribution":
        return FlowDistribution(self.flow, detached=True)

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        if not self.detached:
            return self.flow(z).unsqueeze(-1)
        frozen = {name: parameter.detach() for name, parameter in self.flow.named_parameters()}
        return torch.func.functional_call(self.flow, frozen, (z,)).unsqueeze(-1)

    def sample_with_components(self, n: int, randomness) -> tuple[torch.Tensor, torch.Tensor]:
        z0 = randomness.normal(n, self.dim)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.detached):
            z = self.flow.from_base(z0)
        return z, torch.zeros(z.shape[:-1], dtype=torch.long, device=z.device)
