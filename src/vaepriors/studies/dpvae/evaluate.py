"""Evaluate one trained dpVAE run: Table 1's metrics, Fig. 4's leakage curve and the arrays the figures draw.

Held-out set: the test split (two moons: the authors' validation draw; images: the standard test split). Its
posteriors define two distributions (``metrics.AggregatePosterior``):

- sampling q(z): a uniformly drawn held-out example and one reparameterised z (the authors' sKL and leakage samples);
- the density q(z) = (1/M) sum_m N(z; mu_m, sigma_m^2) over a FIXED reference set, the first
  ``reference_posteriors`` held-out examples (the authors: the first 5,000 validation images). Low-posterior
  rankings (FID(LP), figures) and the leakage score use this density; the authors' FID(LP) code scored candidates
  against one training batch with a broken density (reference §7), which is not reproduced.

Record (``evaluate_dpvae``):

- ``fid``, ``fid_lp`` (image data sets; None for two moons): standard-mode FID against the held-out images, of
  ``fid_images`` prior samples x(g^-1(z0)), z0 ~ N(0, I), and of the ``fid_images`` lowest-q(z) samples among
  ``lp_candidate_factor * fid_images`` prior candidates (paper §4.1 after Rosca et al. 2018).
- ``skl``: KL(p||q) + KL(q||p) by the 1-NN estimator in the representation space z (the paper's wording: prior
  samples g^-1(z0) against q(z) samples); ``skl_generation_space``: the same in z0-space (N(0, I) samples against
  g(z), the authors' code). KL is invariant under g, the finite-sample estimates are not; they coincide for N(0, I).
- ``nll_is``: importance-sampled -log p(x), nats per example, K = ``nll_samples`` draws from q(z|x), the Gaussian
  decoder the run was trained with (variance from the snapshot) and the model's prior (Jacobian included).
- ``batch_nelbo_paper``: what the paper's Table 1 calls "NLL (x10^3)": the mean over held-out batches (training batch
  size, last partial batch dropped) of the batch-summed negative ELBO (rec_weight * SSE + the authors' KL, which
  lacks -L/2 for a decoupled prior) / rec_weight / 1000. Not a likelihood; kept beside ``nll_is`` for comparison.
- ``leakage``: LS(tau) rows (``metrics.LeakageCurve``) for ``leakage_samples`` z ~ q(z).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaepriors.core.data.images import ImageData
from vaepriors.core.evaluation.fid import FeatureStatistics, extract_features, fid_features, \
    fid_from_statistics, quantise_images
from vaepriors.core.losses.gaussian import reparameterize
from vaepriors.core.losses.kl import has_closed_form_kl, kl_single_sample
from vaepriors.core.priors import PriorDistribution
from vaepriors.studies.dpvae.evaluation_config import DpVAEEvalConfig
from vaepriors.studies.dpvae.metrics import (
    AggregatePosterior, batch_negative_elbo_paper,
    gaussian_log_likelihood, importance_sampled_nll, leakage_curve, lowest_posterior_indices,
    standard_normal_log_prob, symmetric_kl_1nn,
)
from vaepriors.studies.dpvae.model import DpVAE
from vaepriors.studies.dpvae.moons import MoonsData
from vaepriors.studies.dpvae.trainer import as_model_input, load_dpvae, spawn_seeds

FID_MODE = "standard"
STREAMS = ("skl", "nll", "nelbo", "leakage", "fid", "fid_lp", "prior", "posterior")


# ----------------------------------------------------------------------------------------------------- data sets

@dataclass(frozen=True)
class EvalSplits:
    """A data set as the evaluation sees it: raw training and held-out tensors (uint8 images or float points),
    whether its samples are images (FID, uint8 artifacts) and, for point data, the training points and labels."""

    dataset: str
    train: torch.Tensor
    heldout: torch.Tensor
    images: bool
    train_labels: torch.Tensor


SPLITS: dict[type, Callable[[Any], EvalSplits]] = {
    MoonsData: lambda d: EvalSplits("moons", d.train, d.test, False, d.train_labels),
    ImageData: lambda d: EvalSplits(d.dataset, d.train_images, d.test_images, True, d.train_labels),
}


def eval_splits(data: MoonsData | ImageData, dataset: str) -> EvalSplits:
    """The splits of ``data`` (registered in ``SPLITS``), checked against the run's data set."""
    if type(data) not in SPLITS:
        raise TypeError(f"unsupported data {type(data).__name__}; expected one of {[t.__name__ for t in SPLITS]}")
    splits = SPLITS[type(data)](data)
    if splits.dataset != dataset:
        raise ValueError(f"the run was trained on {dataset!r} but the data are {splits.dataset!r}")
    return splits


