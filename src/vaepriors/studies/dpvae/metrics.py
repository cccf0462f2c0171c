"""Generative metrics of the dpVAE paper (Bhalodia et al., ACCV 2020, §5 and Table 1 / Fig. 4), estimators only.

Correct definitions (reference `official-dpvae-code.md` §7 lists the authors' bugs):

- ``symmetric_kl_1nn``: sKL = KL(p||q) + KL(q||p) from samples, 1-nearest-neighbour estimator (Wang, Kulkarni &
  Verdu 2009; Perez-Cruz 2008), exact neighbours; 5,000 + 5,000 samples in the paper.
- ``AggregatePosterior``: q(z) = (1/M) sum_m N(z; mu_m, diag sigma_m^2) over M fixed held-out posteriors
  (log-sum-exp, chunked); ``lowest_posterior_indices`` ranks prior candidates for FID(LP) and the figures.
- ``leakage_curve``: LS(tau) of eq. (6) with correct Gaussian log-densities, for tau in {-90, -70, -50, -30, -10, -1}.
- ``importance_sampled_nll``: -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), nats per image.

Paper-compatible quantities (a reported number depends on them): ``LeakageCurve.in_region_mean`` (Fig. 4: the
authors average S over the in-region samples only, so empty regions are missing values) and
``batch_negative_elbo_paper`` (Table 1 "NLL (x10^3)": batch-summed negative ELBO / 1000, not an IS estimate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch.distributions import Independent, Normal

from vaepriors.studies.dpvae.evaluation_config import LEAKAGE_TAUS


LogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (N, ...), z (N, L)) -> (N,)
LogPrior = Callable[[torch.Tensor], torch.Tensor]  # z (N, L) -> (N,)
Encoder = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # x (B, ...) -> mu, logvar (B, L)
Flow = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # z (N, L) -> z0 = g(z), log|det dg/dz| (N,)


# ---------------------------------------------------------------------------------------------------- sKL (1-NN)

def kl_1nn(p_samples: torch.Tensor, q_samples: torch.Tensor) -> float:
    """KL(P||Q) from x ~ P (n, d) and y ~ Q (m, d), consistent 1-NN estimator:

        D = (d/n) sum_i log(nu_i / rho_i) + log(m / (n - 1)),

    rho_i = distance from x_i to its nearest other x, nu_i = distance from x_i to its nearest y (Euclidean, exact;
    the authors query cKDTree with eps=0.01, an approximate search). Raises on duplicate points (rho_i = 0); NaN
    when a sample is not finite (a diverged model: the evaluation records it instead of failing).
    """
    x, y = _as_numpy(p_samples), _as_numpy(q_samples)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    n, d = x.shape
    if n < 2 or y.shape[1] != d:
        raise ValueError(f"kl_1nn needs n >= 2 samples of P and the same dimension; got {x.shape}, {y.shape}")
    rho = cKDTree(x).query(x, k=2)[0][:, 1]
    nu = cKDTree(y).query(x, k=1)[0]
    if np.any(rho == 0.0) or np.any(nu == 0.0):
        raise ValueError("kl_1nn: duplicate points give a zero nearest-neighbour distance (log 0)")
    return float(d * np.mean(np.log(nu / rho)) + math.log(y.shape[0] / (n - 1)))


def symmetric_kl_1nn(p_samples: torch.Tensor, q_samples: torch.Tensor) -> float:
    """sKL = KL(p||q) + KL(q||p) (paper §5). For a dpVAE the authors compare z0 ~ N(0, I) with g(z), z ~ q(z); KL is
    invariant under the bijection g, so z-space (g^-1(z0) vs z) estimates the same quantity."""
    return kl_1nn(p_samples, q_samples) + kl_1nn(q_samples, p_samples)


def _as_numpy(samples: torch.Tensor) -> np.ndarray:
    array = samples.detach().cpu().double().numpy()
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"expected (n, d) samples, got shape {tuple(array.shape)}")
    return array


# ------------------------------------------------------------------------------------------- aggregate posterior

@dataclass(frozen=True)
class AggregatePosterior:
    """q(z) = (1/M) sum_m N(z; mu_m, diag exp(logvar_m)); ``mu`` and ``logvar`` are (M, L) encoder outputs of a fixed
    held-out set (the authors: the first 5,000 validation images; their LP code wrongly used one batch)."""

    mu: torch.Tensor
    logvar: torch.Tensor
    max_elements: int = 2**24  # bound on the (chunk, M, L) tensor built by ``log_prob``

    def __post_init__(self):
        if self.mu.ndim != 2 or self.mu.shape != self.logvar.shape:
            raise ValueError(f"mu and logvar must both be (M, L); got {tuple(self.mu.shape)}, "
                             f"{tuple(self.logvar.shape)}")

    @property
    def n_components(self) -> int:
        return self.mu.shape[0]

    def components(self) -> Independent:
        return Independent(Normal(self.mu, torch.exp(0.5 * self.logvar), validate_args=False), 1)

    @torch.no_grad()
    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z) = logsumexp_m log N(z; mu_m, sigma_m^2) - log M for z (N, L); returns (N,). Chunked over N so
        that each chunk's (rows, M, L) difference tensor stays below ``max_elements``."""
        components = self.components()
        rows = max(1, self.max_elements // (self.n_components * self.mu.shape[1]))
        chunks = [components.log_prob(chunk.unsqueeze(1)).logsumexp(dim=1) for chunk in z.split(rows)]
        return torch.cat(chunks) - math.log(self.n_components)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ q(z), (n, L): a uniformly drawn posterior m, then one reparameterised draw mu_m + sigma_m * eps (the
        authors' "random held-out image, one z")."""
        index = torch.randint(self.n_components, (n,), generator=generator, device=self.mu.device)
        eps = torch.randn(n, self.mu.shape[1], generator=generator, device=self.mu.device, dtype=self.mu.dtype)
        return self.mu[index] + torch.exp(0.5 * self.logvar[index]) * eps


def lowest_posterior_indices(aggregate: AggregatePosterior, candidates: torch.Tensor, n: int) -> torch.Tensor:
    """Indices (n,) of the n candidates (N, L) with the lowest q(z), lowest first (paper §4.1, after Rosca et al.
    2018). Candidates are prior samples in z-space: z ~ N(0, I), or z = g^-1(z0) with z0 ~ N(0, I) for a dpVAE."""
    return torch.topk(aggregate.log_prob(candidates), n, largest=False, sorted=True).indices


# --------------------------------------------------------------------------------------------------- leakage score

def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last axis: (N, L) -> (N,); NaN where z is (a diverged model), never raised."""
    return Normal(0.0, 1.0, validate_args=False).log_prob(z).sum(-1)


@dataclass(frozen=True)
class LeakageCurve:
    """LS over thresholds tau (T,), from samples z ~ q(z) with S_tau(z) = [log q(z) - log p(h(z))] 1{log p(h(z)) < tau}.

    ``score`` is the paper's definition E_q[S_tau] (divided by all samples, eq. 6); ``in_region_mean`` is what the
    authors' code and Fig. 4 report, E_q[S_tau | log p(h(z)) < tau] = score / fraction_in_region (NaN when no sample
    lies in the region: Fig. 4's missing values).
    """

    taus: torch.Tensor
    fraction_in_region: torch.Tensor
    score: torch.Tensor
    in_region_mean: torch.Tensor

    def rows(self) -> list[dict[str, float]]:
        """One record per tau, for tables and figures."""
        return [dict(tau=float(t), fraction_in_region=float(f), score=float(s), in_region_mean=float(m))
                for t, f, s, m in zip(self.taus, self.fraction_in_region, self.score, self.in_region_mean)]


def leakage_curve_from_log_densities(log_q: torch.Tensor, log_p_h: torch.Tensor,
                                     taus: tuple[float, ...] = LEAKAGE_TAUS) -> LeakageCurve:
    """LS(tau) from log q(z) and log p(h(z)) of N samples z ~ q(z), both (N,)."""
    tau = torch.tensor(taus, dtype=log_q.dtype, device=log_q.device)
    inside = (log_p_h.unsqueeze(0) < tau.unsqueeze(1)).to(log_q.dtype)  # (T, N)
    leakage = inside * (log_q - log_p_h).unsqueeze(0)
    count = inside.sum(1)
    in_region_mean = torch.where(count > 0, leakage.sum(1) / count.clamp_min(1), torch.full_like(count, math.nan))
    return LeakageCurve(tau, count / log_q.numel(), leakage.mean(1), in_region_mean)


def leakage_curve(z: torch.Tensor, aggregate: AggregatePosterior,
                  to_generation_space: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  taus: tuple[float, ...] = LEAKAGE_TAUS) -> LeakageCurve:
    """LS(tau) for z ~ q(z) (N, L) (paper eq. 6). p(h(z)) = N(h(z); 0, I) with h the identity for a plain VAE and
    h = g (z -> z0) for a dpVAE, with no Jacobian term, as eq. (6) and the authors' code define it; the region test
    uses the same log p(h(z))."""
    h = z if to_generation_space is None else to_generation_space(z)
    return leakage_curve_from_log_densities(aggregate.log_prob(z), standard_normal_log_prob(h), taus)


# --------------------------------------------------------------------------------------------------------- NLL

def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, variance: float = 0.5) -> torch.Tensor:
    """log N(x; mean, variance I) per image, (B, ...) -> (B,). variance = 1/2 makes -log p = SSE + (D/2) log(pi),
    the likelihood the authors' summed squared error implies (reference §2)."""
    squared = (x - mean).square().flatten(1).sum(1)
    dims = x[0].numel()
    return -0.5 * squared / variance - 0.5 * dims * math.log(2.0 * math.pi * variance)


def decoupled_prior_log_prob(z: torch.Tensor, flow: Flow) -> torch.Tensor:
    """log p(z) = log N(g(z); 0, I) + log|det dg/dz| for the decoupled prior; ``flow`` returns (g(z), log-det)."""
    z0, log_det = flow(z)
    return standard_normal_log_prob(z0) + log_det


@torch.no_grad()
def importance_sampled_nll(x: torch.Tensor, log_likelihood: LogLikelihood, log_prior: LogPrior, encode: Encoder,
                           num_samples: int = 1_000, chunk_size: int = 100,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """NLL(x) = -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x) (Rezende et al. 2014; the paper prints it
    without the minus sign), in nats per image: x (B, ...) -> (B,). K = ``num_samples`` (the paper says 21,000),
    drawn ``chunk_size`` at a time; the chunks' log-sum-exps are combined exactly."""
    mu, logvar = encode(x)
    chunks = [_chunk_log_sum_weights(x, mu, logvar, k, log_likelihood, log_prior, generator)
              for k in _chunk_sizes(num_samples, chunk_size)]
    return -(torch.stack(chunks).logsumexp(0) - math.log(num_samples))


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    return [min(chunk, total - start) for start in range(0, total, chunk)]


def _chunk_log_sum_weights(x, mu, logvar, k, log_likelihood, log_prior, generator) -> torch.Tensor:
    """logsumexp over k draws of log w = log p(x|z) + log p(z) - log q(z|x); (B,)."""
    batch, dim = mu.shape
    eps = torch.randn(k, batch, dim, generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, L)
    log_q = Independent(Normal(mu, torch.exp(0.5 * logvar), validate_args=False), 1).log_prob(z)  # (k, B)
    flat = z.reshape(k * batch, dim)
    repeated = x.repeat(k, *([1] * (x.ndim - 1)))  # row j * B + b is x_b, matching ``flat``
    log_joint = (log_likelihood(repeated, flat) + log_prior(flat)).view(k, batch)
    return (log_joint - log_q).logsumexp(0)


def batch_negative_elbo_paper(batch_sse: torch.Tensor, batch_kl: torch.Tensor, mse_weight: float = 1.0) -> float:
    """The authors' Table 1 "NLL (x10^3)": mean over validation batches of the batch-summed negative ELBO
    (mse_weight * SSE_b + KL_b), divided by mse_weight and by 1000. ``batch_sse`` and ``batch_kl`` are (n_batches,)
    sums over each batch (their KL omits the -L/2 constant). Not a likelihood and not per image."""
    return float(((mse_weight * batch_sse + batch_kl) / mse_weight).mean() / 1000.0)
