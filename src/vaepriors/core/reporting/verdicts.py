"""Verdicts of the reproduction scorecard: one reproduced cell against the paper's, one claim of a paper against our
numbers (docs/reproduction.md).

A cell is *reproduced* when ours lies within ``WITHIN`` combined standard errors of the paper's value,
SE_c = sqrt(SE_ours^2 + SE_paper^2) (a single seed has no SE; a value printed without "±" has none either); outside,
it is *better* or *worse* in the metric's direction (*differs* for a metric without one). It is *not comparable*,
with the reason, when the definitions differ (another FID extractor, reduced scale, a corrected objective), when no
run left a value (diverged) or when neither side has a spread, so no distance in SE units exists. Exact cells (a grid
optimum) are reproduced when equal and differ otherwise.

A claim is an ordering between two cells ("IP lowers the histogram KL against SG"): it *holds* when the advantage
exceeds ``WITHIN`` standard errors of the difference, *fails* when the reverse does, and is *not significant*
otherwise (also without any spread, e.g. single seeds); *not available* when a cell is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WITHIN = 2.0  # combined standard errors


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error over n seeds (n_runs trained, n_diverged of them left out)."""

    mean: float
    sem: float = math.nan
    n: int = 1
    n_runs: int = 1
    n_diverged: int = 0

    @property
    def has_value(self) -> bool:
        return self.n > 0 and math.isfinite(self.mean)

    @property
    def spread(self) -> float:
        """The standard error, 0 where there is none (a single seed, a value printed alone)."""
        return self.sem if self.n >= 2 and math.isfinite(self.sem) else 0.0


@dataclass(frozen=True)
class Verdict:
    label: str
    z: float = math.nan  # (ours - paper) / SE_c; for a claim, its advantage / SE of the difference
    reason: str = ""


def _missing(estimate: Estimate) -> str:
    if estimate.n_diverged and estimate.n_diverged >= estimate.n_runs:
        return f"all {estimate.n_runs} runs diverged"
    return "no value"


def cell_verdict(ours: Estimate, paper: Estimate, lower_is_better: bool | None, not_comparable: str = "",
                 exact: bool = False) -> Verdict:
    """The verdict of one cell (module docstring); ``not_comparable`` names why the definitions differ."""
    if not ours.has_value:
        return Verdict("not comparable", reason=_missing(ours))
    if not paper.has_value:
        return Verdict("not comparable", reason="the paper reports no value")
    difference = ours.mean - paper.mean
    combined = math.hypot(ours.spread, paper.spread)
    z = difference / combined if combined > 0 else math.nan
    note = f"{ours.n_diverged} of {ours.n_runs} runs diverged" if ours.n_diverged else ""
    if not_comparable:
        return Verdict("not comparable", z, "; ".join(filter(None, (not_comparable, note))))
    if exact:
        return Verdict("reproduced" if difference == 0 else "differs", z, note)
    if combined == 0:
        return Verdict("not comparable", reason="; ".join(filter(None, (
            "no spread on either side (a single seed and a value printed without ±)", note))))
    if abs(z) <= WITHIN:
        return Verdict("reproduced", z, note)
    if lower_is_better is None:
        return Verdict("differs", z, note)
    return Verdict("better" if (difference < 0) == lower_is_better else "worse", z, note)


def claim_verdict(better: Estimate, worse: Estimate, lower_is_better: bool) -> Verdict:
    """Whether ``better`` beats ``worse`` beyond the seeds' spread (module docstring)."""
    for estimate in (better, worse):
        if not estimate.has_value:
            return Verdict("not available", reason=_missing(estimate))
    advantage = (worse.mean - better.mean) if lower_is_better else (better.mean - worse.mean)
    spread = math.hypot(better.spread, worse.spread)
    if spread == 0:
        return Verdict("not significant", reason="no spread (single seeds or values printed without ±): "
                                                 f"the ordering {'holds' if advantage > 0 else 'fails'} as printed")
    z = advantage / spread
    if z > WITHIN:
        return Verdict("holds", z)
    if z < -WITHIN:
        return Verdict("fails", z)
    return Verdict("not significant", z)
