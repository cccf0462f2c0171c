"""beta-TCVAE (Chen et al. 2018; paper Eqs. 30-31): the KL split into index-code MI, total correlation and
dimension-wise KL, each estimated on the minibatch.

    loss = rec + alpha * MI + beta * TC + gamma * DW     (Eq. 30: alpha -> MI, beta -> TC, gamma -> DW;
                                                          Table 2: alpha = 1, beta = 4, gamma = 15)
    MI = mean_i [log q(z_i|x_i) - log q(z_i)]
    TC = mean_i [log q(z_i) - sum_l log q(z_il)]
    DW = mean_i [sum_l log q(z_il) - log p(z_i)]

with log q(z_i) = logsumexp_j [log W_ij + log q(z_i|x_j)] and log q(z_il) = logsumexp_j [log W_ij + log q(z_il|x_j)]
for a B x B weight matrix W chosen by ``sampling`` (``SAMPLING``, one ``SamplingScheme`` per name). A scheme declares
its log weights and how they enter the joint:

* ``mws``: minibatch-weighted sampling, W_ij = 1/(N B), log W added once.
* ``mss``: the corrected minibatch stratified sampling: the intended weights (every row sums to 1), log W added once,
  so log q(z_i) and log q(z_il) are the unbiased stratified estimates.
* ``mss_authors``: the paper-compatible variant, exactly the estimator of the authors' code (reference §8:
  YannDubs/disentangling-vae ``_get_log_pz_qz_prodzi_qzCx``, copied by the dpVAE code, with the weight matrix of
  ``log_importance_weight_matrix``). Two quirks are reproduced. (1) The strided fill has stride B instead of B + 1,
  so 1/N lands in column 0 and the stratum weight in column 1 (``mss_authors_log_weights``). (2) log W is added to
  the (B, B, L) matrix of per-dimension log-densities before it is summed over l, so the joint is
  log q(z_i) = logsumexp_j [L log W_ij + log q(z_i|x_j)], i.e. W_ij^L instead of W_ij; the marginals get log W once.
  It is the variant to compare with the paper's results, which the authors' code produced; ``mss`` is the
  corrected variant, the decomposition of Eqs. 30-31 estimated with MSS as Chen et al. define it.

For every scheme, L log W included, MI + TC + DW = log q(z_i|x_i) - log p(z_i) per sample: the joint log q(z_i)
cancels between MI and TC and the marginals between TC and DW, so the sum is the single-sample KL estimate and only
the split between the three terms (and hence the weighted loss's gradient) depends on the scheme.

log p(z) is the prior's log-density, so for a decoupled prior it includes log|det dg/dz| (exact maths, Eq. 7). A
flow prior is not factorised, so DW is then E_q(z)[log prod_l q(z_l) - log p(z)] = KL(q(z) || p(z)) - TC, not a sum of
per-dimension KLs; it reduces to sum_l KL(q(z_l) || p(z_l)) for the standard Gaussian. This is what the paper's
Eq. (31), "KL[q(z_j) || p(g^-1(z0j))]", can consistently mean. The authors' code uses log N(g(z); 0, I) without the
Jacobian; to reproduce that, pass the flow's ``FlowDistribution.without_log_det()`` view, whose log-density is
log N(g(z); 0, I) (the trainer's ``tc_prior_without_log_det``; the logged KL then lacks the Jacobian term too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from vaepriors.core.losses.kl import posterior
from vaepriors.core.losses.regularisers.base import LatentBatch, Regulariser, Terms, register
from vaepriors.core.priors import PriorDistribution, Randomness


def mws_log_weights(batch_size: int, dataset_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Minibatch-weighted sampling: W_ij = 1 / (N B) for all i, j; (B, B) log weights. Every log-weight function
    computes in float64 and returns ``dtype`` (default: torch's default dtype).

    The weights sum to 1/N, not 1: with a well-mixed batch every log-density is underestimated by about log N, so
    MI reads about log N high, TC (L - 1) log N high and DW L log N low (the sum is unaffected). Gradients are not.
    """
    return torch.full((batch_size, batch_size), -math.log(batch_size * dataset_size), dtype=_dtype(dtype))


def _dtype(dtype: torch.dtype | None) -> torch.dtype:
    return torch.get_default_dtype() if dtype is None else dtype


def _stratified_weights(batch_size: int, dataset_size: int) -> tuple[torch.Tensor, float, float]:
    """A (B, B) matrix filled with 1/M, and the own weight 1/N and stratum weight (N - M)/(N M), M = B - 1."""
    m = batch_size - 1
    if m < 1 or dataset_size < batch_size:
        raise ValueError(f"stratified sampling needs 2 <= batch size <= dataset size, got {batch_size}, "
                         f"{dataset_size}")
    weights = torch.full((batch_size, batch_size), 1.0 / m, dtype=torch.float64)
    return weights, 1.0 / dataset_size, (dataset_size - m) / (dataset_size * m)


