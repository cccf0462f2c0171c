"""The training engine of every study: seed streams, the resumable interval loop, checkpoints, per-run divergence,
progress and logging, written once.

A study's trainer subclasses ``IntervalTrainer`` and supplies what is specific to it: ``train_unit(u)`` (one
iteration or one epoch of its R stacked runs, returning per-run terms as device tensors), and optionally
``begin_interval`` / ``end_interval`` (phase changes, snapshots, what a diverged run keeps) and its state. The
engine runs units [position, total) in intervals that end on multiples of ``log_every``; inside an interval nothing
reads a device value on the host, so a GPU step is never stalled by a synchronisation: divergence flags accumulate
on the device (``DivergenceMonitor``) and are read once per interval, with the first non-finite unit of each run and
the names of its non-finite terms. A checkpoint is written atomically every ``checkpoint_every`` units and when a run
diverges; started again, the trainer resumes from it if its configuration is the same, and otherwise moves the stale
file aside with a warning that lists the differing fields (it never resumes from another configuration).
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vaepriors.core.atomic import save_atomic
from vaepriors.core.state_files import load_state_file
from vaepriors.core.training.cpu_projection import CpuProjection

log = logging.getLogger(__name__)
Terms = dict[str, torch.Tensor]


def spawn_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent 64-bit seeds derived from one run seed (numpy's SeedSequence)."""
    return [int(s.generate_state(1, np.uint64)[0]) for s in np.random.SeedSequence(seed).spawn(count)]


@dataclass(frozen=True)
class RunDivergence:
    """Run ``run`` had its first non-finite term at unit ``at``; ``reason`` names the terms."""

    run: int
    at: int
    reason: str


class DivergenceMonitor:
    """Per-run first non-finite unit and term names, kept on the device and read only by ``poll``."""

    def __init__(self, runs: int, device: torch.device):
        self.first_bad = torch.full((runs,), -1, dtype=torch.int64, device=device)
        self.unit = torch.zeros((), dtype=torch.int64, device=device)
        self.bad_terms: dict[str, torch.Tensor] = {}
        self.reported: set[int] = set()

    def observe(self, unit: int, terms: Terms) -> None:
        """Record the runs whose terms (each (R,)) are non-finite at ``unit``, if they were finite before."""
        self.unit.fill_(unit)
        finite = {name: torch.isfinite(value.detach()) for name, value in terms.items()}
        new = (self.first_bad < 0) & ~torch.stack(list(finite.values())).all(0)
        self.first_bad = torch.where(new, self.unit, self.first_bad)
        for name, ok in finite.items():
            previous = self.bad_terms.get(name, torch.zeros_like(ok))
            self.bad_terms[name] = torch.where(new, ~ok, previous)

    def poll(self, unit_name: str) -> list[RunDivergence]:
        """Divergences not reported before (one host synchronisation)."""
        first_bad = self.first_bad.tolist()
        flags = {name: value.tolist() for name, value in self.bad_terms.items()}
        found = []
        for run, at in enumerate(first_bad):
            if at >= 0 and run not in self.reported:
                names = ", ".join(sorted(name for name, bad in flags.items() if bad[run]))
                found.append(RunDivergence(run, at, f"non-finite {names} at {unit_name} {at}"))
                self.reported.add(run)
        return found

    def state_dict(self) -> dict:
        return {"first_bad": self.first_bad.cpu(), "bad_terms": {k: v.cpu() for k, v in self.bad_terms.items()},
                "reported": sorted(self.reported)}

    def load_state_dict(self, state: dict) -> None:
        device = self.first_bad.device
        self.first_bad = state["first_bad"].to(device)
        self.bad_terms = {name: value.to(device) for name, value in state["bad_terms"].items()}
        self.reported = set(state["reported"])


def config_differences(saved: dict, current: dict) -> list[str]:
    """``field: saved -> current`` for every field that differs (nested dicts by dotted name)."""
    lines = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += [f"{key}.{line}" for line in config_differences(a, b)]
        elif a != b:
            lines.append(f"{key}: {a!r} -> {b!r}")
    return lines


