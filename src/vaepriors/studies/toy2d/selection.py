"""Grid-search model selection: the authors keep the run with the lowest histogram KL (reference §7.2).

Used both to train the seeds at the optimum (``toy-train --optimum-from``) and to report it (Table 3).
"""

from __future__ import annotations

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


def optimum_betas(metrics_csv: str | Path) -> tuple[float, float, float]:
    """(beta_rec, beta_kl, beta_neg) of the grid optimum stored in a metrics CSV."""
    grid = pd.read_csv(metrics_csv, dtype={"diverged_at": str})
    missing = {SELECTION_METRIC, "diverged_at", "beta_rec", "beta_kl", "beta_neg"} - set(grid.columns)
    if missing:
        raise ValueError(f"{metrics_csv}: not a grid metrics CSV, missing column(s) {sorted(missing)}")
    best = select_optimum(grid)
    if best is None:
        raise ValueError(f"{metrics_csv}: no finite {SELECTION_METRIC} among {len(grid)} grid runs: all diverged")
    return float(best["beta_rec"]), float(best["beta_kl"]), float(best["beta_neg"])
