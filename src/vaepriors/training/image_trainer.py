"""S-IntroVAE training on images, one run per process, in resumable epochs (reference §9).

Epoch e: the VampPrior becomes a MoG at ``conversion_epoch`` (optimisers reset, as the authors), clip bounds are fitted
at ``warmup_epochs`` for clipped IP runs, a snapshot is written at the measurement epochs (before the epoch trains),
then one pass over the shuffled training set: ELBO steps in the warm-up, S-IntroVAE steps after it. The dataset lives
on the device; all randomness comes from three seeded streams (initialisation, data order, noise) whose states are
part of the checkpoint, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import copy
import logging
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from vaepriors.losses.kl import MonteCarloKL
from vaepriors.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.models.image import build_image_vae, build_prior
from vaepriors.priors import MixtureOfGaussiansPrior, StandardGaussianPrior
from vaepriors.training.image_config import ImageTrainConfig
from vaepriors.training.players import build_optimizers, soft_intro_step
from vaepriors.training.randomness import RunRandomness

log = logging.getLogger(__name__)


def stream_seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for initialisation, data order and noise, derived from the run seed."""
    return tuple(int(s.generate_state(1, np.uint64)[0]) for s in np.random.SeedSequence(seed).spawn(3))


@dataclass
class Divergence:
    epoch: int
    reason: str


