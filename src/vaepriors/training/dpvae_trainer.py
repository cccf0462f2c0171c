"""dpVAE training (paper App. C): iterations of seeded minibatches, one Adam over encoder + decoder (+ flow, trained
jointly), and, for FactorVAE, the discriminator step after every VAE step (reference §3, fixed to detach z).

Iteration t: batch t of the authors' loader (epochs of a fresh permutation, ``drop_last``), eps ~ N(0, I), z = mu +
sigma * eps, loss = regulariser(x, x_hat(z), mu, logvar, z, t, p) (``losses.regularisers``), one Adam step. FactorVAE
then encodes a second, independent batch and takes its discriminator step on (z, z_other).

Randomness: five streams derived from the seed (initialisation, data order, FactorVAE's second batches, noise on the
device, permutations on the CPU). Batch order is a function of the iteration alone; the generator states are part
of the checkpoint, so a resumed run repeats the uninterrupted one bit for bit. Every ``log_every`` iterations one
history row of mean terms is written and the terms and parameters are checked: at the first non-finite value the
run stops, records where and what, and keeps the model of the start of that interval (the last one checked finite).

``run_dpvae`` is the pipeline stage (out_dir/checkpoint.pt while running; final.pt, history.csv, status.json when
done); ``load_dpvae`` rebuilds a final model for evaluation.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vaepriors.losses.gaussian import reparameterize
from vaepriors.losses.regularisers import REGULARISERS, GeneratorRandomness, Regulariser, make_regulariser
from vaepriors.models.dpvae import ARCHITECTURES, DpVAE, build_dpvae
from vaepriors.training.dpvae_config import DpVAEConfig, likelihood_record
from vaepriors.atomic import save_atomic
from vaepriors.training.engine import (Checkpoint, IntervalTrainer, LoopSettings, RunDivergence, load_state,
                                       spawn_seeds)

log = logging.getLogger(__name__)
Terms = dict[str, torch.Tensor]


@dataclass
class BatchSchedule:
    """The authors' loader as a function of the iteration: epoch e is a permutation seeded by (seed, e), cut into
    ``size // batch_size`` batches (drop_last); iteration t takes batch t mod E of epoch t // E. Stateless, so
    resuming needs no loader state."""

    size: int
    batch_size: int
    seed: int
    device: torch.device
    _epoch: int = field(default=-1, repr=False)
    _order: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self):
        if not 1 <= self.batch_size <= self.size:
            raise ValueError(f"batch size {self.batch_size} must lie in [1, {self.size}] (the training-set size)")

    def indices(self, step: int) -> torch.Tensor:
        """Indices (batch_size,) on ``device`` of iteration ``step``'s batch."""
        epoch, position = divmod(step, self.size // self.batch_size)
        if epoch != self._epoch:
            epoch_seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0])
            generator = torch.Generator().manual_seed(epoch_seed)
            self._order, self._epoch = torch.randperm(self.size, generator=generator).to(self.device), epoch
        return self._order[position * self.batch_size:(position + 1) * self.batch_size]


