"""dpVAE training (paper App. C): R seeds of one configuration stacked in one process on the training engine
(``training.engine``); iterations of seeded minibatches, one Adam over encoder + decoder (+ flow, trained jointly),
and, for FactorVAE, the discriminator step after every VAE step (reference §3, fixed to detach z).

Iteration t, every run r: batch t of its own loader (epochs of a fresh permutation, ``drop_last``), eps ~ N(0, I),
z = mu + sigma * eps, loss_r = regulariser(x, x_hat(z), mu, logvar, z, t, p) (``losses.regularisers``), one Adam
step on the sum of the runs' losses. FactorVAE then encodes a second, independent batch per run and takes its
discriminator step on (z, z_other). The networks hold the runs side by side (``models.run_stack``), so run r
trains exactly as it would alone (to float tolerance) and runs never mix (docs/dpvae.md "Stacks").

Randomness per run (docs/dpvae.md "Streams"): six seeds spawned from the run seed: initial weights (its single-run
network built under it, then copied into the stack), data order, FactorVAE's second batches, noise (the
reparameterisation and InfoVAE's prior samples), FactorVAE's permutations, FactorVAE's discriminator weights. The
four streams are counter-based (``vaepriors.core.randomness.RunRandomness``): a run draws the same numbers in any stack.
These streams replaced torch.Generator ones, so a run's numbers differ from those of the one-run trainer before
stacks. Batch order is a function of the iteration alone and the stream counters are part of the checkpoint, so a
resumed stack repeats the uninterrupted one bit for bit.

Divergence (per run): every ``log_every`` iterations one history row of per-run mean terms is written and the
terms and each run's parameters are checked; a run with a non-finite value is recorded (where and what) and keeps
the weights of the start of that interval (the last ones checked finite), while the other runs train on; its
non-finite values stay in its own slice.

``run_dpvae`` is the pipeline stage (the stack's checkpoint while running; final.pt, history.csv, status.json in
every run's directory when done); ``load_dpvae`` rebuilds one run's final model for evaluation.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from vaepriors.core.atomic import save_with_config
from vaepriors.core.losses.gaussian import reparameterize
from vaepriors.core.losses.regularisers import REGULARISERS, Regulariser, make_regulariser
from vaepriors.core.nets.run_states import select_state
from vaepriors.core.randomness import RunRandomness
from vaepriors.core.state_files import load_state_file
from vaepriors.core.training.engine import Checkpoint, IntervalTrainer, LoopSettings, RunDivergence, spawn_seeds
from vaepriors.studies.dpvae.config import DpVAEConfig, DpVAEStackConfig, likelihood_record
from vaepriors.studies.dpvae.model import ARCHITECTURES, DpVAE, build_dpvae, stack_dpvae

log = logging.getLogger(__name__)
Terms = dict[str, torch.Tensor]
STREAMS = ("init", "order", "other", "noise", "permutations", "discriminator")


def stream_seeds(seed: int) -> dict[str, int]:
    """The independent seeds of one run (``STREAMS``), derived from its seed."""
    return dict(zip(STREAMS, spawn_seeds(seed, len(STREAMS))))


@dataclass
class BatchSchedule:
    """The authors' loader per run as a function of the iteration: epoch e of run r is the permutation its stream
    draws at counter e * size, cut into ``size // batch_size`` batches (drop_last); iteration t takes batch t mod E
    of epoch t // E. Stateless, so resuming needs no loader state."""

    size: int
    batch_size: int
    stream: RunRandomness
    _epoch: int = field(default=-1, repr=False)
    _order: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self):
        if not 1 <= self.batch_size <= self.size:
            raise ValueError(f"batch size {self.batch_size} must lie in [1, {self.size}] (the training-set size)")

    def indices(self, step: int) -> torch.Tensor:
        """Indices (R, batch_size) on the stream's device of iteration ``step``'s batch of every run."""
        epoch, position = divmod(step, self.size // self.batch_size)
        if epoch != self._epoch:
            self.stream.counter.fill_(epoch * self.size)
            self._order, self._epoch = self.stream.permutation(self.size), epoch
        return self._order[:, position * self.batch_size:(position + 1) * self.batch_size]


def as_model_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1] (the authors' ToTensor); float data (two moons) unchanged."""
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch


def build_regulariser(config: DpVAEConfig, dataset_size: int, discriminator_seeds: tuple[int, ...],
                      permutations: RunRandomness) -> Regulariser:
    """The configured regulariser with the trainer-supplied fields it declares (training-set size for beta-TCVAE;
    latent size, per-run discriminator seeds and permutation streams for FactorVAE)."""
    supplied = {"reduction": config.reduction, "rec_weight": config.rec_weight, "dataset_size": dataset_size,
                "latent_dim": config.latent_dim, "discriminator_seeds": discriminator_seeds,
                "permutations": permutations}
    declared = REGULARISERS[config.regulariser].__dataclass_fields__
    return make_regulariser(config.regulariser, **config.regulariser_params,
                            **{name: value for name, value in supplied.items() if name in declared})


def build_run(config: DpVAEConfig, init_seed: int) -> DpVAE:
    """One run's single-run model, initialised under its own seed (the reference a stack copies)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return build_dpvae(config.dataset, config.latent_dim, config.prior, config.flow_blocks, config.flow_hidden,
                           config.leaky_slope)


class DpVAETrainer(IntervalTrainer):
    """A dpVAE stack; ``train(until, ...)`` runs iterations [step, until) on the engine. A single ``DpVAEConfig``
    is a stack of one."""

    def __init__(self, config: DpVAEStackConfig | DpVAEConfig, train_data: torch.Tensor,
                 device: torch.device | str = "cpu"):
        stack = DpVAEStackConfig.of(config)
        base = stack.base
        shape = ARCHITECTURES[base.dataset].data_shape
        if tuple(train_data.shape[1:]) != shape:
            raise ValueError(f"{base.dataset} data must be (N, {', '.join(map(str, shape))}), got "
                             f"{tuple(train_data.shape)}")
        super().__init__(len(stack.runs), device)
        self.config = stack
        self.data = train_data.to(self.device)
        seeds = [stream_seeds(run.seed) for run in stack.runs]
        runs = [build_run(base, s["init"]) for s in seeds]
        self.model = stack_dpvae(runs, base.prior, base.flow_blocks, base.flow_hidden).to(self.device)
        self.stacked_names = frozenset(name for name, value in self.model.state_dict().items() if value.dim() and (
            self.runs == 1 or value.shape != runs[0].state_dict()[name].shape))
        streams = {name: RunRandomness([s[name] for s in seeds], self.device)
                   for name in ("order", "other", "noise", "permutations")}
        self.noise = streams["noise"]  # the reparameterisation and InfoVAE's prior samples
        self.permutations = streams["permutations"]
        self.regulariser = build_regulariser(base, len(train_data), tuple(s["discriminator"] for s in seeds),
                                             self.permutations).to(self.device)
        # p(z) of the R runs; a view of the model's prior (the flows' parameters train in place). The
        # paper-compatible beta-TC-dpVAE drops log|det dg/dz| from log p(z) (``FlowDistribution.without_log_det``).
        prior = self.model.prior_distribution()
        self.prior = prior.without_log_det() if base.drops_tc_log_det else prior
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=base.lr, betas=base.betas)
        self.batches = BatchSchedule(len(train_data), base.batch_size, streams["order"])
        self.other_batches = BatchSchedule(len(train_data), base.batch_size, streams["other"])
        self._finite_state: dict[str, torch.Tensor] = {}
        self.kept: dict[int, dict[str, torch.Tensor]] = {}  # diverged run -> its weights at its interval's start
        self.kept_iteration: dict[int, int] = {}

    @property
    def step(self) -> int:
        return self.position

    # -- one iteration -------------------------------------------------------------------------------------------
    def _encode_sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z = mu + sigma * eps with eps from the runs' noise streams; returns z, mu, logvar (R, B, L)."""
        mu, logvar = self.model.encode(x)
        return reparameterize(mu, logvar, self.noise.normal(*mu.shape[1:]).to(mu.dtype)), mu, logvar

    def _batch(self, schedule: BatchSchedule, step: int) -> torch.Tensor:
        """Every run's batch of iteration ``step``, (R, B, *data_shape) model input."""
        return as_model_input(self.data[schedule.indices(step)])

    def objective(self, step: int) -> tuple[torch.Tensor, Terms, torch.Tensor]:
        """The regularised loss per run (R,) of iteration ``step``'s batches, its named terms and the sample z."""
        x = self._batch(self.batches, step)
        z, mu, logvar = self._encode_sample(x)
        loss, terms = self.regulariser(x, self.model.decode(z), mu, logvar, z, step, self.prior, self.noise)
        return loss, terms, z

    def train_unit(self, step: int) -> Terms:
        """One iteration of every run; per-run terms (R,) on the device."""
        loss, terms, z = self.objective(step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        terms = {"loss": loss.detach(), **terms}
        if self.regulariser.has_auxiliary_step:
            with torch.no_grad():
                z_other = self._encode_sample(self._batch(self.other_batches, step))[0]
            terms.update(self.regulariser.auxiliary_step(z, z_other))
        return terms

    # -- the engine's hooks ---------------------------------------------------------------------------------------
    def begin_interval(self, start: int) -> None:
        self._finite_state = copy.deepcopy(self.model.state_dict())

    def end_interval(self, start: int, end: int, new: list[RunDivergence]) -> dict:
        """Runs with non-finite parameters after finite terms diverge too; every newly diverged run keeps the
        weights of the interval's start (the others train on)."""
        finite = self._finite_runs()
        for run in range(self.runs):
            if not finite[run] and run not in self.diverged_runs:
                divergence = RunDivergence(run, end - 1, f"non-finite parameters after iteration {end - 1}")
                log.warning("run %d diverged: %s", run, divergence.reason)
                self.divergences.append(divergence)
                self.monitor.reported.add(run)
                new = [*new, divergence]
        for divergence in new:
            self.kept[divergence.run] = {name: value.cpu() for name, value in select_state(
                self._finite_state, [divergence.run], self.runs, self.stacked_names).items()}
            self.kept_iteration[divergence.run] = start
            log.warning("run %d: keeping its model of iteration %d", divergence.run, start)
        return {}

    def _finite_runs(self) -> list[bool]:
        """Per run: are all its parameters finite (one host synchronisation)."""
        flags = [parameter.isfinite().view(self.runs, -1).all(1) for name, parameter in self.model.named_parameters()
                 if name in self.stacked_names]
        return torch.stack(flags).all(0).tolist()

    def interval_means(self, sums: dict[str, torch.Tensor], units: int) -> dict[str, list[float]]:
        """Per-run interval means of every term (lists over runs)."""
        return {name: (total.float().cpu() / units).tolist() for name, total in sums.items()}

    def train(self, until: int, checkpoint: Checkpoint | None = None, progress: bool = False) -> None:
        """Train iterations [step, until) in intervals ending on multiples of ``log_every``, resuming from and
        writing ``checkpoint`` every ``checkpoint_every`` iterations; stops early when every run has diverged."""
        base = self.config.base
        self.run(LoopSettings(until, "iteration", base.log_every, base.checkpoint_every, progress), checkpoint)

    # -- one run out of the stack -----------------------------------------------------------------------------------
    def run_divergence(self, run: int) -> RunDivergence | None:
        return next((d for d in self.divergences if d.run == run), None)

    def run_weights(self, run: int) -> dict[str, torch.Tensor]:
        """Run ``run``'s weights as a single run: its kept weights if it diverged, else its current slice."""
        if run in self.kept:
            return self.kept[run]
        return {name: value.cpu() for name, value in
                select_state(self.model.state_dict(), [run], self.runs, self.stacked_names).items()}

    def run_history(self, run: int) -> list[dict]:
        """Run ``run``'s history rows, up to and including the interval in which it diverged."""
        divergence, rows = self.run_divergence(run), []
        for row in self.history:
            rows.append({name: value[run] if isinstance(value, list) else value for name, value in row.items()})
            if divergence is not None and row["iteration"] > divergence.at:
                break
        return rows

    def run_status(self, run: int) -> dict:
        divergence, history = self.run_divergence(run), self.run_history(run)
        return {"completed_iterations": history[-1]["iteration"] if history else self.step,
                "diverged": divergence is not None,
                "diverged_at_iteration": None if divergence is None else divergence.at,
                "model_iteration": self.kept_iteration.get(run, self.step),
                "reason": None if divergence is None else divergence.reason,
                "likelihood": likelihood_record(self.config.runs[run])}

    # -- state ---------------------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "regulariser": self.regulariser.state_dict(),
                "randomness": {"noise": self.noise.state_dict(), "permutations": self.permutations.state_dict()},
                "kept": {str(run): state for run, state in self.kept.items()},
                "kept_iteration": {str(run): at for run, at in self.kept_iteration.items()}}

    def load_extra_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.regulariser.load_state_dict(state["regulariser"])
        self.noise.load_state_dict(state["randomness"]["noise"])
        self.permutations.load_state_dict(state["randomness"]["permutations"])
        self.kept = {int(run): weights for run, weights in state["kept"].items()}
        self.kept_iteration = {int(run): at for run, at in state["kept_iteration"].items()}


# -- pipeline stage and loading ----------------------------------------------------------------------------------

def run_dpvae(config: DpVAEStackConfig | DpVAEConfig, train_data: torch.Tensor, run_dirs: list[str | Path],
              checkpoint: str | Path, device: torch.device | str = "cpu") -> list[dict]:
    """Train ``iterations`` of every run (resuming from ``checkpoint``, the stack's, if it holds this stack), then
    write final.pt (the last finite model), history.csv and status.json into each run's directory, and remove the
    checkpoint. Returns the runs' statuses."""
    stack = DpVAEStackConfig.of(config)
    if len(run_dirs) != len(stack.runs):
        raise ValueError(f"a stack of {len(stack.runs)} runs needs {len(stack.runs)} run directories, "
                         f"got {len(run_dirs)}")
    state_file = Checkpoint(checkpoint, stack.to_dict())
    trainer = DpVAETrainer(stack, train_data, device)
    trainer.train(stack.base.iterations, state_file, progress=True)
    statuses = [write_run_outputs(trainer, run, Path(run_dir)) for run, run_dir in enumerate(run_dirs)]
    state_file.remove()
    return statuses


def write_run_outputs(trainer: DpVAETrainer, run: int, out_dir: Path) -> dict:
    """Run ``run``'s final.pt (a single-run model, as ``load_dpvae`` reads it), history.csv and status.json."""
    status, config = trainer.run_status(run), trainer.config.runs[run]
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(trainer.run_history(run)).to_csv(out_dir / "history.csv", index=False)
    (out_dir / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    save_with_config({"config": config.to_dict(), "model": trainer.run_weights(run),
                      "iteration": status["model_iteration"], "likelihood": status["likelihood"]},
                     out_dir / "final.pt")
    return status


@dataclass
class DpVAESnapshot:
    config: DpVAEConfig
    model: DpVAE
    iteration: int
    likelihood: dict


def load_dpvae(path: str | Path, device: torch.device | str = "cpu") -> DpVAESnapshot:
    """Rebuild the model of a final.pt (in eval mode, on ``device``) with its configuration and likelihood."""
    payload = load_state_file(path, "a dpVAE final.pt", "rule dpvae_train (vaepriors dpvae-train)",
                              ("config", "model", "iteration", "likelihood"))
    config = DpVAEConfig.from_dict(payload["config"])
    model = build_run(config, 0)  # weights replaced by the run's
    model.load_state_dict(payload["model"])
    return DpVAESnapshot(config, model.to(device).eval(), payload["iteration"], payload["likelihood"])