# ------------------------------------------------------------------------------------------------ model helpers

@dataclass
class Evaluation:
    """One run's model, data and random streams (one per metric, so the metrics do not depend on each other)."""

    model: DpVAE
    splits: EvalSplits
    config: DpVAEEvalConfig
    device: torch.device
    generators: dict[str, torch.Generator]

    @torch.no_grad()
    def encode(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters mu, logvar (N, L) of raw data (N, ...), in batches."""
        outputs = [self.model.encode(as_model_input(chunk.to(self.device)))
                   for chunk in raw.split(self.config.batch_size)]
        return torch.cat([mu for mu, _ in outputs]), torch.cat([logvar for _, logvar in outputs])

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x_hat(z) for z (N, L), in batches: uint8 images (as the FID sees them) or float points, on the CPU."""
        decoded = torch.cat([self.model.decode(chunk) for chunk in z.split(self.config.batch_size)])
        return quantise_images(decoded).cpu() if self.splits.images else decoded.cpu()

    @property
    def prior(self) -> PriorDistribution:
        """The model's p(z), one run; its generation space (Eq. 7) is that of the flow, or N(0, I) itself (g = id)."""
        return self.model.prior_distribution()

    @torch.no_grad()
    def prior_samples(self, n: int, stream: str) -> tuple[torch.Tensor, torch.Tensor]:
        """z0 ~ N(0, I) and z = g^-1(z0), both (n, L)."""
        z0 = torch.randn(n, self.model.latent_dim, generator=self.generators[stream], device=self.device)
        return torch.cat([self.from_generation_space(chunk) for chunk in z0.split(self.config.batch_size)]), z0

    @torch.no_grad()
    def to_generation_space(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z0 = g(z) (N, L) and log|det dg/dz| (N,)."""
        z0, log_det = self.prior.to_generation_space(z.unsqueeze(0))
        return z0.squeeze(0), log_det.squeeze(0)

    @torch.no_grad()
    def from_generation_space(self, z0: torch.Tensor) -> torch.Tensor:
        """z = g^-1(z0) (N, L)."""
        return self.prior.from_generation_space(z0.unsqueeze(0)).squeeze(0)

    @torch.no_grad()
    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (N,), Jacobian included."""
        return self.prior.log_density(z.unsqueeze(0)).squeeze(0)

    def to_z0(self, z: torch.Tensor) -> torch.Tensor:
        """z0 = g(z) (N, L) alone: the h(z) of the leakage score."""
        return self.to_generation_space(z)[0]


def _generators(seed: int, device: torch.device) -> dict[str, torch.Generator]:
    """One seeded generator on ``device`` per stream of ``STREAMS``."""
    seeds = spawn_seeds(seed, len(STREAMS))
    return {name: torch.Generator(device=device).manual_seed(s) for name, s in zip(STREAMS, seeds)}


# --------------------------------------------------------------------------------------------------------- metrics

def skl_metrics(ev: Evaluation, sampler: AggregatePosterior) -> dict[str, float]:
    """sKL between p(z) and q(z) in z-space (``skl``) and z0-space (``skl_generation_space``)."""
    n = ev.config.skl_samples
    z_p, z0_p = ev.prior_samples(n, "skl")
    z_q = sampler.sample(n, ev.generators["skl"])
    return {"skl": symmetric_kl_1nn(z_p, z_q), "skl_generation_space": symmetric_kl_1nn(z0_p, ev.to_z0(z_q))}


def nll_metric(ev: Evaluation, variance: float) -> float:
    """Mean IS-NLL (nats per example) over the first ``nll_examples`` held-out examples."""
    heldout = ev.splits.heldout[:ev.config.nll_examples]
    values = [importance_sampled_nll(as_model_input(x.to(ev.device)),
                                     lambda x_, z: gaussian_log_likelihood(x_, ev.model.decode(z), variance),
                                     ev.log_prior, ev.model.encode, ev.config.nll_samples, ev.config.nll_chunk_size,
                                     ev.generators["nll"])
              for x in heldout.split(ev.config.nll_batch_size)]
    return float(torch.cat(values).mean())


def authors_kl(model: DpVAE, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The KL the authors' code logs, per example (N,), at z = mu + sigma * eps: the training KL
    (``losses.kl.kl_single_sample``), i.e. the closed form for N(0, I), and for the decoupled prior Eq. (24) with one
    sample plus the L/2 their code leaves in (it drops the -L/2 of -H[q]): 0.5 ||g(z)||^2 - log|det dg/dz|
    - 0.5 sum logvar."""
    prior = model.prior_distribution()
    z = reparameterize(mu, logvar, eps)
    kl = kl_single_sample(mu.unsqueeze(0), logvar.unsqueeze(0), z.unsqueeze(0), prior).squeeze(0)
    return kl if has_closed_form_kl(prior) else kl + 0.5 * mu.shape[-1]


@torch.no_grad()
def batch_nelbo_metric(ev: Evaluation, batch_size: int, rec_weight: float) -> float:
    """The paper's Table 1 "NLL (x10^3)" (``metrics.batch_negative_elbo_paper``) over held-out batches."""
    heldout = ev.splits.heldout
    usable = len(heldout) // batch_size * batch_size
    if usable == 0:
        return math.nan
    sse, kl = [], []
    for raw in heldout[:usable].split(batch_size):
        x = as_model_input(raw.to(ev.device))
        mu, logvar = ev.model.encode(x)
        eps = torch.randn(mu.shape, generator=ev.generators["nelbo"], device=ev.device)
        x_hat = ev.model.decode(mu + torch.exp(0.5 * logvar) * eps)
        sse.append((x - x_hat).square().sum())
        kl.append(authors_kl(ev.model, mu, logvar, eps).sum())
    return batch_negative_elbo_paper(torch.stack(sse), torch.stack(kl), rec_weight)


def leakage_metric(ev: Evaluation, sampler: AggregatePosterior, reference: AggregatePosterior):
    """LS(tau) of ``leakage_samples`` z ~ q(z), p(h(z)) = N(g(z); 0, I) (``metrics.leakage_curve``)."""
    z = sampler.sample(ev.config.leakage_samples, ev.generators["leakage"])
    return leakage_curve(z, reference, ev.to_z0, ev.config.leakage_taus)


def low_posterior_selection(ev: Evaluation, reference: AggregatePosterior, keep: int, stream: str) -> torch.Tensor:
    """z (keep, L) of the ``keep`` lowest-q(z) among ``lp_candidate_factor * keep`` prior candidates, in candidate
    (random) order."""
    candidates, _ = ev.prior_samples(ev.config.lp_candidate_factor * keep, stream)
    lowest = lowest_posterior_indices(reference, candidates, keep)
    return candidates[lowest.sort().values]


def fid_metrics(ev: Evaluation, reference: AggregatePosterior) -> dict[str, Any]:
    """FID of random and of low-posterior prior samples against the held-out images (standard mode)."""
    cfg = ev.config
    features = fid_features(cfg.fid_extractor, cfg.fid_weights)

    def statistics(images: torch.Tensor) -> FeatureStatistics:
        return FeatureStatistics.from_features(
            extract_features(images, features, FID_MODE, cfg.fid_batch_size, ev.device, cfg.seed))

    real = statistics(ev.splits.heldout)
    random = ev.decode(ev.prior_samples(cfg.fid_images, "fid")[0])
    low = ev.decode(low_posterior_selection(ev, reference, cfg.fid_images, "fid_lp"))
    return {"fid": fid_from_statistics(real, statistics(random)), "fid_lp": fid_from_statistics(real, statistics(low)),
            "fid_extractor": features.label, "fid_mode": FID_MODE, "fid_real_images": len(ev.splits.heldout)}


NO_FID = {"fid": None, "fid_lp": None, "fid_extractor": None, "fid_mode": None, "fid_real_images": None}


# ------------------------------------------------------------------------------------------------------- artifacts

Arrays = dict[str, np.ndarray]


def _numpy(**tensors: torch.Tensor) -> Arrays:
    return {name: value.detach().cpu().numpy() for name, value in tensors.items()}


@torch.no_grad()
def prior_artifacts(ev: Evaluation, reference: AggregatePosterior) -> Arrays:
    """Prior samples z = g^-1(z0) with log q(z), log p(z) (Jacobian included) and log N(z0; 0, I); the low-posterior
    set among them (the lowest-q 1/``lp_candidate_factor``, FID(LP)'s rule) as a mask; the top lowest-q samples
    decoded; decoded samples (all for point data, ``grid_images`` for images) and ``grid_images`` LP samples."""
    cfg = ev.config
    z, z0 = ev.prior_samples(cfg.figure_samples, "prior")
    log_q = reference.log_prob(z)
    lp_set = lowest_posterior_indices(reference, z, max(1, cfg.figure_samples // cfg.lp_candidate_factor))
    lp_mask = torch.zeros(len(z), dtype=torch.bool, device=z.device)
    lp_mask[lp_set] = True
    top = lp_set[:cfg.top_samples]
    shown = len(z) if not ev.splits.images else cfg.grid_images
    arrays = _numpy(prior_z=z, prior_z0=z0, prior_log_q=log_q, prior_log_p=ev.log_prior(z),
                    prior_log_p0=standard_normal_log_prob(z0), prior_lp_mask=lp_mask, low_posterior_z=z[top],
                    low_posterior_z0=z0[top])
    return {**arrays, **_numpy(prior_x=ev.decode(z[:shown]), lp_x=ev.decode(z[lp_mask][:cfg.grid_images]),
                               low_posterior_x=ev.decode(z[top]))}


@torch.no_grad()
def posterior_artifacts(ev: Evaluation, sampler: AggregatePosterior, reference: AggregatePosterior) -> Arrays:
    """Aggregate-posterior samples z ~ q(z) with g(z), log q(z) and log N(g(z); 0, I); the top high-posterior samples
    are those with the lowest log N(g(z); 0, I) (the p(h(z)) of the leakage score), decoded."""
    z = sampler.sample(ev.config.figure_samples, ev.generators["posterior"])
    z0 = ev.to_z0(z)
    log_p0 = standard_normal_log_prob(z0)
    top = torch.topk(log_p0, min(ev.config.top_samples, len(z)), largest=False).indices
    return {**_numpy(posterior_z=z, posterior_z0=z0, posterior_log_q=reference.log_prob(z), posterior_log_p0=log_p0,
                     high_posterior_z=z[top], high_posterior_z0=z0[top]),
            **_numpy(high_posterior_x=ev.decode(z[top]))}


@torch.no_grad()
def traversal_artifacts(ev: Evaluation, mu: torch.Tensor, posterior_z: torch.Tensor) -> Arrays:
    """Fig. 8: from the posterior mean of held-out example 0, vary one z dimension at a time by offsets in
    [-range, range] standard deviations of q(z) (dimensions by decreasing std), others fixed; decode.
    traversal_z (D, S, L), traversal_x (D, S, ...), traversal_reconstruction (1, ...)."""
    cfg = ev.config
    std = posterior_z.std(0)
    dims = torch.argsort(std, descending=True)[:cfg.traversal_dims]
    offsets = torch.linspace(-cfg.traversal_range, cfg.traversal_range, cfg.traversal_steps, device=mu.device)
    z = mu[0].repeat(len(dims), cfg.traversal_steps, 1)
    for row, dim in enumerate(dims):
        z[row, :, dim] = mu[0, dim] + offsets * std[dim]
    decoded = ev.decode(z.flatten(0, 1))
    return _numpy(traversal_dims=dims, traversal_offsets=offsets, traversal_std=std, traversal_z=z,
                  traversal_x=decoded.view(*z.shape[:2], *decoded.shape[1:]),
                  traversal_reconstruction=ev.decode(mu[:1]))


@torch.no_grad()
def interpolation_artifacts(ev: Evaluation, mu: torch.Tensor) -> Arrays:
    """Fig. 6: the straight line between g(mu_a) and g(mu_b) in the generation space, mapped to z by g^-1 (a straight
    line in z for N(0, I)); interpolation_z, interpolation_z0 (S, L) and the decoded path."""
    a, b = (index % len(mu) for index in ev.config.interpolation_pair)
    ends = ev.to_z0(mu[[a, b]])
    weights = torch.linspace(0.0, 1.0, ev.config.interpolation_steps, device=mu.device).unsqueeze(1)
    z0 = (1 - weights) * ends[0] + weights * ends[1]
    z = ev.from_generation_space(z0)
    return _numpy(interpolation_z=z, interpolation_z0=z0, interpolation_x=ev.decode(z))


def _half_width(points: torch.Tensor) -> float:
    """A square window holding every point (the figures mark the extreme ones), at least [-3, 3]."""
    return max(3.0, 1.05 * float(points.abs().max()))


@torch.no_grad()
def density_grid_artifacts(ev: Evaluation, reference: AggregatePosterior, prior: Arrays, posterior_: Arrays) -> Arrays:
    """L = 2 only: log q(z) and log p(z) on a grid of the representation space (grid_axis), and the aggregate
    posterior of the generation space, log q(z0) = log q(g^-1(z0)) - log|det dg/dz| (grid0_axis); (G, G) arrays,
    [i, j] at (axis[j], axis[i])."""
    both = torch.cat([torch.from_numpy(prior["prior_z"]), torch.from_numpy(posterior_["posterior_z"])])
    both0 = torch.cat([torch.from_numpy(prior["prior_z0"]), torch.from_numpy(posterior_["posterior_z0"])])
    axis = torch.linspace(-_half_width(both), _half_width(both), ev.config.density_grid, device=ev.device)
    axis0 = torch.linspace(-_half_width(both0), _half_width(both0), ev.config.density_grid, device=ev.device)
    z = torch.cartesian_prod(axis, axis).flip(-1)  # row i, column j -> (axis[j], axis[i])
    z0 = torch.cartesian_prod(axis0, axis0).flip(-1)
    z_of_z0 = ev.from_generation_space(z0)
    log_q0 = reference.log_prob(z_of_z0) - ev.to_generation_space(z_of_z0)[1]
    shape = (len(axis), len(axis))
    return _numpy(grid_axis=axis, grid_log_q=reference.log_prob(z).view(shape),
                  grid_log_p=ev.log_prior(z).view(shape), grid0_axis=axis0,
                  grid0_log_q=log_q0.view(shape))


# ---------------------------------------------------------------------------------------------------------- driver

NON_FINITE_POSTERIOR = "non-finite posterior on the held-out data"


def _identity(snapshot, snapshot_path: Path, finite_posterior: bool) -> dict[str, Any]:
    """Which run this is; ``diverged`` and its ``diverged_reason`` from the run's status.json when it lies beside the
    snapshot, or because its model gives a non-finite posterior (its metrics are then null, not an error)."""
    status_path = snapshot_path.with_name("status.json")
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    reason = status.get("reason") if status.get("diverged") else None
    if not finite_posterior:
        reason = "; ".join(filter(None, (reason, NON_FINITE_POSTERIOR)))
    cfg = snapshot.config
    return {"variant": cfg.variant, "dataset": cfg.dataset, "regulariser": cfg.regulariser, "prior": cfg.prior, "seed": cfg.seed,
            "latent_dim": cfg.latent_dim, "reduction": cfg.reduction, "rec_weight": cfg.rec_weight,
            "iteration": snapshot.iteration, "snapshot": str(snapshot_path),
            "diverged": reason is not None, "diverged_reason": reason, "likelihood": snapshot.likelihood}


def _leakage_arrays(curve) -> Arrays:
    return _numpy(leakage_tau=curve.taus, leakage_score=curve.score, leakage_in_region_mean=curve.in_region_mean,
                  leakage_fraction=curve.fraction_in_region)


def _artifacts(ev: Evaluation, sampler: AggregatePosterior, reference: AggregatePosterior, curve) -> Arrays:
    """Every array the figures draw (module docstring of ``reporting.dpvae_figures``)."""
    prior = prior_artifacts(ev, reference)
    posterior_ = posterior_artifacts(ev, sampler, reference)
    arrays = {**prior, **posterior_, **_leakage_arrays(curve),
              **traversal_artifacts(ev, sampler.mu, torch.from_numpy(posterior_["posterior_z"]).to(ev.device)),
              **interpolation_artifacts(ev, sampler.mu)}
    if ev.model.latent_dim == 2:
        arrays.update(density_grid_artifacts(ev, reference, prior, posterior_))
    if not ev.splits.images:
        arrays.update(_numpy(data_points=ev.splits.train, data_labels=ev.splits.train_labels))
    return arrays


def evaluate_dpvae(snapshot_path: str | Path, data: MoonsData | ImageData, config: DpVAEEvalConfig,
                   device: torch.device | str = "cpu") -> tuple[dict[str, Any], Arrays]:
    """Table 1's metrics and Fig. 4's leakage curve of one run's final.pt (module docstring), and the figures'
    arrays. ``data`` is the run's data set (its test split is the held-out set)."""
    snapshot_path, device = Path(snapshot_path), torch.device(device)
    snapshot = load_dpvae(snapshot_path, device)
    splits = eval_splits(data, snapshot.config.dataset)
    ev = Evaluation(snapshot.model, splits, config, device, _generators(config.seed, device))
    mu, logvar = ev.encode(splits.heldout)
    sampler = AggregatePosterior(mu, logvar)
    reference = AggregatePosterior(mu[:config.reference_posteriors], logvar[:config.reference_posteriors])
    curve = leakage_metric(ev, sampler, reference)
    finite = bool(torch.isfinite(mu).all() and torch.isfinite(logvar.exp()).all())  # an infinite variance too
    record = {**_identity(snapshot, snapshot_path, finite), **skl_metrics(ev, sampler),
              "nll_is": nll_metric(ev, snapshot.likelihood["variance"]),
              "batch_nelbo_paper": batch_nelbo_metric(ev, snapshot.config.batch_size, snapshot.config.rec_weight),
              "leakage": curve.rows(), **(fid_metrics(ev, reference) if splits.images else NO_FID),
              "heldout_examples": len(splits.heldout), "reference_posteriors": reference.n_components,
              "nll_examples": len(splits.heldout[:config.nll_examples]), "eval_config": asdict(config)}
    identity = {key: np.array(str(record[key])) for key in ("variant", "dataset", "regulariser", "prior", "seed")}
    return record, {**identity, **_artifacts(ev, sampler, reference, curve)}


def _json_safe(value: Any) -> Any:
    """NaN and infinities -> None (strict JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def write_dpvae_evaluation(record: dict[str, Any], artifacts: Arrays, out_json: str | Path,
                           out_npz: str | Path) -> None:
    """The record as sorted JSON (non-finite numbers as null) and the arrays as a compressed npz."""
    for path in (out_json, out_npz):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_npz, **artifacts)
    Path(out_json).write_text(json.dumps(_json_safe(record), indent=2, sort_keys=True) + "\n")