class ImageTrainer:
    def __init__(self, config: ImageTrainConfig, train_images: torch.Tensor, device: torch.device | str = "cpu"):
        if train_images.dtype != torch.uint8 or train_images.dim() != 4:
            raise ValueError("train_images must be a uint8 tensor (N, C, H, W)")
        self.config, self.device = config, torch.device(device)
        self.images = train_images.to(self.device)
        init_seed, order_seed, noise_seed = stream_seeds(config.seed)
        init = torch.Generator().manual_seed(init_seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            prior = build_prior(config, train_images, init)
            self.model = build_image_vae(config, tuple(train_images.shape[1:]), prior).to(self.device)
        self.order = torch.Generator().manual_seed(order_seed)
        self.rnd = RunRandomness([noise_seed], self.device)
        channels, height, width = train_images.shape[1:]
        weights = SoftIntroWeights(*(torch.tensor([v], device=self.device) for v in
                                     (config.beta_rec, config.beta_kl, config.beta_neg)),
                                   alpha=config.alpha, gamma=config.gamma, gamma_r=config.gamma_r,
                                   scale=1.0 / (channels * height * width), r_entropy=config.r_entropy)
        self.objective = SoftIntroObjective(weights, MonteCarloKL(config.mc_samples), track_entropy=True)
        self.optimizers = build_optimizers(self.model, config.lr)
        self.epoch = 0
        self.history: list[dict] = []
        self.divergence: Divergence | None = None

    # -- schedule ------------------------------------------------------------------------------------------------
    def _phase_changes(self, epoch: int) -> None:
        cfg = self.config
        if epoch == cfg.conversion_epoch:
            self.model.convert_vamp_to_mog(cfg.vamp_to_mog_weights)
            self.model.prior.to(self.device)
            self.optimizers = build_optimizers(self.model, cfg.lr)
        if epoch == cfg.warmup_epochs and cfg.clipped:
            with torch.no_grad():
                self.model.clip.fit(self.model.prior_params().logvar)

    def _train_epoch(self, epoch: int, progress: bool) -> dict:
        cfg, n = self.config, len(self.images)
        order = torch.randperm(n, generator=self.order).to(self.device)
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        adversarial = epoch >= cfg.warmup_epochs
        batches = range(0, n, cfg.batch_size)
        for start in tqdm(batches, desc=f"epoch {epoch}", mininterval=10, disable=not progress, leave=False):
            x = self.images[order[start:start + cfg.batch_size]].float().div_(255).unsqueeze(0)
            terms = soft_intro_step(self.model, self.objective, x, self.rnd, self.optimizers, adversarial,
                                    cfg.intro_prior)
            for key, value in terms.items():
                sums[key] += value.detach().sum()
        means = {key: value.item() / len(batches) for key, value in sums.items()}
        return {"epoch": epoch, "phase": "adversarial" if adversarial else "warmup",
                "iterations": (len(self.history) + 1) * len(batches), **self._renamed(means), **self._prior_stats()}

    @staticmethod
    def _renamed(means: dict[str, float]) -> dict[str, float]:
        """The documented history columns: the encoder step's real-data terms are `rec`, `kl`, `neg_entropy`."""
        out = {key.removeprefix("e_"): value for key, value in means.items()}
        out["entropy"] = -out["neg_entropy"] if "neg_entropy" in out else math.nan
        return out

    @torch.no_grad()
    def _prior_stats(self) -> dict[str, float]:
        """Max prior log-variance, clipped and not (NaN for a VampPrior, whose encoder pass would move BN stats, and
        for the flow, which has no log-variances)."""
        if not isinstance(self.model.prior, (MixtureOfGaussiansPrior, StandardGaussianPrior)):
            return {"max_prior_logvar": math.nan, "max_prior_logvar_unclipped": math.nan}
        raw = self.model.prior.distribution(self.model.encoder).logvar
        return {"max_prior_logvar": self.model.clip(raw).max().item(), "max_prior_logvar_unclipped": raw.max().item()}

    # -- loop ----------------------------------------------------------------------------------------------------
    def train(self, until_epoch: int, on_snapshot=None, on_checkpoint=None, progress: bool = True) -> None:
        """Train epochs [self.epoch, until_epoch); stops early (recording why) at the first non-finite epoch.

        ``on_snapshot(epoch)`` runs at the measurement epochs before they train, ``on_checkpoint()`` after every
        ``checkpoint_every``-th epoch. A diverged run keeps the model of the start of its last finite epoch.
        """
        cfg = self.config
        while self.epoch < until_epoch and self.divergence is None:
            epoch = self.epoch
            self._phase_changes(epoch)
            if epoch in cfg.measure_epochs and on_snapshot is not None:
                on_snapshot(epoch)
            finite_state = copy.deepcopy(self.model.state_dict())
            row = self._train_epoch(epoch, progress)
            bad = sorted(k for k, v in row.items() if isinstance(v, float) and k not in ("entropy",)
                         and not math.isfinite(v) and not k.startswith("max_prior"))
            if bad:
                self.divergence = Divergence(epoch, f"non-finite {', '.join(bad)} during epoch {epoch}")
                self.model.load_state_dict(finite_state)
                log.warning("run diverged: %s; keeping the model of the start of epoch %d", self.divergence.reason,
                            epoch)
            self.history.append(row)
            self.epoch = epoch + 1
            log.info("epoch %d/%d %s", epoch + 1, until_epoch,
                     " ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
            if on_checkpoint is not None and (self.epoch % cfg.checkpoint_every == 0 or self.divergence):
                on_checkpoint()

    # -- state ---------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"config": self.config.to_dict(), "epoch": self.epoch, "history": self.history,
                "prior": type(self.model.prior).__name__, "model": self.model.state_dict(),
                "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
                "rng": {"order": self.order.get_state(), "noise": [g.get_state() for g in self.rnd.generators]},
                "divergence": None if self.divergence is None else vars(self.divergence)}

    def load_state_dict(self, state: dict) -> None:
        """Restore a checkpoint of this run, or a warm-up shared by runs that differ only after it."""
        saved = ImageTrainConfig.from_dict(state["config"])
        if saved != self.config and saved != self.config.warmup_config():
            raise ValueError(f"the checkpoint's configuration does not match this run (nor its warm-up):\n"
                             f"  checkpoint: {saved}\n  this run:   {self.config}")
        if state["prior"] != type(self.model.prior).__name__:
            self.model.convert_vamp_to_mog(self.config.vamp_to_mog_weights)
            self.model.prior.to(self.device)
            self.optimizers = build_optimizers(self.model, self.config.lr)
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.order.set_state(state["rng"]["order"])
        for generator, rng_state in zip(self.rnd.generators, state["rng"]["noise"]):
            generator.set_state(rng_state)
        self.epoch, self.history = state["epoch"], list(state["history"])
        self.divergence = Divergence(**state["divergence"]) if state["divergence"] else None
