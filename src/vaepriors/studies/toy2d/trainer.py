"""Vectorised 2D trainer: R runs of one prior configuration (different seeds and/or betas) in one process, on the
training engine (``training.engine``): resumable from its checkpoint, divergence recorded per run.

Schedule (reference §5): ELBO steps until ``warmup`` (a VAE never leaves them), the VampPrior becomes a MoG at
``warmup - mog_warmup`` (optimisers reset, as the authors do), clip bounds are fitted at the first adversarial
iteration of IP runs, then each iteration is an encoder step followed by a decoder(+prior) step. A diverged run
trains on with non-finite values in its own slice of the stack (runs never mix), is recorded with the iteration and
terms of its first non-finite value, and is reported as diverged by the evaluation.

Randomness per run: initial weights from a CPU ``torch.Generator`` seeded with the run's seed (the same weights on
every device); data and noise from the run's counter-based stream (``core.randomness``) keyed by a seed spawned from
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vaepriors.core.atomic import save_with_config
from vaepriors.core.losses.kl import make_kl
from vaepriors.core.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.core.priors import MixtureOfGaussiansPrior, PriorRequest, VampPrior, build_prior
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.state_files import load_state_file
from vaepriors.core.training.capture import set_learning_rate
from vaepriors.core.training.engine import Checkpoint, LoopSettings, spawn_seeds
from vaepriors.core.training.players import SoftIntroTrainer, soft_intro_step
from vaepriors.core.vae import StackedVAE
from vaepriors.studies.toy2d.config import ToyTrainConfig
from vaepriors.studies.toy2d.data import get_sampler
from vaepriors.studies.toy2d.model import build_toy_vae


@dataclass
class ToyRuns:
    """A trained batch of runs: what the evaluator and the figures need."""

    config: ToyTrainConfig
    model: StackedVAE
    diverged_at: list[int | None]
    reasons: list[str | None]
    history: list[dict]


class ToyTrainer(SoftIntroTrainer):
    """``capture``: replay each phase's step as a CUDA graph (``training.capture``; CUDA only)."""

    def __init__(self, config: ToyTrainConfig, device: torch.device | str = "cpu", capture: bool = False):
        super().__init__(len(config.runs), device)
        self.config = config
        self.rnd = RunRandomness([spawn_seeds(run.seed, 1)[0] for run in config.runs], self.device)
        self.sampler = get_sampler(config.dataset)
        # Parameters are created on the CPU, so they are initialised from CPU generators (one per run, seeded
        # with the run's seed): the same initial weights on every device, then moved.
        init = [torch.Generator().manual_seed(run.seed) for run in config.runs]
        prior = build_prior(config.prior, PriorRequest(
            config.z_dim, init, config.components, config.learnable_contributions, self._pseudo_inputs,
            flow_blocks=config.flow_blocks, flow_hidden=config.flow_hidden,
            flow_log_scale_bound=config.flow_log_scale_bound))
        self.model = build_toy_vae(self.runs, prior.cpu(), config.z_dim, config.hidden, config.hidden_layers,
                                   config.clip_k, init).to(self.device)
        betas = {name: torch.tensor([getattr(run, name) for run in config.runs], device=self.device)
                 for name in ("beta_rec", "beta_kl", "beta_neg")}
        weights = SoftIntroWeights(**betas, alpha=config.alpha, gamma=config.gamma, gamma_r=config.gamma_r,
                                   scale=config.scale, r_entropy=config.r_entropy)
        self.objective = SoftIntroObjective(weights, make_kl(config.kl, config.mc_samples))
        self.init_players(config.lr, config.vamp_to_mog_weights, capture)

    def _pseudo_inputs(self, k: int) -> torch.Tensor:
        """The first K points of one shuffled batch of real data, per run (reference §3): a VampPrior's start."""
        n = self.config.batch_size
        batch, order = self.sampler(n, self.rnd), self.rnd.permutation(n)[:, :k]
        return batch.gather(1, order.unsqueeze(-1).expand(-1, -1, batch.shape[-1])).cpu()

    def _learning_rate(self, iteration: int) -> float:
        """MultiStepLR counted from iteration 0 (warm-up included), for every player (reference §12.12)."""
        decays = sum(iteration >= milestone for milestone in self.config.milestones)
        return self.config.lr * self.config.lr_gamma ** decays

    def _phase_changes(self, iteration: int) -> None:
        if iteration == self.config.conversion_iteration:
            self.convert_to_mog()
        if iteration == self.config.adversarial_start and self.config.clips_logvar:
            self.model.clip.fit(self.model.prior_params().logvar)
            self.graphs.invalidate()
        for opt in self.optimizers.values():
            set_learning_rate(opt, self._learning_rate(iteration))

    def _step(self, adversarial: bool) -> dict[str, torch.Tensor]:
        """Data and one S-IntroVAE step: everything a captured graph replays."""
        x = self.sampler(self.config.batch_size, self.rnd)
        return soft_intro_step(self.model, self.objective, x, self.rnd, self.optimizers, adversarial,
                               self.config.intro_prior)

    def train_unit(self, iteration: int) -> dict[str, torch.Tensor]:
        self._phase_changes(iteration)
        adversarial = iteration >= self.config.adversarial_start
        return self.graphs(adversarial, lambda: self._step(adversarial))

    def extra_state(self) -> dict:
        return {**self.player_state(), "randomness": self.rnd.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        self.load_player_state(state)
        self.rnd.load_state_dict(state["randomness"])

    def train(self, progress: bool = True, log_every: int = 500, checkpoint: str | Path | None = None) -> ToyRuns:
        """Train every run to ``config.iterations``, resuming from (and writing) ``checkpoint`` if given."""
        cfg = self.config
        settings = LoopSettings(cfg.iterations, "iteration", log_every, log_every if checkpoint else 0, progress)
        store = None if checkpoint is None else Checkpoint(checkpoint, cfg.to_dict())
        self.run(settings, store)
        diverged_at: list[int | None] = [None] * self.runs
        reasons: list[str | None] = [None] * self.runs
        for divergence in self.divergences:
            diverged_at[divergence.run], reasons[divergence.run] = divergence.at, divergence.reason
        return ToyRuns(cfg, self.model, diverged_at, reasons, self.history)


def save_runs(runs: ToyRuns, path: str | Path) -> None:
    """Atomic write: a killed job never leaves a truncated file that looks complete."""
    save_with_config({"config": runs.config.to_dict(), "state": runs.model.state_dict(),
                      "prior": type(runs.model.prior).__name__, "diverged_at": runs.diverged_at,
                      "reasons": runs.reasons, "history": runs.history}, path)


def load_runs(path: str | Path, device: torch.device | str = "cpu") -> ToyRuns:
    payload = load_state_file(path, "a 2D runs file", "rule toy_train_grid / toy_train_seeds (vaepriors toy-train)",
                              ("config", "state", "prior", "diverged_at", "reasons", "history"))
    config = ToyTrainConfig.from_dict(payload["config"])
    model = ToyTrainer(config, "cpu").model
    if payload["prior"] == MixtureOfGaussiansPrior.__name__ and isinstance(model.prior, VampPrior):
        model.convert_vamp_to_mog(config.vamp_to_mog_weights)
    model.load_state_dict(payload["state"])
    return ToyRuns(config, model.to(device), payload["diverged_at"], payload["reasons"], payload["history"])
