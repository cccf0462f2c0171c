"""Evaluate one image run (reference §10; output files of docs/images.md).

1. FID(GEN) of every snapshot against the reference training images, in both FID modes; the checkpoint is then the
   snapshot with the lowest ``selection_fid`` (the paper's policy) or the final model.
2. On that checkpoint: FID(REC) (stochastic reconstructions of a shuffled training pass), precision/recall (paper-mode
   features), a one-epoch BatchNorm refresh, then in eval mode the probes (one z sample as the paper, and the
   posterior mean) and the normalised entropy of the batch-aggregated responsibilities on the test set.

As in the authors' code the VAE generates and reconstructs in train mode (batch-statistics BatchNorm, batches of the
training batch size) for every FID; the two FID modes differ only in the feature extractor's BatchNorm
(``vaepriors.core.evaluation.fid``), so ``fid_*_standard`` is the authors' never-reported ``fid_inception_eval``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vaepriors.core.evaluation.fid import FeatureStatistics, extract_features, fid_features, fid_from_statistics, \
    quantise_images
from vaepriors.core.evaluation.precision_recall import precision_recall
from vaepriors.core.evaluation.probes import probe_accuracies
from vaepriors.core.losses.gaussian import reparameterize
from vaepriors.core.losses.kl import kl_monte_carlo
from vaepriors.core.losses.responsibility import normalised_negative_entropy
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.vae import StackedVAE
from vaepriors.studies.images.checkpoint import ImageModelSnapshot, load_snapshot
from vaepriors.studies.images.evaluation_config import ImageEvalConfig

log = logging.getLogger(__name__)
FID_MODES = ("standard", "paper")
FINAL = "final.pt"


def _batches(count: int, size: int):
    return [(start, min(size, count - start)) for start in range(0, count, size)]


@torch.no_grad()
def generate(model: StackedVAE, count: int, batch_size: int, rnd: RunRandomness) -> tuple[torch.Tensor, torch.Tensor]:
    """Prior samples decoded in the model's current mode: uint8 images (count, C, H, W) and their components."""
    prior = model.prior_params()
    images, components = [], []
    for _, size in _batches(count, batch_size):
        z, component = prior.sample_with_components(size, rnd)
        images.append(quantise_images(model.decode(z)[0]).cpu())
        components.append(component[0].cpu())
    return torch.cat(images), torch.cat(components)


@torch.no_grad()
def reconstruct(model: StackedVAE, images: torch.Tensor, batch_size: int, rnd: RunRandomness,
                stochastic: bool = True) -> torch.Tensor:
    """uint8 reconstructions through z ~ q(z|x) (``stochastic``, the authors' FID(REC)) or z = mu."""
    out = []
    for start, size in _batches(len(images), batch_size):
        x = images[start:start + size].to(rnd.device).float().div(255).unsqueeze(0)
        mu, logvar = model.encode(x)
        z = reparameterize(mu, logvar, rnd.normal(size, mu.shape[-1])) if stochastic else mu
        out.append(quantise_images(model.decode(z)[0]).cpu())
    return torch.cat(out)


@torch.no_grad()
def encode_dataset(model: StackedVAE, images: torch.Tensor, batch_size: int, rnd: RunRandomness):
    """Posterior means and one posterior sample per image, (N, z) each, on the CPU."""
    mus, samples = [], []
    for start, size in _batches(len(images), batch_size):
        mu, logvar = model.encode(images[start:start + size].to(rnd.device).float().div(255).unsqueeze(0))
        mus.append(mu[0].cpu())
        samples.append(reparameterize(mu, logvar, rnd.normal(size, mu.shape[-1]))[0].cpu())
    return torch.cat(mus), torch.cat(samples)


@torch.no_grad()
def responsibility_entropy(model: StackedVAE, images: torch.Tensor, batch_size: int, mc_samples: int,
                           rnd: RunRandomness) -> tuple[float, torch.Tensor]:
    """Batch-size-weighted mean over test batches of the normalised entropy of the batch-mean responsibilities
    (reference §10.2 step 7), and the mean responsibility of every component over the whole set."""
    prior = model.prior_params()
    weighted, total = 0.0, torch.zeros(prior.n_components)
    for start, size in _batches(len(images), batch_size):
        mu, logvar = model.encode(images[start:start + size].to(rnd.device).float().div(255).unsqueeze(0))
        eps = rnd.normal(size, mc_samples, mu.shape[-1])
        mean_resp = kl_monte_carlo(mu, logvar, prior, eps, responsibilities=True).mean_responsibility
        weighted += -normalised_negative_entropy(mean_resp).item() * size
        total += mean_resp[0].cpu() * size
    return weighted / len(images), total / len(images)


