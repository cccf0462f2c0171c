"""Read the evaluator's metrics CSVs and reduce them: over seeds (mean ± sem) and over a grid (the optimum).

The "±" of the paper is a standard error with numpy's population std, std(ddof=0)/sqrt(n) (the authors' compile
script, reference §7.4); the sample std (ddof=1) is kept beside it. Diverged runs (non-empty `diverged_at`) and
non-finite values are left out of the statistics, as the authors' scripts skip crashed runs, but they are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vaepriors.studies.toy2d.selection import diverged
from vaepriors.studies.toy2d.metric_names import METRIC_COLUMNS, display_factor, summary_name

IDENTITY_COLUMNS: tuple[str, ...] = ("dataset", "configuration")
SEED_COLUMNS: tuple[str, ...] = IDENTITY_COLUMNS + ("diverged_at",) + METRIC_COLUMNS
GRID_COLUMNS: tuple[str, ...] = SEED_COLUMNS + ("run", "beta_rec", "beta_kl", "beta_neg")
STATISTIC_COLUMNS: tuple[str, ...] = ("metric", "mean", "sem", "std", "n", "n_runs", "n_diverged")
SUMMARY_COLUMNS: tuple[str, ...] = IDENTITY_COLUMNS + STATISTIC_COLUMNS


class MissingColumnError(ValueError):
    """A metrics CSV lacks a column of the docs/interfaces.md schema that a table needs."""


def read_metrics(paths: Iterable[str | Path], required: Sequence[str] = SEED_COLUMNS) -> pd.DataFrame:
    """Concatenate metrics CSVs in the given order, checking each one has the `required` columns."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype={"dataset": str, "configuration": str, "diverged_at": str})
        missing = [column for column in required if column not in frame.columns]
        if missing:
            raise MissingColumnError(
                f"{path}: missing required column(s) {', '.join(missing)} (metrics.csv schema, docs/interfaces.md)"
            )
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(required))
    return pd.concat(frames, ignore_index=True)


def seed_statistics(values: np.ndarray) -> dict[str, float]:
    """Mean, paper-style sem (ddof=0 std / sqrt(n)), sample std (ddof=1) and n over the finite values."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    n = finite.size
    return {
        "mean": finite.mean() if n else np.nan,
        "sem": finite.std(ddof=0) / np.sqrt(n) if n else np.nan,
        "std": finite.std(ddof=1) if n > 1 else np.nan,
        "n": n,
    }


def summarise(
    metrics: pd.DataFrame,
    identity: Sequence[str] = IDENTITY_COLUMNS,
    columns: Sequence[str] = METRIC_COLUMNS,
    failed: Callable[[pd.DataFrame], pd.Series] = diverged,
) -> pd.DataFrame:
    """One row per (`identity`..., metric); gnELBO is scaled ×1e7 and renamed `gnelbo_paper_x1e7`.

    Defaults are the 2D metrics CSV; the image tables pass their own identity (with `r_entropy`), metric keys and
    divergence flag, so both studies share one seed-statistics convention.
    """
    rows = []
    for keys, group in metrics.groupby(list(identity), sort=False):
        failures = failed(group).to_numpy(dtype=bool)
        kept = group[~failures]
        for column in columns:
            values = kept[column].to_numpy(dtype=float) * display_factor(column)
            rows.append({
                **dict(zip(identity, keys, strict=True)), "metric": summary_name(column),
                **seed_statistics(values), "n_runs": len(group), "n_diverged": int(failures.sum()),
            })
    return pd.DataFrame(rows, columns=[*identity, *STATISTIC_COLUMNS])
