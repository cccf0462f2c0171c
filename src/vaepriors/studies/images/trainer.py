"""S-IntroVAE training on images in resumable epochs (reference §9): R runs of one configuration (seeds x r_entropy
values) stacked in one model, on the training engine (``training.engine``).

Epoch e: the VampPrior becomes a MoG at ``conversion_epoch`` (optimisers reset, as the authors), clip bounds are fitted
at ``warmup_epochs`` for clipped IP runs, a snapshot of every run is written at the measurement epochs (before the
epoch trains), then one pass over the training set in each run's own shuffled order: ELBO steps in the warm-up,
S-IntroVAE steps after it. The networks hold the runs side by side (``models.conv``: grouped convolutions, per-run
BatchNorm), one Adam per player steps all runs on the sum of their losses, so each run trains exactly as it would
alone. The dataset lives on the device.

Randomness per run: initial weights from its initialisation seed (``models.image.build_image_stack``); data order and
noise from its counter-based streams (``vaepriors.core.randomness``), whose counters are part of the checkpoint, so a
resumed stack continues exactly where it stopped. An epoch's terms are summed on the device and read once per epoch;
a run whose epoch is non-finite is recorded as diverged and keeps the weights of the start of that epoch, while the
other runs of the stack train on (runs never mix, so its non-finite values stay in its own slice).
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
from tqdm import tqdm

from vaepriors.core.losses.kl import MonteCarloKL
from vaepriors.core.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.core.nets.run_states import (optimizer_parameter_names, run_axis_names, select_optimizer_state,
                                         select_runs, select_state)
from vaepriors.core.priors import MixtureOfGaussiansPrior, StandardGaussianPrior
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.training.engine import LoopSettings, RunDivergence, spawn_seeds
from vaepriors.core.training.players import SoftIntroTrainer, soft_intro_step
from vaepriors.studies.images.config import ImageStackConfig, ImageTrainConfig
from vaepriors.studies.images.model import build_image_stack


def stream_seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for initialisation, data order and noise, derived from the run seed."""
    return tuple(spawn_seeds(seed, 3))


