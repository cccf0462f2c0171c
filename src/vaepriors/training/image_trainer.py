"""S-IntroVAE training on images in resumable epochs (reference §9), on the training engine (``training.engine``).

Epoch e: the VampPrior becomes a MoG at ``conversion_epoch`` (optimisers reset, as the authors), clip bounds are fitted
at ``warmup_epochs`` for clipped IP runs, a snapshot is written at the measurement epochs (before the epoch trains),
then one pass over the shuffled training set: ELBO steps in the warm-up, S-IntroVAE steps after it. The dataset lives
on the device. Randomness: initial weights from a CPU generator seeded by the run's initialisation seed; data order
and noise from the run's counter-based streams (``training.randomness``), whose counters are part of the checkpoint,
so a resumed run continues exactly where it stopped. An epoch's terms are summed on the device and read once per
epoch; a run whose epoch is non-finite stops and keeps the model of the start of that epoch.
"""

from __future__ import annotations

import copy
import math

import torch
from tqdm import tqdm

from vaepriors.losses.kl import MonteCarloKL
from vaepriors.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.models.image import build_image_vae, build_prior
from vaepriors.priors import MixtureOfGaussiansPrior, StandardGaussianPrior
from vaepriors.training.engine import IntervalTrainer, LoopSettings, RunDivergence, spawn_seeds
from vaepriors.training.image_config import ImageTrainConfig
from vaepriors.training.players import build_optimizers, soft_intro_step
from vaepriors.training.randomness import RunRandomness


def stream_seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for initialisation, data order and noise, derived from the run seed."""
    return tuple(spawn_seeds(seed, 3))


class ImageTrainer(IntervalTrainer):
    """One image run; ``train(until_epoch, ...)`` runs epochs [position, until_epoch) on the engine."""

    def __init__(self, config: ImageTrainConfig, train_images: torch.Tensor, device: torch.device | str = "cpu"):
        if train_images.dtype != torch.uint8 or train_images.dim() != 4:
            raise ValueError("train_images must be a uint8 tensor (N, C, H, W)")
        super().__init__(1, device)
        self.config = config
        self.images = train_images.to(self.device)
        init_seed, order_seed, noise_seed = stream_seeds(config.seed)
        init = torch.Generator().manual_seed(init_seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            prior = build_prior(config, train_images, init)
            self.model = build_image_vae(config, tuple(train_images.shape[1:]), prior).to(self.device)
        self.order = RunRandomness([order_seed], self.device)
        self.rnd = RunRandomness([noise_seed], self.device)
        channels, height, width = train_images.shape[1:]
        weights = SoftIntroWeights(*(torch.tensor([v], device=self.device) for v in
                                     (config.beta_rec, config.beta_kl, config.beta_neg)),
                                   alpha=config.alpha, gamma=config.gamma, gamma_r=config.gamma_r,
                                   scale=1.0 / (channels * height * width), r_entropy=config.r_entropy)
        self.objective = SoftIntroObjective(weights, MonteCarloKL(config.mc_samples), track_entropy=True)
        self.optimizers = build_optimizers(self.model, config.lr)
        self.on_snapshot = None
        self.progress = True
        self._finite_state: dict | None = None

    @property
    def epoch(self) -> int:
        return self.position

    @property
    def divergence(self) -> RunDivergence | None:
        return self.divergences[0] if self.divergences else None

    def train(self, until_epoch: int, on_snapshot=None, checkpoint=None, progress: bool = True,
              resume: bool = True) -> None:
        """Epochs [epoch, until_epoch); ``on_snapshot(epoch)`` runs at the measurement epochs before they train;
        ``checkpoint`` (an engine ``Checkpoint``) is written every ``checkpoint_every`` epochs and, unless
        ``resume`` is False, resumed from."""
        self.on_snapshot, self.progress = on_snapshot, progress
        settings = LoopSettings(until_epoch, "epoch", 1, self.config.checkpoint_every, progress, 30.0)
        self.run(settings, checkpoint, resume)

    # -- schedule ------------------------------------------------------------------------------------------------
    def _convert_to_mog(self) -> None:
        self.model.convert_vamp_to_mog(self.config.vamp_to_mog_weights)
        self.model.prior.to(self.device)
        self.optimizers = build_optimizers(self.model, self.config.lr)

    def begin_interval(self, epoch: int) -> None:
        cfg = self.config
        if epoch == cfg.conversion_epoch:
            self._convert_to_mog()
        if epoch == cfg.warmup_epochs and cfg.clipped:
            with torch.no_grad():
                self.model.clip.fit(self.model.prior_params().logvar)
        if epoch in cfg.measure_epochs and self.on_snapshot is not None:
            self.on_snapshot(epoch)
        self._finite_state = copy.deepcopy(self.model.state_dict())

    def train_unit(self, epoch: int) -> dict[str, torch.Tensor]:
        """One pass over the training set; the epoch means of the terms, (R,) on the device."""
        cfg, n = self.config, len(self.images)
        order = self.order.permutation(n)
        sums: dict[str, torch.Tensor] = {}
        adversarial = epoch >= cfg.warmup_epochs
        batches = range(0, n, cfg.batch_size)
        for start in tqdm(batches, desc=f"epoch {epoch}", mininterval=30, disable=not self.progress, leave=False):
            x = self.images[order[:, start:start + cfg.batch_size]].float().div_(255)
            terms = soft_intro_step(self.model, self.objective, x, self.rnd, self.optimizers, adversarial,
                                    cfg.intro_prior)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0) + value.detach()
        return {key: value / len(batches) for key, value in sums.items()}

    def end_interval(self, epoch: int, end: int, new: list[RunDivergence]) -> dict:
        """The documented history columns; a diverged run returns to the model of the start of its epoch."""
        if new:
            self.model.load_state_dict(self._finite_state)
        adversarial = epoch >= self.config.warmup_epochs
        batches = math.ceil(len(self.images) / self.config.batch_size)
        return {"epoch": epoch, "phase": "adversarial" if adversarial else "warmup", "iterations": end * batches,
                **self._prior_stats()}

    def interval_means(self, sums: dict[str, torch.Tensor], units: int) -> dict[str, float]:
        """The encoder step's real-data terms are `rec`, `kl`, `neg_entropy` (and `entropy`, its negation)."""
        means = {key: (value.float().cpu() / units).mean().item() for key, value in sums.items()}
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

    # -- state ---------------------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"prior": type(self.model.prior).__name__, "model": self.model.state_dict(),
                "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
                "randomness": {"order": self.order.state_dict(), "noise": self.rnd.state_dict()}}

    def load_extra_state(self, state: dict) -> None:
        if state["prior"] != type(self.model.prior).__name__:
            self._convert_to_mog()
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.order.load_state_dict(state["randomness"]["order"])
        self.rnd.load_state_dict(state["randomness"]["noise"])

    def load_warmup(self, state: dict) -> None:
        """Continue from the shared warm-up of this run (a state of ``config.warmup_config()``)."""
        self.load_state_dict(state, self.config.warmup_config().to_dict())
