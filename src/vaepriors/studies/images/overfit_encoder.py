"""Proposition 2 in practice (paper App. B.3, Fig. 5): overfit the encoder of a trained S-IntroVAE.

The decoder and the prior of a snapshot are frozen, which fixes the generated distribution; only the encoder is
trained, with the S-IntroVAE encoder objective of the proposition,

    L_E = s (beta_rec RE(x) + beta_kl KL(x)) + (1/alpha) exp(-alpha s (beta_rec RE(x_f) + beta_neg KL(x_f))),

x ~ p_data^syn, x_f ~ p_d^syn, one image of each per step (batch size 1: with batch-statistics BatchNorm a larger batch
would leak information between images inside and outside the real support, paper App. B.3). Both synthetic
distributions are built from the same n study images (the paper: one image per class, n = 10), as probability
vectors over them (`CONFIGURATIONS`):

    (i)   real = generated = uniform over the n images;
    (ii)  real = the single image k only; generated = uniform over the n images (k is n times likelier under real,
          the other n - 1 images lie outside the real support);
    (iii) (ii) with real and generated swapped.

What Proposition 2 predicts here: per image, with beta_rec = beta_kl = beta_neg = 1, the encoder maximises
-s p_real N - (p_fake / alpha) exp(-alpha s N) in the image's NELBO N, stationary at N* = ln(p_fake / p_real) /
(alpha s) - eq. 43's middle case, -s N* = (1/alpha) ln(p_real / p_fake), in the objective's scaled units. It is the
optimum where it lies above the VAE optimum (p_fake > p_real > 0); N* = +inf outside the real support; elsewhere the
encoder is VAE-like (`predicted_nelbo`).

Choices where the paper is silent, documented here:
* the reconstruction exp-ELBO term of training S-IntroVAE is left out: the generated distribution of the proposition
  is the fixed set, and reconstructions would add a second generated distribution that moves with the encoder;
  the single exp-ELBO term keeps the proposition's weight 1/alpha (training uses 1/(2 alpha) per term, two terms);
* the responsibility-entropy term is left out (the proposition has none; with one image per batch the aggregate
  responsibility is that of a single posterior);
* the networks stay in train mode, as the authors train, sample and measure FID: BatchNorm uses the statistics of
  the one image. The decoder's running averages (which train mode never reads) are restored after the study, so the
  frozen decoder stays bit-identical;
* REC, KL and NELBO = REC + KL are tracked in the training loss's units (squared error summed over pixels, MC KL
  with the snapshot's sample count, beta = 1, no scale s) on one reparameterised sample with the same noise at every
  evaluation (common random numbers, so curves show the encoder's change, not sampling noise).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from vaepriors.core.losses.kl import MonteCarloKL
from vaepriors.core.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.core.priors import VampPrior
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.training.players import update
from vaepriors.core.vae import StackedVAE
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.overfit_encoder_config import (CONFIGURATION_NAMES, PANEL_KINDS, OverfitEncoderConfig,
                                                            panel_key)
from vaepriors.studies.images.trainer import stream_seeds

log = logging.getLogger(__name__)

COLUMNS = ("configuration", "beta_neg", "iteration", "set", "image", "p_real", "p_fake", "rec", "kl", "nelbo",
           "nelbo_prediction")


@dataclass(frozen=True)
class SyntheticDistributions:
    """p_data^syn and p_d^syn as probability vectors (n,) over the study images."""

    real: torch.Tensor
    fake: torch.Tensor

    def support(self, which: str) -> torch.Tensor:
        """Indices of the images with positive probability under ``which`` ('real' or 'fake')."""
        return torch.nonzero(getattr(self, which) > 0).flatten()


def _uniform(n: int) -> torch.Tensor:
    return torch.full((n,), 1.0 / n)


def _single(n: int, k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(k), n).float()


CONFIGURATIONS: dict[str, Callable[[int, int], SyntheticDistributions]] = dict(zip(CONFIGURATION_NAMES, (
    lambda n, k: SyntheticDistributions(_uniform(n), _uniform(n)),     # (i)
    lambda n, k: SyntheticDistributions(_single(n, k), _uniform(n)),   # (ii)
    lambda n, k: SyntheticDistributions(_uniform(n), _single(n, k)),   # (iii)
), strict=True))


def synthetic_distributions(configuration: str, n_images: int, single_image: int) -> SyntheticDistributions:
    if configuration not in CONFIGURATIONS:
        raise ValueError(f"unknown configuration {configuration!r}; choose from {sorted(CONFIGURATIONS)}")
    if not 0 <= single_image < n_images:
        raise ValueError(f"single_image {single_image} is not one of the {n_images} study images")
    return CONFIGURATIONS[configuration](n_images, single_image)


@dataclass
class OverfitEncoderStudy:
    """``frame``: one row per (configuration, beta_neg, evaluation iteration, set, image in that set's support), the
    columns `COLUMNS`; ``panels``: float32 (n, C, H, W) images in [0, 1] under `panel_key` (`PANEL_KINDS`)."""

    frame: pd.DataFrame
    panels: dict[str, np.ndarray]

    def save(self, csv_path: str | Path, npz_path: str | Path) -> None:
        for path in (csv_path, npz_path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.frame.to_csv(csv_path, index=False)
        np.savez_compressed(npz_path, **self.panels)


def one_image_per_class(labels: torch.Tensor) -> torch.Tensor:
    """Index of the first image of every class, classes in increasing order (the paper's 10 study images)."""
    classes = torch.unique(labels)
    return torch.stack([torch.nonzero(labels == c)[0, 0] for c in classes])


def study_objective(config: ImageTrainConfig, image_shape: tuple[int, int, int], beta_neg: float,
                    device: torch.device | str) -> SoftIntroObjective:
    """The weights the image trainer uses (s = 1/(C H W), MC KL), with beta_neg replaced."""
    betas = (torch.tensor([v], device=device) for v in (config.beta_rec, config.beta_kl, beta_neg))
    weights = SoftIntroWeights(*betas, alpha=config.alpha, scale=1.0 / float(np.prod(image_shape)))
    return SoftIntroObjective(weights, MonteCarloKL(config.mc_samples))


def encoder_loss(objective: SoftIntroObjective, model: StackedVAE, real: torch.Tensor, fake: torch.Tensor,
                 rnd: RunRandomness) -> torch.Tensor:
    """L_E of the proposition on (1, B, C, H, W) real and fixed generated images: (R,)."""
    w = objective.w
    real_elbo, _ = objective.elbo(model, real, rnd)
    repulsion = objective.exp_elbo(model, fake, model.prior_params(), rnd).mean(-1)
    return w.scale * real_elbo + repulsion / w.alpha


def predicted_nelbo(p_real: float, p_fake: float, weights: SoftIntroWeights) -> float:
    """Proposition 2's NELBO (REC + KL) at the optimal encoder: ln(p_fake / p_real) / (alpha s beta) where the encoder
    repels the image to a finite level, +inf outside the real support, NaN where it is VAE-like (the optimum then
    depends on the decoder) or where the betas differ (no closed form in REC + KL)."""
    if p_real == 0:
        return math.inf
    betas = {weights.beta_rec.item(), weights.beta_kl.item(), weights.beta_neg.item()}
    if p_fake <= p_real or len(betas) > 1:
        return math.nan
    return math.log(p_fake / p_real) / (weights.alpha * weights.scale * betas.pop())


@contextmanager
def frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """Run ``module`` in train mode but give back its buffers (BatchNorm running averages) unchanged."""
    saved = {name: buffer.clone() for name, buffer in module.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                buffer.copy_(saved[name])


@torch.no_grad()
def image_elbo_terms(model: StackedVAE, objective: SoftIntroObjective, images: torch.Tensor,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """REC and KL (n,) of each (C, H, W) image alone, every image with the same noise (a fresh stream per image)."""
    terms = [objective.elbo(model, image[None, None], RunRandomness([seed], images.device))[1] for image in images]
    return np.array([t["rec"].item() for t in terms]), np.array([t["kl"].item() for t in terms])


@torch.no_grad()
def reconstructions(model: StackedVAE, images: torch.Tensor) -> np.ndarray:
    """D(mu(x)) of each image alone (batch 1, as trained), clamped to [0, 1]: float32 (n, C, H, W)."""
    out = [model.decode(model.encode(image[None, None])[0])[0, 0] for image in images]
    return torch.stack(out).clamp(0.0, 1.0).float().cpu().numpy()


def _records(model: StackedVAE, objective: SoftIntroObjective, images: torch.Tensor, dists: SyntheticDistributions,
             iteration: int, seed: int) -> list[dict]:
    """One row per (set, image in its support): an image in both supports appears twice, with equal terms."""
    rec, kl = image_elbo_terms(model, objective, images, seed)
    p_real, p_fake = dists.real.tolist(), dists.fake.tolist()
    return [{"iteration": iteration, "set": which, "image": int(i), "p_real": p_real[i], "p_fake": p_fake[i],
             "rec": rec[i], "kl": kl[i], "nelbo": rec[i] + kl[i],
             "nelbo_prediction": predicted_nelbo(p_real[i], p_fake[i], objective.w)}
            for which in ("real", "fake") for i in dists.support(which).tolist()]


def _panels(model: StackedVAE, images: torch.Tensor, dists: SyntheticDistributions) -> dict[str, np.ndarray]:
    recon, originals = reconstructions(model, images), images.float().cpu().numpy()
    out = {}
    for which in ("real", "fake"):
        index = dists.support(which).numpy()
        out[which], out[f"{which}_rec"] = originals[index], recon[index]
    return out


def overfit_encoder(model: StackedVAE, objective: SoftIntroObjective, images: torch.Tensor,
                    dists: SyntheticDistributions, config: OverfitEncoderConfig
                    ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Train ``model``'s encoder in place on float (n, C, H, W) images in [0, 1]; decoder and prior stay fixed.

    Returns the tracked terms (iteration 0, every ``eval_every`` steps and the last) and the final image panels.
    """
    if isinstance(model.prior, VampPrior):
        raise ValueError("a VampPrior moves with the encoder, so the generated distribution would not be fixed; "
                         "use a snapshot taken after the VAMP -> MoG conversion")
    sampling_seed, noise_seed, eval_seed = stream_seeds(config.seed)
    sampling, rnd = torch.Generator().manual_seed(sampling_seed), RunRandomness([noise_seed], images.device)
    optimizers = {"encoder": torch.optim.Adam(model.encoder.parameters(), lr=config.lr)}
    with frozen_running_stats(model.decoder):
        records = _records(model, objective, images, dists, 0, eval_seed)
        for iteration in range(1, config.iterations + 1):
            real = images[torch.multinomial(dists.real, 1, generator=sampling).to(images.device)]
            fake = images[torch.multinomial(dists.fake, 1, generator=sampling).to(images.device)]
            update(encoder_loss(objective, model, real[None], fake[None], rnd), optimizers, ("encoder",))
            if iteration % config.eval_every == 0 or iteration == config.iterations:
                records += _records(model, objective, images, dists, iteration, eval_seed)
        panels = _panels(model, images, dists)
    return pd.DataFrame(records), panels


def run_overfit_encoder_study(snapshot_path: str | Path, images: torch.Tensor, config: OverfitEncoderConfig,
                              device: torch.device | str = "cpu") -> OverfitEncoderStudy:
    """Every (configuration, beta_neg) from a fresh copy of the snapshot, with the same seeds (paired runs).

    ``images``: uint8 (n, C, H, W), the study images (e.g. ``one_image_per_class`` of the training split).
    """
    snapshot = load_snapshot(snapshot_path, device)
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != snapshot.image_shape:
        raise ValueError(f"images must be uint8 (n, {snapshot.image_shape}), got {images.dtype} {tuple(images.shape)}")
    x = images.to(device).float().div(255)
    frames, panels = [], {}
    for name in config.configurations:
        dists = synthetic_distributions(name, len(x), config.single_image)
        for beta_neg in config.beta_negs:
            start = time.perf_counter()
            objective = study_objective(snapshot.config, snapshot.image_shape, beta_neg, device)
            frame, run_panels = overfit_encoder(copy.deepcopy(snapshot.model), objective, x, dists, config)
            frames.append(frame.assign(configuration=name, beta_neg=beta_neg))
            panels.update({panel_key(name, beta_neg, kind): run_panels[kind] for kind in PANEL_KINDS})
            log.info("configuration (%s), beta_neg=%g: %d steps in %.1f s", name, beta_neg, config.iterations,
                     time.perf_counter() - start)
    return OverfitEncoderStudy(pd.concat(frames, ignore_index=True)[list(COLUMNS)], panels)