class ImageTrainer(SoftIntroTrainer):
    """An image stack; ``train(until_epoch, ...)`` runs epochs [position, until_epoch) on the engine. A single
    ``ImageTrainConfig`` is a stack of one. ``capture``: replay each step as a CUDA graph (``training.capture``)."""

    def __init__(self, config: ImageStackConfig | ImageTrainConfig, train_images: torch.Tensor,
                 device: torch.device | str = "cpu", capture: bool = False):
        if train_images.dtype != torch.uint8 or train_images.dim() != 4:
            raise ValueError("train_images must be a uint8 tensor (N, C, H, W)")
        stack = ImageStackConfig.of(config)
        super().__init__(len(stack.runs), device)
        self.config, base = stack, stack.base
        self.images = train_images.to(self.device)
        self.image_shape = tuple(train_images.shape[1:])
        seeds = [stream_seeds(run.seed) for run in stack.runs]
        self.model = build_image_stack(base, [s[0] for s in seeds], self.image_shape, train_images).to(self.device)
        self.order = RunRandomness([s[1] for s in seeds], self.device)
        self.rnd = RunRandomness([s[2] for s in seeds], self.device)
        per_run = {name: torch.tensor([getattr(run, name) for run in stack.runs], device=self.device)
                   for name in ("beta_rec", "beta_kl", "beta_neg", "r_entropy")}
        channels, height, width = self.image_shape
        weights = SoftIntroWeights(per_run["beta_rec"], per_run["beta_kl"], per_run["beta_neg"], alpha=base.alpha,
                                   gamma=base.gamma, gamma_r=base.gamma_r, scale=1.0 / (channels * height * width),
                                   r_entropy=per_run["r_entropy"])
        self.objective = SoftIntroObjective(weights, MonteCarloKL(base.mc_samples), track_entropy=True)
        self.init_players(base.lr, base.vamp_to_mog_weights, capture)
        self.kept: dict[int, dict] = {}  # diverged run -> its weights at the start of its diverging epoch
        self.on_snapshot = None
        self.progress = True
        self._finite_state: dict | None = None
        self._stacked_names: dict[str, frozenset[str]] = {}

    @property
    def epoch(self) -> int:
        return self.position

    def train(self, until_epoch: int, on_snapshot=None, checkpoint=None, progress: bool = True,
              resume: bool = True) -> None:
        """Epochs [epoch, until_epoch); ``on_snapshot(epoch)`` runs at the measurement epochs before they train;
        ``checkpoint`` (an engine ``Checkpoint``) is written every ``checkpoint_every`` epochs and, unless
        ``resume`` is False, resumed from."""
        self.on_snapshot, self.progress = on_snapshot, progress
        settings = LoopSettings(until_epoch, "epoch", 1, self.config.base.checkpoint_every, progress, 30.0)
        self.run(settings, checkpoint, resume)

    # -- schedule ------------------------------------------------------------------------------------------------
    def begin_interval(self, epoch: int) -> None:
        base = self.config.base
        if epoch == base.conversion_epoch:
            self.convert_to_mog()
        if epoch == base.warmup_epochs and base.clipped:
            with torch.no_grad():
                self.model.clip.fit(self.model.prior_params().logvar)
            self.graphs.invalidate()
        if epoch in base.measure_epochs and self.on_snapshot is not None:
            self.on_snapshot(epoch)
        self._finite_state = copy.deepcopy(self.model.state_dict())

    def train_unit(self, epoch: int) -> dict[str, torch.Tensor]:
        """One pass over the training set; the epoch means of the terms, (R,) on the device."""
        base, n = self.config.base, len(self.images)
        order = self.order.permutation(n)
        sums: dict[str, torch.Tensor] = {}
        adversarial = epoch >= base.warmup_epochs
        batches = range(0, n, base.batch_size)
        for start in tqdm(batches, desc=f"epoch {epoch}", mininterval=30, disable=not self.progress, leave=False):
            x = self.images[order[:, start:start + base.batch_size]].float().div_(255)
            terms = self.graphs(adversarial, lambda batch: soft_intro_step(
                self.model, self.objective, batch, self.rnd, self.optimizers, adversarial, base.intro_prior), x)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0) + value.detach()
        return {key: value / len(batches) for key, value in sums.items()}

    def end_interval(self, epoch: int, end: int, new: list[RunDivergence]) -> dict:
        """Per-run history columns (lists over runs); a newly diverged run keeps the weights of its epoch's start."""
        for divergence in new:
            self.kept[divergence.run] = select_state(self._finite_state, [divergence.run], self.runs,
                                                     self.stacked_names())
        adversarial = epoch >= self.config.base.warmup_epochs
        batches = math.ceil(len(self.images) / self.config.base.batch_size)
        return {"epoch": epoch, "phase": "adversarial" if adversarial else "warmup", "iterations": end * batches,
                **self._prior_stats()}

    def interval_means(self, sums: dict[str, torch.Tensor], units: int) -> dict[str, list[float]]:
        """Per-run epoch means; the encoder step's real-data terms are `rec`, `kl`, `neg_entropy` (and `entropy`)."""
        means = {key.removeprefix("e_"): (value.float().cpu() / units).tolist() for key, value in sums.items()}
        means["entropy"] = [-v for v in means["neg_entropy"]] if "neg_entropy" in means else [math.nan] * self.runs
        return means

    @torch.no_grad()
    def _prior_stats(self) -> dict[str, list[float]]:
        """Max prior log-variance per run, clipped and not (NaN for a VampPrior, whose encoder pass would move BN
        stats, and for the flow, which has no log-variances)."""
        if not isinstance(self.model.prior, (MixtureOfGaussiansPrior, StandardGaussianPrior)):
            return {"max_prior_logvar": [math.nan] * self.runs, "max_prior_logvar_unclipped": [math.nan] * self.runs}
        raw = self.model.prior.distribution(self.model.encoder).logvar
        return {"max_prior_logvar": self.model.clip(raw).flatten(1).max(1).values.tolist(),
                "max_prior_logvar_unclipped": raw.flatten(1).max(1).values.tolist()}

    # -- runs in and out of the stack -------------------------------------------------------------------------------
    def stacked_names(self) -> frozenset[str]:
        """State-dict names that carry the run axis, for the current prior (read off models of one and two runs)."""
        key = type(self.model.prior).__name__
        if key not in self._stacked_names:
            pair = [build_image_stack(self.config.base, seeds, self.image_shape) for seeds in ([0], [0, 1])]
            if key != type(pair[0].prior).__name__:
                for model in pair:
                    model.convert_vamp_to_mog(self.config.base.vamp_to_mog_weights)
            self._stacked_names[key] = run_axis_names(pair[1].state_dict(), pair[0].state_dict())
        return self._stacked_names[key]

    def run_weights(self, run: int) -> dict[str, torch.Tensor]:
        """One run's weights as a stack of one: its kept weights if it diverged, else its current slice."""
        if run in self.kept:
            return self.kept[run]
        return {k: v.cpu() for k, v in select_state(self.model.state_dict(), [run], self.runs,
                                                    self.stacked_names()).items()}

    def run_history(self, run: int) -> list[dict]:
        """One run's history rows, up to and including the epoch in which it diverged."""
        divergence = self.run_divergence(run)
        last = math.inf if divergence is None else divergence.at
        return [{k: v[run] if isinstance(v, list) else v for k, v in row.items()} for row in self.history
                if row["epoch"] <= last]

    def run_divergence(self, run: int) -> RunDivergence | None:
        return next((d for d in self.divergences if d.run == run), None)

    # -- state ---------------------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {**self.player_state(), "kept": {str(run): state for run, state in self.kept.items()},
                "randomness": {"order": self.order.state_dict(), "noise": self.rnd.state_dict()}}

    def load_extra_state(self, state: dict) -> None:
        self.load_player_state(state)
        self.order.load_state_dict(state["randomness"]["order"])
        self.rnd.load_state_dict(state["randomness"]["noise"])
        self.kept = {int(run): weights for run, weights in state["kept"].items()}

    def load_warmup(self, state: dict) -> None:
        """Continue from the warm-up stack of this stack's seeds: run j starts from the warm-up of its seed (its
        weights, Adam moments, position and history); its own streams continue from the warm-up's counters."""
        warmup = ImageStackConfig.from_dict(state["config"])
        wanted = self.config.warmup()
        missing = [run.seed for run in wanted.runs if run not in warmup.runs]
        if missing or any(replace_seed(run) != replace_seed(wanted.base) for run in warmup.runs):
            raise ValueError(f"the warm-up file does not match this stack's warm-up (seeds {missing} missing, or "
                             "another configuration); re-run the warm-up rule")
        index = [warmup.runs.index(wanted.runs[wanted.seeds.index(run.seed)]) for run in self.config.runs]
        source_runs, study = len(warmup.runs), state["study"]
        if study["prior"] != type(self.model.prior).__name__:
            self.convert_to_mog()
        names = self.stacked_names()
        self.model.load_state_dict(select_state(study["model"], index, source_runs, names))
        for player, opt in self.optimizers.items():
            parameter_names = optimizer_parameter_names(opt, self.model)
            opt.load_state_dict(select_optimizer_state(study["optimizers"][player], parameter_names, index,
                                                       source_runs, names))
        for stream, saved in ((self.order, study["randomness"]["order"]), (self.rnd, study["randomness"]["noise"])):
            stream.counter.fill_(int(saved["counter"]))
        self.position = state["position"]
        self.history = [{k: [v[i] for i in index] if isinstance(v, list) else v for k, v in row.items()}
                        for row in state["history"]]
        by_run = {d["run"]: d for d in state["divergences"]}
        self.divergences = [RunDivergence(j, by_run[i]["at"], by_run[i]["reason"]) for j, i in enumerate(index)
                            if i in by_run]
        self.monitor.first_bad = select_runs(state["monitor"]["first_bad"], index, source_runs).to(self.device)
        self.monitor.bad_terms = {k: select_runs(v, index, source_runs).to(self.device)
                                  for k, v in state["monitor"]["bad_terms"].items()}
        self.monitor.reported = {d.run for d in self.divergences}
        self.kept = {j: study["kept"][str(i)] for j, i in enumerate(index) if str(i) in study["kept"]}
        self.graphs.invalidate()


def replace_seed(config: ImageTrainConfig) -> ImageTrainConfig:
    """``config`` without its seed: what the runs of one warm-up stack share."""
    return replace(config, seed=0)
