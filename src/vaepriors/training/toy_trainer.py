"""Vectorised 2D trainer: R runs of one prior configuration (different seeds and/or betas) in one process.

Schedule (reference §5): ELBO steps until ``warmup`` (a VAE never leaves them), the VampPrior becomes a MoG at
``warmup - mog_warmup`` (optimisers reset, as the authors do), clip bounds are fitted at the first adversarial
iteration of IP runs, then each iteration is an encoder step followed by a decoder(+prior) step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import trange

from vaepriors.atomic import save_atomic
from vaepriors.data.toy2d import get_sampler
from vaepriors.losses.kl import make_kl
from vaepriors.losses.soft_intro import SoftIntroObjective, SoftIntroWeights
from vaepriors.models.toy import build_toy_vae
from vaepriors.models.vae import StackedVAE
from vaepriors.priors import (DecoupledPrior, DecoupledPriorConfig, MixtureOfGaussiansPrior, Prior,
                              StandardGaussianPrior, VampPrior)
from vaepriors.training.config import ToyTrainConfig
from vaepriors.training.players import build_optimizers, soft_intro_step
from vaepriors.training.randomness import RunRandomness

log = logging.getLogger(__name__)


def _standard_gaussian(config: ToyTrainConfig, rnd: RunRandomness, init: RunRandomness) -> Prior:
    return StandardGaussianPrior(len(rnd), config.z_dim)


def _decoupled(config: ToyTrainConfig, rnd: RunRandomness, init: RunRandomness) -> Prior:
    """R independent RealNVP flows, initialised from the runs' CPU init generators."""
    flow = DecoupledPriorConfig(config.z_dim, config.flow_blocks, config.flow_hidden,
                                log_scale_bound=config.flow_log_scale_bound)
    return DecoupledPrior(flow, generators=init.generators)


def _vamp(config: ToyTrainConfig, rnd: RunRandomness, init: RunRandomness) -> Prior:
    """Pseudo-inputs: the first K points of one shuffled batch of real data, per run (reference §3)."""
    sampler, n, k = get_sampler(config.dataset), config.batch_size, config.components
    pseudo = rnd.per_run(lambda g: sampler(n, g)[torch.randperm(n, generator=g, device=g.device)[:k]])
    return VampPrior(pseudo, config.learnable_contributions)


PRIOR_BUILDERS = {"standard_gaussian": _standard_gaussian, "vamp": _vamp, "decoupled": _decoupled}


@dataclass
class ToyRuns:
    """A trained batch of runs: what the evaluator and the figures need."""

    config: ToyTrainConfig
    model: StackedVAE
    diverged_at: list[int | None]


class ToyTrainer:
    def __init__(self, config: ToyTrainConfig, device: torch.device | str = "cpu"):
        self.config, self.device = config, torch.device(device)
        self.rnd = RunRandomness([run.seed for run in config.runs], self.device)
        self.sampler = get_sampler(config.dataset)
        # Parameters are created on the CPU, so they are initialised from CPU generators (one per run, seeded
        # with the run's seed): the same initial weights on every device, then moved.
        init = RunRandomness([run.seed for run in config.runs])
        prior = PRIOR_BUILDERS[config.prior](config, self.rnd, init)
        self.model = build_toy_vae(len(self.rnd), prior.cpu(), config.z_dim, config.hidden, config.hidden_layers,
                                   config.clip_k, init.generators).to(self.device)
        betas = {name: torch.tensor([getattr(run, name) for run in config.runs], device=self.device)
                 for name in ("beta_rec", "beta_kl", "beta_neg")}
        weights = SoftIntroWeights(**betas, alpha=config.alpha, gamma=config.gamma, gamma_r=config.gamma_r,
                                   scale=config.scale, r_entropy=config.r_entropy)
        self.objective = SoftIntroObjective(weights, make_kl(config.kl, config.mc_samples))
        self.optimizers = build_optimizers(self.model, self.config.lr)
        self.diverged_at: list[int | None] = [None] * len(self.rnd)

    def _learning_rate(self, iteration: int) -> float:
        """MultiStepLR counted from iteration 0 (warm-up included), for every player (reference §12.12)."""
        decays = sum(iteration >= milestone for milestone in self.config.milestones)
        return self.config.lr * self.config.lr_gamma ** decays

    def _step(self, iteration: int, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return soft_intro_step(self.model, self.objective, x, self.rnd, self.optimizers,
                               adversarial=iteration >= self.config.adversarial_start,
                               intro_prior=self.config.intro_prior)

    def _phase_changes(self, iteration: int) -> None:
        if iteration == self.config.conversion_iteration:
            self.model.convert_vamp_to_mog(self.config.vamp_to_mog_weights)
            self.model.prior.to(self.device)
            self.optimizers = build_optimizers(self.model, self.config.lr)
        if iteration == self.config.adversarial_start and self.config.clips_logvar:
            self.model.clip.fit(self.model.prior_params().logvar)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = self._learning_rate(iteration)

    def _record_divergence(self, iteration: int, terms: dict[str, torch.Tensor]) -> None:
        finite = torch.stack([torch.isfinite(v) for v in terms.values()]).all(0).tolist()
        for run, ok in enumerate(finite):
            if not ok and self.diverged_at[run] is None:
                self.diverged_at[run] = iteration
                log.warning("run %d (%s) diverged at iteration %d", run, self.config.runs[run], iteration)

    def train(self, progress: bool = True, log_every: int = 0) -> ToyRuns:
        cfg = self.config
        log_every = log_every or max(1, cfg.iterations // 10)
        for it in trange(cfg.iterations, desc=f"{cfg.dataset}/{cfg.configuration}", mininterval=10,
                         disable=not progress):
            self._phase_changes(it)
            x = self.rnd.per_run(lambda g: self.sampler(cfg.batch_size, g))
            terms = self._step(it, x)
            self._record_divergence(it, terms)
            if (it + 1) % log_every == 0 or it + 1 == cfg.iterations:
                summary = ", ".join(f"{k}={v.detach().nanmean().item():.4g}" for k, v in terms.items())
                log.info("iteration %d/%d lr=%.2e: %s", it + 1, cfg.iterations, self._learning_rate(it), summary)
            if all(d is not None for d in self.diverged_at):
                log.warning("every run diverged; stopping at iteration %d", it)
                break
        return ToyRuns(cfg, self.model, list(self.diverged_at))


def save_runs(runs: ToyRuns, path: str | Path) -> None:
    """Atomic write: a killed job never leaves a truncated file that looks complete."""
    save_atomic({"config": runs.config.to_dict(), "state": runs.model.state_dict(),
                 "prior": type(runs.model.prior).__name__, "diverged_at": runs.diverged_at}, path)


def load_runs(path: str | Path, device: torch.device | str = "cpu") -> ToyRuns:
    payload = torch.load(path, map_location=device, weights_only=False)
    config = ToyTrainConfig.from_dict(payload["config"])
    model = ToyTrainer(config, device).model
    if payload["prior"] == MixtureOfGaussiansPrior.__name__ and isinstance(model.prior, VampPrior):
        model.convert_vamp_to_mog(config.vamp_to_mog_weights)
    model.load_state_dict(payload["state"])
    return ToyRuns(config, model.to(device), payload["diverged_at"])