def as_model_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1] (the authors' ToTensor); float data (two moons) unchanged."""
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch


def build_regulariser(config: DpVAEConfig, dataset_size: int, generator: torch.Generator) -> Regulariser:
    """The configured regulariser with the trainer-supplied fields it declares (training-set size for beta-TCVAE,
    latent size and permutation generator for FactorVAE)."""
    supplied = {"reduction": config.reduction, "rec_weight": config.rec_weight, "dataset_size": dataset_size,
                "latent_dim": config.latent_dim, "generator": generator}
    declared = REGULARISERS[config.regulariser].__dataclass_fields__
    return make_regulariser(config.regulariser, **config.regulariser_params,
                            **{name: value for name, value in supplied.items() if name in declared})


class DpVAETrainer(IntervalTrainer):
    def __init__(self, config: DpVAEConfig, train_data: torch.Tensor, device: torch.device | str = "cpu"):
        shape = ARCHITECTURES[config.dataset].data_shape
        if tuple(train_data.shape[1:]) != shape:
            raise ValueError(f"{config.dataset} data must be (N, {', '.join(map(str, shape))}), got "
                             f"{tuple(train_data.shape)}")
        super().__init__(1, device)
        self.config = config
        self.data = train_data.to(self.device)
        init_seed, order_seed, other_seed, noise_seed, permutation_seed = spawn_seeds(config.seed, 5)
        self.noise = torch.Generator(device=self.device).manual_seed(noise_seed)
        self.permutations = torch.Generator().manual_seed(permutation_seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            self.model = build_dpvae(config.dataset, config.latent_dim, config.prior, config.flow_blocks,
                                     config.flow_hidden, config.leaky_slope).to(self.device)
            self.regulariser = build_regulariser(config, len(train_data), self.permutations).to(self.device)
        # p(z), one run; a view of the model's prior (the flow's parameters train in place). The paper-compatible
        # beta-TC-dpVAE drops log|det dg/dz| from log p(z) (``FlowDistribution.without_log_det``).
        prior = self.model.prior_distribution()
        self.prior = prior.without_log_det() if config.tc_prior_without_log_det else prior
        self.randomness = GeneratorRandomness(self.noise)  # InfoVAE's prior samples come from the noise stream
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=config.betas)
        self.batches = BatchSchedule(len(train_data), config.batch_size, order_seed, self.device)
        self.other_batches = BatchSchedule(len(train_data), config.batch_size, other_seed, self.device)
        self.kept: dict[str, torch.Tensor] = {}
        self.kept_iteration = 0

    @property
    def step(self) -> int:
        return self.position

    @property
    def divergence(self) -> RunDivergence | None:
        return self.divergences[0] if self.divergences else None

    # -- one iteration -------------------------------------------------------------------------------------------
    def _encode_sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z = mu + sigma * eps with eps from the noise stream; returns z, mu, logvar (B, L)."""
        mu, logvar = self.model.encode(x)
        eps = torch.randn(mu.shape, generator=self.noise, device=self.device, dtype=mu.dtype)
        return reparameterize(mu, logvar, eps), mu, logvar

    def objective(self, step: int) -> tuple[torch.Tensor, Terms, torch.Tensor]:
        """The regularised loss (scalar) of iteration ``step``'s batch, its named terms and the sample z (B, L)."""
        x = as_model_input(self.data[self.batches.indices(step)])
        z, mu, logvar = self._encode_sample(x)
        loss, terms = self.regulariser(x, self.model.decode(z), mu, logvar, z, step, self.prior, self.randomness)
        return loss, terms, z

    def _step(self, step: int) -> Terms:
        loss, terms, z = self.objective(step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        terms = {"loss": loss.detach(), **terms}
        discriminator_step = getattr(self.regulariser, "discriminator_step", None)
        if discriminator_step is not None:
            with torch.no_grad():
                z_other = self._encode_sample(as_model_input(self.data[self.other_batches.indices(step)]))[0]
            terms.update(discriminator_step(z, z_other))
        return terms

    # -- the engine's hooks ---------------------------------------------------------------------------------------
    def train_unit(self, step: int) -> Terms:
        """One iteration; a ValueError raised because the parameters are non-finite (torch.distributions rejects a
        NaN mean) counts as a non-finite loss at this iteration."""
        try:
            terms = self._step(step)
        except ValueError:
            if self._parameters_finite():
                raise
            terms = {"loss": torch.tensor(math.nan, device=self.device)}
        return {name: value.reshape(1) for name, value in terms.items()}

    def begin_interval(self, start: int) -> None:
        self.kept = {name: value.clone() for name, value in self.model.state_dict().items()}
        self.kept_iteration = start

    def end_interval(self, start: int, end: int, new: list[RunDivergence]) -> dict:
        """A divergence, or non-finite parameters after finite terms, restores the model of the interval's start."""
        if not new and not self._parameters_finite():
            new = [RunDivergence(0, end - 1, f"non-finite parameters after iteration {end - 1}")]
            self.divergences += new
        if new:
            self.model.load_state_dict(self.kept)
            log.warning("run diverged: %s; keeping the model of iteration %d", new[0].reason, start)
        return {}

    def _parameters_finite(self) -> bool:
        return bool(torch.stack([p.isfinite().all() for p in self.model.parameters()]).all())

    def train(self, until: int, checkpoint: Checkpoint | None = None, progress: bool = False) -> None:
        """Train iterations [step, until) in intervals ending on multiples of ``log_every``, resuming from and
        writing ``checkpoint`` every ``checkpoint_every`` iterations; stops early at a divergence."""
        cfg = self.config
        self.run(LoopSettings(until, "iteration", cfg.log_every, cfg.checkpoint_every, progress), checkpoint)

    # -- state ---------------------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "regulariser": self.regulariser.state_dict(), "kept_iteration": self.kept_iteration,
                "rng": {"noise": self.noise.get_state(), "permutations": self.permutations.get_state()}}

    def load_extra_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.regulariser.load_state_dict(state["regulariser"])
        self.noise.set_state(state["rng"]["noise"].cpu())
        self.permutations.set_state(state["rng"]["permutations"].cpu())
        self.kept_iteration = state["kept_iteration"]


# -- pipeline stage and loading ----------------------------------------------------------------------------------

def run_dpvae(config: DpVAEConfig, train_data: torch.Tensor, out_dir: str | Path,
              device: torch.device | str = "cpu") -> dict:
    """Train ``config.iterations`` (resuming from out_dir/checkpoint.pt if present), then write final.pt (the last
    finite model), history.csv and status.json, and remove the checkpoint. Returns the status."""
    out_dir = Path(out_dir)
    checkpoint = Checkpoint(out_dir / "checkpoint.pt", config.to_dict())
    trainer = DpVAETrainer(config, train_data, device)
    trainer.train(config.iterations, checkpoint, progress=True)
    status = write_run_outputs(trainer, out_dir)
    checkpoint.remove()
    return status


def write_run_outputs(trainer: DpVAETrainer, out_dir: Path) -> dict:
    divergence = trainer.divergence
    kept = trainer.step if divergence is None else trainer.kept_iteration
    status = {"completed_iterations": trainer.step, "diverged": divergence is not None,
              "diverged_at_iteration": None if divergence is None else divergence.at,
              "model_iteration": kept, "reason": None if divergence is None else divergence.reason,
              "likelihood": likelihood_record(trainer.config)}
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(trainer.history).to_csv(out_dir / "history.csv", index=False)
    (out_dir / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    save_atomic({"config": trainer.config.to_dict(), "model": trainer.model.state_dict(), "iteration": kept,
                 "likelihood": status["likelihood"]}, out_dir / "final.pt")
    return status


@dataclass
class DpVAESnapshot:
    config: DpVAEConfig
    model: DpVAE
    iteration: int
    likelihood: dict


def load_dpvae(path: str | Path, device: torch.device | str = "cpu") -> DpVAESnapshot:
    """Rebuild the model of a final.pt (in eval mode, on ``device``) with its configuration and likelihood."""
    payload = load_state(path)
    config = DpVAEConfig.from_dict(payload["config"])
    model = build_dpvae(config.dataset, config.latent_dim, config.prior, config.flow_blocks, config.flow_hidden,
                        config.leaky_slope)
    model.load_state_dict(payload["model"])
    return DpVAESnapshot(config, model.to(device).eval(), payload["iteration"], payload["likelihood"])
