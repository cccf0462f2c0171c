"""Grid-search model selection: the authors keep the run with the lowest histogram KL (reference §7.2)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

SELECTION_METRIC = "kl_paper"


def select_optimum(rows: list[dict]) -> dict:
    """The first row with the strictly lowest finite ``kl_paper``; diverged (NaN) runs are skipped."""
    finite = [row for row in rows if math.isfinite(float(row[SELECTION_METRIC]))]
    if not finite:
        raise ValueError(f"no finite {SELECTION_METRIC} among {len(rows)} grid runs: every run diverged")
    return min(finite, key=lambda row: float(row[SELECTION_METRIC]))


def optimum_betas(metrics_csv: str | Path) -> tuple[float, float, float]:
    """(beta_rec, beta_kl, beta_neg) of the grid optimum stored in a metrics CSV."""
    with open(metrics_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or SELECTION_METRIC not in rows[0]:
        raise ValueError(f"{metrics_csv}: expected a grid metrics CSV with a {SELECTION_METRIC!r} column")
    best = select_optimum(rows)
    return float(best["beta_rec"]), float(best["beta_kl"]), float(best["beta_neg"])
