"""Grid-search model selection: the authors keep the run with the lowest histogram KL (reference §7.2).

Used both to train the seeds at the optimum (``toy-train --optimum-from``) and to report it (Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SELECTION_METRIC = "kl_paper"


def diverged(metrics: pd.DataFrame) -> pd.Series:
    """Runs whose training hit a non-finite loss (non-empty ``diverged_at``)."""
    return metrics["diverged_at"].notna() & (metrics["diverged_at"].astype(str).str.strip() != "")


def selectable(grid: pd.DataFrame, criterion: str = SELECTION_METRIC) -> np.ndarray:
    """Rows that can be selected: not diverged and with a finite criterion (the authors skip crashed runs)."""
    return np.isfinite(grid[criterion].to_numpy(dtype=float)) & ~diverged(grid).to_numpy()


def select_optimum(grid: pd.DataFrame, criterion: str = SELECTION_METRIC) -> pd.Series | None:
    """The row with the lowest finite criterion, the first one on ties (the authors' strict ``<``)."""
    values = grid[criterion].to_numpy(dtype=float)
    candidates = np.flatnonzero(selectable(grid, criterion))
    if candidates.size == 0:
        return None
    return grid.iloc[candidates[np.argmin(values[candidates])]]


@dataclass(frozen=True)
class GridOptimum:
    """The betas to train the seeds at; ``unselectable`` says why the grid had no optimum (every point diverged or
    non-finite), in which case the betas are its first point's, so that the seed job still runs and writes runs
    marked as diverged for the tables instead of blocking them."""

    betas: tuple[float, float, float]
    unselectable: str | None = None


def _betas(row: pd.Series) -> tuple[float, float, float]:
    return float(row["beta_rec"]), float(row["beta_kl"]), float(row["beta_neg"])


def grid_optimum(metrics_csv: str | Path) -> GridOptimum:
    """The grid optimum stored in a metrics CSV (lowest ``SELECTION_METRIC``), or its first point marked
    unselectable when no point is selectable."""
    grid = pd.read_csv(metrics_csv, dtype={"diverged_at": str})
    missing = {SELECTION_METRIC, "diverged_at", "beta_rec", "beta_kl", "beta_neg"} - set(grid.columns)
    if missing:
        raise ValueError(f"{metrics_csv}: not a grid metrics CSV, missing column(s) {sorted(missing)}")
    if grid.empty:
        raise ValueError(f"{metrics_csv}: the grid metrics CSV has no runs; evaluate the grid job again")
    best = select_optimum(grid)
    if best is not None:
        return GridOptimum(_betas(best))
    reason = (f"not trained: no grid point of {metrics_csv} is selectable ({int(diverged(grid).sum())} of "
              f"{len(grid)} diverged, none with a finite {SELECTION_METRIC})")
    return GridOptimum(_betas(grid.iloc[0]), reason)