class Checkpoint:
    """An atomic training-state file bound to one configuration (``config`` is its ``to_dict()``)."""

    def __init__(self, path: str | Path, config: dict):
        self.path, self.config = Path(path), config

    def save(self, state: dict) -> None:
        save_atomic({"config": self.config, **state}, self.path)

    def load(self) -> dict | None:
        """The saved state, or None if there is none or it belongs to another configuration (then moved aside)."""
        if not self.path.exists():
            return None
        state = load_state_file(self.path, "a training checkpoint", "the training job that resumes from it",
                                ("config",))
        differences = config_differences(state["config"], self.config)
        if not differences:
            return state
        stale = self.path.with_name(f"{self.path.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
        self.path.rename(stale)
        log.warning("%s was written by another configuration; not resuming from it (moved to %s). Differences "
                    "(checkpoint -> now):\n  %s", self.path, stale, "\n  ".join(differences))
        return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class LoopSettings:
    """``total`` units named ``unit_name``; a history row every ``log_every`` units, a checkpoint every
    ``checkpoint_every`` (0: none); progress bars refresh at most every ``progress_seconds``."""

    total: int
    unit_name: str = "iteration"
    log_every: int = 100
    checkpoint_every: int = 0
    progress: bool = True
    progress_seconds: float = 30.0


def _summary(row: dict[str, Any]) -> str:
    """A history row for the log: numbers, and the mean over runs of per-run lists."""
    values = {k: (math.fsum(v) / len(v) if v and all(isinstance(x, float) for x in v) else None)
              if isinstance(v, list) else v for k, v in row.items()}
    return " ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float))


class IntervalTrainer(ABC):
    """R stacked runs trained in resumable intervals; subclasses implement ``train_unit`` and the state they add."""

    runs: int
    device: torch.device
    config: Any  # a typed configuration dataclass with ``to_dict()``

    def __init__(self, runs: int, device: torch.device | str):
        self.runs, self.device = runs, torch.device(device)
        self.position = 0
        self.history: list[dict[str, Any]] = []
        self.divergences: list[RunDivergence] = []
        self.monitor = DivergenceMonitor(runs, self.device)

    # -- what a study supplies ------------------------------------------------------------------------------------
    @abstractmethod
    def train_unit(self, unit: int) -> Terms:
        """Train one unit of every run; returns per-run terms (R,) on the device (not read on the host)."""

    def begin_interval(self, start: int) -> None:
        """Before units [start, ...): phase changes, snapshots, keeping what a diverging run falls back to."""

    def end_interval(self, start: int, end: int, new: list[RunDivergence]) -> dict[str, Any]:
        """After units [start, end): react to new divergences; extra columns of the history row."""
        return {}

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    # -- the loop -------------------------------------------------------------------------------------------------
    @property
    def diverged_runs(self) -> set[int]:
        return {d.run for d in self.divergences}

    def interval_end(self, start: int, settings: LoopSettings) -> int:
        return min(settings.total, (start // settings.log_every + 1) * settings.log_every)

    def mark_diverged(self, reason: str) -> None:
        """Record every run as diverged at unit 0 for ``reason`` without training it (e.g. a grid with no point to
        train at): the job still writes its runs, and the evaluation and tables report them as diverged."""
        self.divergences = [RunDivergence(run, 0, reason) for run in range(self.runs)]
        self.monitor.reported = set(range(self.runs))

    def resume(self, checkpoint: Checkpoint, unit_name: str) -> bool:
        """Load ``checkpoint`` if it holds a state of this configuration; True if it did."""
        state = checkpoint.load()
        if state is None:
            return False
        self.load_state_dict(state)
        log.info("resumed from %s at %s %d", checkpoint.path, unit_name, self.position)
        return True

    def run(self, settings: LoopSettings, checkpoint: Checkpoint | None = None, resume: bool = True) -> None:
        """Train units [position, total), resuming from ``checkpoint`` first unless ``resume`` is False (the caller
        did); stops early when every run has diverged."""
        if checkpoint is not None and resume:
            self.resume(checkpoint, settings.unit_name)
        bar = tqdm(total=settings.total, initial=self.position, unit=settings.unit_name, disable=not settings.progress,
                   mininterval=settings.progress_seconds, dynamic_ncols=False, ncols=100)
        projection = CpuProjection(self.device, self.position, settings.total, settings.unit_name)
        while self.position < settings.total and len(self.diverged_runs) < self.runs:
            start, end = self.position, self.interval_end(self.position, settings)
            self.begin_interval(start)
            sums: dict[str, torch.Tensor] = {}
            for unit in range(start, end):
                terms = self.train_unit(unit)
                self.monitor.observe(unit, terms)
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0) + value.detach()
                bar.update(1)
                projection.tick(unit + 1)
            new = self.monitor.poll(settings.unit_name)
            for divergence in new:
                log.warning("run %d diverged: %s", divergence.run, divergence.reason)
            self.divergences += new
            row = {settings.unit_name: end, **self.interval_means(sums, end - start),
                   **self.end_interval(start, end, new)}
            self.history.append(row)
            self.position = end
            projection.tick(end, interval_ended=True)
            log.info("%s %d/%d %s", settings.unit_name, end, settings.total, _summary(row))
            due = settings.checkpoint_every and end % settings.checkpoint_every == 0
            if checkpoint is not None and (due or new) and end < settings.total:
                checkpoint.save(self.state_dict())
        bar.close()
        if len(self.diverged_runs) == self.runs:
            log.warning("every run diverged; stopped at %s %d", settings.unit_name, self.position)

    def interval_means(self, sums: dict[str, torch.Tensor], units: int) -> dict[str, float]:
        """Mean of each term over the interval and the runs that have not diverged (NaN if none is left)."""
        healthy = torch.ones(self.runs, dtype=torch.bool)
        healthy[list(self.diverged_runs)] = False
        means = {}
        for name, total in sums.items():
            values = (total.float().cpu() / units)[healthy]
            means[name] = values.mean().item() if len(values) else math.nan
        return means

    # -- state ----------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"config": self.config.to_dict(), "position": self.position, "history": self.history,
                "divergences": [asdict(d) for d in self.divergences], "monitor": self.monitor.state_dict(),
                "study": self.extra_state()}

    def load_state_dict(self, state: dict, config: dict | None = None) -> None:
        """Restore a state of this configuration (or of ``config``, e.g. a shared warm-up's); a state of another
        configuration is refused with the differing fields."""
        differences = config_differences(state["config"], config or self.config.to_dict())
        if differences:
            raise ValueError("the saved state's configuration does not match this run (saved -> this run):\n  "
                             + "\n  ".join(differences))
        self.position, self.history = state["position"], list(state["history"])
        self.divergences = [RunDivergence(**d) for d in state["divergences"]]
        self.monitor.load_state_dict(state["monitor"])
        self.load_extra_state(state["study"])
