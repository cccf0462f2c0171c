"""The prior interface. A ``Prior`` module hands every loss, sampler and metric a ``PriorDistribution`` of R runs:
a Gaussian mixture (standard Gaussian, VampPrior, MoG) or a flow (the decoupled prior). Both studies use it:
S-IntroVAE with R runs, dpVAE with one (R = 1; its regularisers add the run axis at their boundary).

Priors draw their noise from a ``Randomness`` (one stream per run, every draw with a leading run axis), never from
torch's global RNG, so a run's draws do not depend on which other runs share its process.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)
# Largest float64 (R, chunk of N, K) block ``MixtureParams.log_joint`` builds at once (1 GiB).
LOG_JOINT_CHUNK_BYTES = 2**30


class Randomness(Protocol):
    """The noise source of R runs: ``normal(*shape)`` and ``uniform(*shape)`` return (R, *shape)."""

    def normal(self, *shape: int) -> torch.Tensor: ...

    def uniform(self, *shape: int) -> torch.Tensor: ...


class NoGenerationSpace(TypeError):
    """A prior that is not the image of N(0, I) under a bijection (a mixture of several components) has no dpVAE
    generation space (paper Eq. 7)."""


class PriorDistribution(ABC):
    """p(z) of R runs as every loss uses it (S-IntroVAE's and dpVAE's): log-densities per component, reparameterised
    samples, a detached view (a fixed *target* whose density still passes gradients to z, but none to the prior) and,
    for priors that are a bijective image of N(0, I), the two maps of that bijection."""

    @property
    @abstractmethod
    def n_components(self) -> int: ...

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        """z (R, N, d) -> (R, N, K): log w_k + log p_k(z) (K = 1: log p(z)); responsibilities are its softmax."""

    @abstractmethod
    def sample_with_components(self, n: int, randomness: Randomness) -> tuple[torch.Tensor, torch.Tensor]:
        """n samples per run, (R, n, d), reparameterised in the prior's parameters, and their components (R, n)."""

    @abstractmethod
    def detach(self) -> "PriorDistribution": ...

    def soft_clipped(self, clip: nn.Module) -> "PriorDistribution":
        """The distribution with its log-variances soft-clipped; priors without log-variances are unchanged."""
        return self

    @property
    @abstractmethod
    def runs(self) -> int: ...

    def component_means(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Component means (R, K, d) and weights (R, K), for figures; K = 0 for a prior without components."""
        return torch.empty(self.runs, 0, self.dim), torch.empty(self.runs, 0)

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z), (R, N)."""
        return torch.logsumexp(self.log_joint(z), dim=-1)

    def sample(self, n: int, randomness: Randomness) -> torch.Tensor:
        return self.sample_with_components(n, randomness)[0]

    def to_generation_space(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """dpVAE's generation space (paper Eq. 7): for a prior that is the image of N(0, I) under a bijection,
        p(z) = N(g(z); 0, I) |det dg/dz|; returns z0 = g(z) (R, N, d) and log|det dg/dz| (R, N) for z (R, N, d).
        dpVAE's evaluation measures there (generation-space sKL, leakage score, z0 interpolations, density grids);
        a mixture of several components is no such image."""
        raise NoGenerationSpace(f"{type(self).__name__} has no generation space: dpVAE's evaluation needs a flow or a "
                                "one-component Gaussian prior")

    def from_generation_space(self, z0: torch.Tensor) -> torch.Tensor:
        """z = g^-1(z0), (R, N, d) -> (R, N, d): how dpVAE generates (paper Sec. 4.2), z0 ~ N(0, I)."""
        raise NoGenerationSpace(f"{type(self).__name__} has no generation space: dpVAE's evaluation needs a flow or a "
                                "one-component Gaussian prior")


@dataclass(frozen=True)
class MixtureParams(PriorDistribution):
    """Component means and log-variances (R, K, d) and log mixture weights (R, K) of R priors."""

    mu: torch.Tensor
    logvar: torch.Tensor
    log_weights: torch.Tensor

    @property
    def n_components(self) -> int:
        return self.mu.shape[1]

    @property
    def dim(self) -> int:
        return self.mu.shape[-1]

    @property
    def runs(self) -> int:
        return self.mu.shape[0]

    def detach(self) -> "MixtureParams":
        return MixtureParams(self.mu.detach(), self.logvar.detach(), self.log_weights.detach())

    def with_logvar(self, logvar: torch.Tensor) -> "MixtureParams":
        return MixtureParams(self.mu, logvar, self.log_weights)

    def component_means(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu, self.log_weights.exp()

    def soft_clipped(self, clip: nn.Module) -> "MixtureParams":
        return self.with_logvar(clip(self.logvar))

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(z; mu_k, diag exp(logvar_k)) for z (R, N, d); returns (R, N, K) in z's dtype.

        The quadratic form sum_j (z_j - mu_kj)^2 / var_kj is expanded into one batched matmul,
        [z^2, z] @ [1/var_k, -2 mu_k/var_k]^T + sum_j mu_kj^2/var_kj (with -1/2 and log w_k folded in), which avoids
        the (R, N, K, d) difference tensor. The expansion cancels catastrophically: its terms are ~ z^2/var while the
        result near a sharp component is ~ d. In float32 it lost 1.6-4.3 nats of log p(z) at d = 128, K = 100,
        log-variance -10 (z around N(0, 1) means), 16-50 nats in 2D at log-variance -18 and 400 with the means 3x
        farther out (vs the direct formula in float64). It is therefore evaluated in float64 (exact squares of
        float32 z, float64 accumulation: error ~ 1e-16 (2d + 1) sum_j (|z_j| + |mu_kj|)^2 / var_kj, 1e-5 nats in
        those cases) and rounded once to z's dtype: < 2e-5 nats there, and 0.5 ulp of the float32 result far from
        every component. Cost on a CPU (2 threads, the 2D and image MC-KL shapes): 1.2-1.6x the float32 matmul's
        forward, 1.15-1.25x forward + backward; the direct difference form was 4-13x slower and needs d times the
        output's memory. Memory: the float64 (R, N, K) block is built for chunks of N of at most
        ``LOG_JOINT_CHUNK_BYTES`` (1 GiB; one chunk except at 2D with R = 64 runs, two), so the transient is the
        output plus at most that much (and the float32 chunks, when there are several, until they are concatenated).
        Gradients reach z, mu, logvar and log_weights through the float64 graph.
        """
        mu, logvar = self.mu.double(), self.logvar.double()
        precision = torch.exp(-logvar)
        coefficients = torch.cat([precision, -2.0 * mu * precision], dim=-1).transpose(1, 2)
        offset = self.log_weights.double() - 0.5 * ((mu.square() * precision).sum(-1) + logvar.sum(-1)
                                                    + z.shape[-1] * LOG_2PI)
        offset = offset.unsqueeze(1)
        runs, n, _ = z.shape
        step = max(1, LOG_JOINT_CHUNK_BYTES // (8 * max(runs, 1) * max(self.n_components, 1)))
        chunks = []
        for start in range(0, max(n, 1), step):
            z64 = z[:, start:start + step].double()
            features = torch.cat([z64.square(), z64], dim=-1)
            chunks.append(torch.baddbmm(offset, features, coefficients, alpha=-0.5).to(z.dtype))
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)

    def _single_gaussian(self) -> None:
        if self.n_components != 1:
            raise NoGenerationSpace(f"a mixture of {self.n_components} Gaussians has no generation space")

    def to_generation_space(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One Gaussian is the affine image of N(0, I): g(z) = (z - mu) / sigma, log|det dg/dz| = -sum_j log sigma_j.
        For the standard Gaussian g is the identity, exactly (dpVAE's plain-VAE rows, paper Eq. 7 with g = id)."""
        self._single_gaussian()
        log_det = (-0.5 * self.logvar).sum(-1)  # (R, 1)
        return (z - self.mu) * torch.exp(-0.5 * self.logvar), log_det.expand(z.shape[:-1])

    def from_generation_space(self, z0: torch.Tensor) -> torch.Tensor:
        """g^-1(z0) = mu + sigma * z0 (exactly z0 for the standard Gaussian)."""
        self._single_gaussian()
        return self.mu + torch.exp(0.5 * self.logvar) * z0

    def sample_with_components(self, n: int, randomness: Randomness) -> tuple[torch.Tensor, torch.Tensor]:
        """Component by inverse CDF (not differentiable in the weights, like the authors' multinomial), then
        z = mu_k + sigma_k * eps (reparameterised in mu_k and logvar_k)."""
        weights = self.log_weights.detach().exp()
        cdf = weights.cumsum(-1)
        u = randomness.uniform(n) * cdf[:, -1:]
        index = torch.searchsorted(cdf, u.contiguous()).clamp_(0, self.n_components - 1)
        gather_index = index.unsqueeze(-1).expand(-1, -1, self.dim)
        mu = self.mu.gather(1, gather_index)
        logvar = self.logvar.gather(1, gather_index)
        return mu + torch.exp(0.5 * logvar) * randomness.normal(n, self.dim), index


class Prior(nn.Module, ABC):
    """A prior of R runs. ``encoder`` is passed because a VampPrior's components are encoder outputs."""

    @abstractmethod
    def distribution(self, encoder: nn.Module) -> PriorDistribution:
        """The prior's current distribution (log-variance clipping is applied by the model)."""

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def set_contribution_logits(self, runs: int, components: int, learnable: bool,
                                init: torch.Tensor | None = None) -> None:
        """``self.logits`` of a mixture: a learnable parameter with LC (learnable contributions, paper Sec. 3),
        otherwise a constant buffer (zeros: uniform weights), so that it moves with the module either way."""
        logits = torch.zeros(runs, components) if init is None else init.clone()
        if learnable:
            self.logits = nn.Parameter(logits)
        else:
            self.register_buffer("logits", logits)
        self.learnable_contributions = learnable