def mss_log_weights(batch_size: int, dataset_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Minibatch stratified sampling with the intended weights: for row i, W_ii = 1/N (the sample's own posterior),
    W_i,(i+1 mod B) = (N - M)/(N M) (the sample standing for the N - M points outside the batch), 1/M elsewhere.
    Every row sums to 1 and q(z_i) is estimated without bias."""
    weights, own, stratum = _stratified_weights(batch_size, dataset_size)
    rows = torch.arange(batch_size)
    weights[rows, (rows + 1) % batch_size] = stratum
    weights[rows, rows] = own
    return weights.log().to(_dtype(dtype))


def mss_authors_log_weights(batch_size: int, dataset_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The weights of the paper-compatible ``mss_authors`` scheme: the matrix that rtqichen/beta-tcvae,
    YannDubs/disentangling-vae and the dpVAE code build. Their strided fills have stride B instead of B + 1, so
    1/N lands in column 0 and the stratum weight in column 1 of every row (plus W[B-2, 0]); the own posterior of
    rows i >= 2 keeps weight 1/M."""
    weights, own, stratum = _stratified_weights(batch_size, dataset_size)
    weights[:, 0] = own
    weights[:, 1] = stratum
    weights[batch_size - 2, 0] = stratum
    return weights.log().to(_dtype(dtype))


@dataclass(frozen=True)
class SamplingScheme:
    """How the minibatch estimates log q(z) and log q(z_l): ``log_weights(B, N, dtype)`` gives log W (B, B); with
    ``joint_log_weight_per_dim`` the joint adds log W once per latent dimension (L log W, the authors' quirk, module
    docstring) instead of once. Calling the scheme gives its log weights."""

    log_weights: Callable[[int, int, torch.dtype | None], torch.Tensor]
    joint_log_weight_per_dim: bool = False

    def __call__(self, batch_size: int, dataset_size: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        return self.log_weights(batch_size, dataset_size, dtype)

    def decompose(self, batch: LatentBatch, log_prior: torch.Tensor, dataset_size: int) -> Terms:
        """``tc_decomposition`` of the batch under this scheme (B = batch.z.shape[-2], N = dataset_size)."""
        return tc_decomposition(batch, log_prior, self(batch.z.shape[-2], dataset_size, batch.z.dtype),
                                joint_log_weight_per_dim=self.joint_log_weight_per_dim)


SAMPLING: dict[str, SamplingScheme] = {
    "mws": SamplingScheme(mws_log_weights),
    "mss": SamplingScheme(mss_log_weights),  # corrected
    "mss_authors": SamplingScheme(mss_authors_log_weights, joint_log_weight_per_dim=True),  # paper-compatible
}


def tc_decomposition(batch: LatentBatch, log_prior: torch.Tensor, log_weights: torch.Tensor, *,
                     joint_log_weight_per_dim: bool = False) -> Terms:
    """Per-sample MI, TC and DW (..., N) from the posterior batch (mu, logvar, z (..., N, L), e.g. a run axis),
    log p(z) (..., N) and log W (N, N) (module docstring); ``joint_log_weight_per_dim`` puts L log W in the joint."""
    # log q(z_il | x_j) at [..., i, j, l]: every sample under every posterior of the batch
    pairwise = posterior(batch.mu.unsqueeze(-3), batch.logvar.unsqueeze(-3)).log_prob(batch.z.unsqueeze(-2))
    log_w = log_weights.to(pairwise)
    joint_log_w = log_w * pairwise.shape[-1] if joint_log_weight_per_dim else log_w
    log_q_joint = torch.logsumexp(joint_log_w + pairwise.sum(-1), dim=-1)
    log_q_marginals = torch.logsumexp(log_w.unsqueeze(-1) + pairwise, dim=-2).sum(-1)
    log_q_own = pairwise.diagonal(dim1=-3, dim2=-2).sum(-2)
    return {"mi": log_q_own - log_q_joint, "tc": log_q_joint - log_q_marginals,
            "dw_kl": log_q_marginals - log_prior}


@register
@dataclass(kw_only=True, eq=False)
class BetaTCVAE(Regulariser):
    """loss = rec + alpha * MI + beta * TC + gamma * DW; ``dataset_size`` is N, the training-set size."""

    name: ClassVar[str] = "beta_tc"
    dataset_size: int
    alpha: float = 1.0
    beta: float = 4.0
    gamma: float = 15.0
    sampling: str = "mws"

    def __post_init__(self):
        super().__post_init__()
        if self.sampling not in SAMPLING:
            raise ValueError(f"unknown beta-TCVAE sampling {self.sampling!r}; known: {', '.join(sorted(SAMPLING))}")

    def penalty(self, batch: LatentBatch, step: int, prior: PriorDistribution,
                randomness: Randomness) -> tuple[torch.Tensor, Terms]:
        scheme = SAMPLING[self.sampling]
        terms = {name: value.mean(-1) for name, value in
                 scheme.decompose(batch, prior.log_density(batch.z), self.dataset_size).items()}
        return self.alpha * terms["mi"] + self.beta * terms["tc"] + self.gamma * terms["dw_kl"], terms
