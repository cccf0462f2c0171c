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

As a ``Prior`` the flow hands every loss a ``FlowDistribution`` (S-IntroVAE's prior player next to SG, VampPrior
and MoG, and dpVAE's decoupled prior, R = 1): log p(z) as a one-component ``log_joint``, samples g^-1(z0)
reparameterised in the flow, the two maps of the bijection (``to_generation_space`` g with its log-determinant,
``from_generation_space`` g^-1) that dpVAE's evaluation measures with, and a detached view whose maps pass gradients
to their input but none to the flow (``torch.func.functional_call`` with detached parameters). ``log_scale_bound``
bounds every block's log-scale, |s_k| <= bound (the authors' tanh: 1), i.e. the flow's volume change: the scale
control that the soft clipping is for the MoG log-variances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch import nn
from torch.distributions import Normal

from vaepriors.core.nets.stacked import StackedLinear
from vaepriors.core.priors.base import Prior, PriorDistribution, Randomness
from vaepriors.core.priors.registry import PriorRequest, register_prior

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

    def to_generation_space(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """g: z (..., L) -> z0 (..., L) and log|det dg/dz| (...), the density direction (paper Eqs. 7 and 22)."""
        log_det = z.new_zeros(z.shape[:-1])
        for block in reversed(self.blocks):
            z, block_log_det = block.inverse(z)
            log_det = log_det + block_log_det
        return z, log_det

    def from_generation_space(self, z0: torch.Tensor) -> torch.Tensor:
        """g^-1: z0 (..., L) -> z (..., L), the generation direction (paper Eq. 8); differentiable in the flow."""
        for block in self.blocks:
            z0 = block(z0)
        return z0

    def log_prob(self, z: torch.Tensor, with_log_det: bool = True) -> torch.Tensor:
        """log p(z) = log N(g(z); 0, I) + log|det dg/dz| (Eq. 7), shape (...). ``with_log_det=False``: the
        Jacobian term dropped, log N(g(z); 0, I), the prior term of the authors' beta-TC-dpVAE code (reference §3)."""
        z0, log_det = self.to_generation_space(z)
        # not validated: a diverged run's NaN is recorded by the trainer, it must not end the stack (issue 11)
        log_base = Normal(z0.new_zeros(()), z0.new_ones(()), validate_args=False).log_prob(z0).sum(-1)
        return log_base + log_det if with_log_det else log_base

    def forward(self, x: torch.Tensor, method: str = "log_prob", **kwargs) -> torch.Tensor:
        """One of the flow's maps by name (default log p(z)): the module's call, so ``torch.func.functional_call``
        can evaluate any of them with other (detached) parameters."""
        return getattr(self, method)(x, **kwargs)

    def distribution(self, encoder: nn.Module | None = None) -> "FlowDistribution":
        return FlowDistribution(self)


@dataclass(frozen=True, eq=False)
class FlowDistribution(PriorDistribution):
    """The decoupled prior as every loss sees it (see the module docstring); z is (R, N, L).

    ``detached``: a fixed target, its maps evaluated with detached flow parameters. ``with_log_det=False``: the
    density term without log|det dg/dz| (``without_log_det``), not a normalised density."""

    flow: DecoupledPrior
    detached: bool = False
    with_log_det: bool = True

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
        return replace(self, detached=True)

    def without_log_det(self) -> "FlowDistribution":
        """log_joint = log N(g(z); 0, I), the Jacobian term dropped: the authors' beta-TC-dpVAE prior term (their
        code's dimension-wise KL; reference §3), kept as the paper-compatible ``tc_prior_without_log_det``."""
        return replace(self, with_log_det=False)

    def _flow(self, method: str, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """The flow's ``method`` at x; in the detached view with detached parameters (``functional_call``), so
        gradients reach x but not the flow."""
        if not self.detached:
            return self.flow(x, method, **kwargs)
        frozen = {name: parameter.detach() for name, parameter in self.flow.named_parameters()}
        return torch.func.functional_call(self.flow, frozen, (x, method), kwargs)

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        return self._flow("log_prob", z, with_log_det=self.with_log_det).unsqueeze(-1)

    def to_generation_space(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._flow("to_generation_space", z)

    def from_generation_space(self, z0: torch.Tensor) -> torch.Tensor:
        return self._flow("from_generation_space", z0)

    def sample_with_components(self, n: int, randomness: Randomness) -> tuple[torch.Tensor, torch.Tensor]:
        """z = g^-1(z0), z0 ~ N(0, I) from the run streams (paper Sec. 4.2); reparameterised in the flow unless
        detached. The one component is 0."""
        z = self.from_generation_space(randomness.normal(n, self.dim))
        return z, torch.zeros(z.shape[:-1], dtype=torch.long, device=z.device)


@register_prior("decoupled", min_z_dim=2)
def _build(request: PriorRequest) -> DecoupledPrior:
    """R independent flows, each initialised from its run's generator."""
    config = DecoupledPriorConfig(request.z_dim, request.flow_blocks, request.flow_hidden,
                                  log_scale_bound=request.flow_log_scale_bound)
    return DecoupledPrior(config, generators=request.generators)
