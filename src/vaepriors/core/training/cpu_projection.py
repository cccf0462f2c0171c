"""How long a training job on the CPU will take, said early: ``--device auto`` runs on the CPU on a node without a
visible GPU, and a paper-scale job that takes hours on a GPU then takes days.

The projection is the time per unit measured over this process's first units (until ``MEASURE_SECONDS`` have
passed or the first interval ends), times the units left. It is rough: phases that cost more per unit (the
adversarial phase after a warm-up, evaluation snapshots) are not in it yet. It is logged once, as a warning when it
exceeds ``LONG_JOB_SECONDS``. On a GPU nothing is measured (timing would need a host synchronisation per unit).
"""

from __future__ import annotations

import logging
import time

import torch

log = logging.getLogger(__name__)

MEASURE_SECONDS = 10.0
LONG_JOB_SECONDS = 3600.0


class CpuProjection:
    """Call ``tick(position)`` after each unit; it logs the projection once, then does nothing."""

    def __init__(self, device: torch.device, position: int, total: int, unit_name: str):
        self.pending = device.type == "cpu" and position < total
        self.start_time, self.start, self.total, self.unit_name = time.monotonic(), position, total, unit_name

    def tick(self, position: int, interval_ended: bool = False) -> None:
        if not self.pending:
            return
        elapsed = time.monotonic() - self.start_time
        if elapsed < MEASURE_SECONDS and not interval_ended:
            return
        self.pending = False
        done, left = position - self.start, self.total - position
        remaining = elapsed / done * left
        level = logging.WARNING if remaining > LONG_JOB_SECONDS else logging.INFO
        log.log(level, "training on the CPU: %s per %s over the first %d, so the %d %ss left take about %s "
                "(rough: later phases may cost more)%s", duration(elapsed / done), self.unit_name, done, left,
                self.unit_name, duration(remaining), "; run it on a GPU node (--device cuda fails where none is visible)"
                if level == logging.WARNING else "")


def duration(seconds: float) -> str:
    """Seconds in the largest unit that keeps the number readable: 0.052 s, 40 s, 12 min, 3.5 h, 2.1 days."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