@torch.no_grad()
def refresh_batch_norm(model: StackedVAE, images: torch.Tensor, batch_size: int, device: torch.device) -> None:
    """One train-mode forward pass over the training set, so eval-mode BatchNorm uses real-data statistics."""
    model.train()
    for start, size in _batches(len(images), batch_size):
        model.encode(images[start:start + size].to(device).float().div(255).unsqueeze(0))


class ImageEvaluator:
    """Evaluates runs of one dataset (``evaluate(run_dir)``, e.g. every run of a stack); the FID reference features
    of the training images are extracted once and shared by all of them."""

    def __init__(self, config: ImageEvalConfig, train: tuple[torch.Tensor, torch.Tensor],
                 test: tuple[torch.Tensor, torch.Tensor], device: torch.device | str = "cpu"):
        self.config, self.device = config, torch.device(device)
        self.train_images, self.train_labels = train
        self.test_images, self.test_labels = test
        self.features = fid_features(config.fid_extractor, config.fid_weights)
        self.reference = self._shuffled_train(config.seed)
        self.to_reconstruct = self._shuffled_train(config.seed + 1)  # "a different shuffled pass" (reference §10.2)
        self._real_features: dict[int, dict[str, torch.Tensor]] = {}
        self.run_dir, self.status, self.final_config = Path(), {}, None

    def _shuffled_train(self, seed: int) -> torch.Tensor:
        """The first ``fid_images`` training images of a seeded shuffle, as the authors' shuffled loader gives."""
        order = torch.randperm(len(self.train_images), generator=torch.Generator().manual_seed(seed))
        return self.train_images[order[:self.config.fid_images]]

    def _rnd(self) -> RunRandomness:
        return RunRandomness([self.config.seed], self.device)

    def _load(self, name: str) -> ImageModelSnapshot:
        """A model file of the current run; a snapshot of another configuration (left over from an earlier run in
        the same directory) is refused with the file named."""
        snapshot = load_snapshot(self.run_dir / name, self.device)
        if self.final_config is not None and snapshot.config != self.final_config:
            raise ValueError(f"{self.run_dir / name} was written by another configuration than this run's final.pt; "
                             "remove the run directory and train the run again")
        snapshot.model.train()
        return snapshot

    def _reference_features(self, batch_size: int) -> dict[str, torch.Tensor]:
        if batch_size not in self._real_features:
            self._real_features[batch_size] = {mode: self._features(self.reference, mode, batch_size)
                                               for mode in FID_MODES}
        return self._real_features[batch_size]

    def _features(self, images: torch.Tensor, mode: str, batch_size: int) -> torch.Tensor:
        return extract_features(images, self.features, mode, batch_size, self.device, self.config.seed)

    def _fids(self, images: torch.Tensor, reference: dict, batch_size: int, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{mode}": fid_from_statistics(reference[mode], FeatureStatistics.from_features(
            self._features(images, mode, batch_size))) for mode in FID_MODES}

    def evaluate(self, run_dir: str | Path) -> tuple[dict, pd.DataFrame, dict[str, np.ndarray]]:
        """The record, FID history and figure latents of the run in ``run_dir``."""
        cfg = self.config
        self.run_dir, self.final_config = Path(run_dir), None
        self.status = json.loads((self.run_dir / "status.json").read_text())
        final = self._load(FINAL)
        self.final_config = final.config
        batch = final.config.batch_size
        real_features = self._reference_features(batch)
        reference = {mode: FeatureStatistics.from_features(f) for mode, f in real_features.items()}
        history, fake_features = self._fid_history(reference, batch)
        name, epoch = self._select(history)
        log.info("checkpoint %s (epoch %d) by policy %s", name, epoch, cfg.checkpoint_policy)
        model, record = self._load(name).model, self._identity(final, name, epoch)
        record.update(history.loc[history["file"] == name, ["fid_gen_standard", "fid_gen_paper"]].iloc[0].to_dict())
        record.update(self._fids(reconstruct(model, self.to_reconstruct, batch, self._rnd()), reference, batch,
                                 "fid_rec"))
        pr = precision_recall(real_features["paper"], fake_features[name], device=self.device)
        record.update(precision=pr.precision, recall=pr.recall)
        refresh_batch_norm(model, self.train_images, batch, self.device)
        model.eval()
        record.update(self._probes(model, batch))
        entropy, mean_resp = responsibility_entropy(model, self.test_images, batch, cfg.entropy_mc_samples, self._rnd())
        record["entropy"] = entropy
        return record, history, self._latents(model, mean_resp, batch)

    def _fid_history(self, reference: dict, batch_size: int) -> tuple[pd.DataFrame, dict[str, torch.Tensor]]:
        """FID(GEN) of every snapshot and of the final model. Also returns the paper-mode features of the generated
        images of every model ``_select`` can still choose (the final model and the best snapshot so far), so that
        precision/recall reuse them instead of generating and extracting them again."""
        rows, kept, best = [], {}, math.inf
        files = [f"snapshots/epoch{e:03d}.pt" for e in self.status["snapshots"]] + [FINAL]
        for name in files:
            snapshot = self._load(name)
            fake, _ = generate(snapshot.model, len(self.reference), batch_size, self._rnd())
            features = {mode: self._features(fake, mode, batch_size) for mode in FID_MODES}
            fids = {f"fid_gen_{mode}": fid_from_statistics(reference[mode], FeatureStatistics.from_features(f))
                    for mode, f in features.items()}
            rows.append({"epoch": snapshot.epoch, "file": name, **fids})
            log.info("%s: %s", name, fids)
            if name == FINAL or fids[self.config.selection_fid] < best:  # NaN never wins, as in _select
                if name != FINAL:
                    best, kept = fids[self.config.selection_fid], {}
                kept[name] = features["paper"]
        return pd.DataFrame(rows), kept

    def _select(self, history: pd.DataFrame) -> tuple[str, int]:
        """Lowest ``selection_fid`` among the snapshots (paper), or the final model (also when no snapshot is
        finite, e.g. a run that diverged before its first measurement)."""
        candidates = history[history["file"] != FINAL]
        candidates = candidates[np.isfinite(candidates[self.config.selection_fid])]
        if self.config.checkpoint_policy == "final" or candidates.empty:
            row = history[history["file"] == FINAL].iloc[0]
        else:
            row = candidates.loc[candidates[self.config.selection_fid].idxmin()]
        return row["file"], int(row["epoch"])

    def _identity(self, final: ImageModelSnapshot, name: str, epoch: int) -> dict:
        cfg = final.config
        return {"dataset": cfg.dataset, "configuration": cfg.configuration, "r_entropy": cfg.r_entropy,
                "seed": cfg.seed, "checkpoint_policy": self.config.checkpoint_policy, "selected_file": name,
                "selected_epoch": epoch, "diverged": bool(self.status["diverged"]),
                "diverged_at_epoch": self.status["diverged_at_epoch"], "diverged_reason": self.status["reason"],
                "fid_extractor": self.features.label,
                "fid_images": len(self.reference), "evaluation": asdict(self.config)}

    def _probes(self, model: StackedVAE, batch_size: int) -> dict[str, float]:
        train_mu, train_z = encode_dataset(model, self.train_images, batch_size, self._rnd())
        test_mu, test_z = encode_dataset(model, self.test_images, batch_size, self._rnd())
        args = dict(max_train=self.config.probe_max_train, seed=self.config.seed)
        sampled = probe_accuracies(train_z.numpy(), self.train_labels.numpy(), test_z.numpy(),
                                   self.test_labels.numpy(), **args)
        means = probe_accuracies(train_mu.numpy(), self.train_labels.numpy(), test_mu.numpy(),
                                 self.test_labels.numpy(), **args)
        return {**sampled, **{f"{key}_mean": value for key, value in means.items()}}

    def _latents(self, model: StackedVAE, mean_resp: torch.Tensor, batch_size: int) -> dict[str, np.ndarray]:
        cfg, n = self.config, min(self.config.latent_points, len(self.test_images))
        mu, z = encode_dataset(model, self.test_images[:n], batch_size, self._rnd())
        prior_mu, prior_weight = model.prior_params().detach().component_means()
        samples, components = generate(model, cfg.figure_samples, batch_size, self._rnd())
        originals = self.test_images[:cfg.figure_samples]
        reconstructions = reconstruct(model, originals, batch_size, self._rnd(), stochastic=False)
        return {"mu": mu.numpy(), "z": z.numpy(), "labels": self.test_labels[:n].numpy(),
                "prior_mu": prior_mu[0].cpu().numpy(), "prior_weight": prior_weight[0].cpu().numpy(),
                "mean_responsibility": mean_resp.numpy(), "samples": samples.float().div(255).numpy(),
                "sample_component": components.numpy(), "originals": originals.float().div(255).numpy(),
                "reconstructions": reconstructions.float().div(255).numpy()}


def write_evaluation(record: dict, history: pd.DataFrame, latents: dict[str, np.ndarray], out_json: str | Path,
                     out_history: str | Path, out_latents: str | Path) -> None:
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    history.to_csv(out_history, index=False)
    np.savez_compressed(out_latents, **latents)
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    Path(out_json).write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
