"""The training engine: per-run divergence read once per interval, checkpoints bound to their configuration."""

import logging
import math
from dataclasses import asdict, dataclass

import pytest
import torch

from vaepriors.core.training.engine import (Checkpoint, DivergenceMonitor, IntervalTrainer, LoopSettings,
                                       config_differences, spawn_seeds)


@dataclass(frozen=True)
class Settings:
    x: int = 1

    def to_dict(self):
        return asdict(self)


class Counter(IntervalTrainer):
    """Run r adds r + 1 per unit; run 2 turns NaN at unit 7 (its term ``b``)."""

    def __init__(self, x: int = 1):
        super().__init__(3, "cpu")
        self.config = Settings(x)
        self.value = torch.zeros(3)
        self.intervals = []

    def train_unit(self, unit):
        self.value += torch.tensor([1.0, 2.0, 3.0])
        if unit == 7:
            self.value[2] = math.nan
        return {"a": self.value.clone(), "b": self.value * 2}

    def begin_interval(self, start):
        self.intervals.append(start)

    def extra_state(self):
        return {"value": self.value.clone()}

    def load_extra_state(self, state):
        self.value = state["value"].clone()


def test_divergence_is_recorded_per_run_with_unit_and_terms():
    trainer = Counter()
    trainer.run(LoopSettings(12, "iteration", log_every=5, progress=False))
    assert trainer.intervals == [0, 5, 10]
    assert [(d.run, d.at, d.reason) for d in trainer.divergences] == [(2, 7, "non-finite a, b at iteration 7")]
    assert trainer.value[:2].tolist() == [12.0, 24.0]  # the healthy runs trained to the end
    assert [row["iteration"] for row in trainer.history] == [5, 10, 12]
    assert trainer.history[0]["a"] == pytest.approx(6.0)  # units 1..5 of all runs: mean 3 (r + 1) over r
    assert trainer.history[2]["a"] == pytest.approx(((11 + 12) / 2 + (22 + 24) / 2) / 2)  # run 2 left out


def test_monitor_keeps_the_first_divergence_only():
    monitor = DivergenceMonitor(2, torch.device("cpu"))
    monitor.observe(3, {"x": torch.tensor([1.0, math.inf])})
    monitor.observe(4, {"x": torch.tensor([math.nan, math.nan]), "y": torch.tensor([0.0, math.nan])})
    found = monitor.poll("epoch")
    assert [(d.run, d.at, d.reason) for d in found] == [(0, 4, "non-finite x at epoch 4"),
                                                        (1, 3, "non-finite x at epoch 3")]
    assert monitor.poll("epoch") == []


def test_resume_from_a_checkpoint_equals_the_uninterrupted_loop(tmp_path):
    straight = Counter()
    straight.run(LoopSettings(12, log_every=5, progress=False))
    first = Counter()
    first.run(LoopSettings(9, log_every=5, checkpoint_every=5, progress=False),
              Checkpoint(tmp_path / "c.pt", {"x": 1}))
    resumed = Counter()
    resumed.run(LoopSettings(12, log_every=5, progress=False), Checkpoint(tmp_path / "c.pt", {"x": 1}))
    assert resumed.intervals == [5, 10]
    assert torch.equal(resumed.value.nan_to_num(), straight.value.nan_to_num())
    assert resumed.divergences == straight.divergences and resumed.history == straight.history
    with pytest.raises(ValueError, match="does not match this run.*\n  x: 1 -> 2"):
        Counter(x=2).load_state_dict(first.state_dict())


def test_a_checkpoint_of_another_configuration_is_moved_aside_with_the_differences(tmp_path, caplog):
    Checkpoint(tmp_path / "c.pt", {"lr": 1e-3, "seed": 0, "nested": {"k": 1}}).save({"position": 3})
    with caplog.at_level(logging.WARNING):
        assert Checkpoint(tmp_path / "c.pt", {"lr": 2e-4, "seed": 0, "nested": {"k": 2}}).load() is None
    assert "lr: 0.001 -> 0.0002" in caplog.text and "nested.k: 1 -> 2" in caplog.text
    assert not (tmp_path / "c.pt").exists() and len(list(tmp_path.glob("c.pt.stale-*"))) == 1
    assert config_differences({"a": 1}, {"a": 1, "b": 2}) == ["b: '<absent>' -> 2"]


def test_spawned_seeds_are_distinct_and_reproducible():
    assert spawn_seeds(3, 4) == spawn_seeds(3, 4)
    assert len(set(spawn_seeds(3, 4) + spawn_seeds(4, 4))) == 8


def test_a_long_cpu_job_warns_early_with_its_projected_time(caplog, monkeypatch):
    """The first units are timed on the CPU and the rest projected, so a days-long CPU job is flagged at its start."""
    from types import SimpleNamespace

    from vaepriors.core.training import cpu_projection

    times = iter([0.0, 9000.0])  # the first unit takes 2.5 h
    monkeypatch.setattr(cpu_projection, "time", SimpleNamespace(monotonic=lambda: next(times)))
    with caplog.at_level(logging.INFO):
        Counter().run(LoopSettings(25, "iteration", log_every=5, progress=False))
    projected = [(r.levelno, r.getMessage()) for r in caplog.records if "training on the CPU" in r.getMessage()]
    assert projected == [(logging.WARNING, "training on the CPU: 2.5 h per iteration over the first 1, so the 24 "
                          "iterations left take about 2.5 days (rough: later phases may cost more); run it on a GPU "
                          "node (--device cuda fails where none is visible)")]
