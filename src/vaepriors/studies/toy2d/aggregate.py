"""Read the evaluator's metrics CSVs and reduce them: over seeds (mean ± sem) and over a grid (the optimum).

Seed statistics follow `core.reporting.statistics` (the paper's "±" is a population-std standard error); diverged runs
(non-empty `diverged_at`) and non-finite values are left out of them and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from vaepriors.core.reporting import statistics
from vaepriors.core.reporting.statistics import STATISTIC_COLUMNS
from vaepriors.studies.toy2d.metric_names import METRIC_COLUMNS, display_factor, summary_name
from vaepriors.studies.toy2d.selection import diverged

IDENTITY_COLUMNS: tuple[str, ...] = ("dataset", "configuration")
SEED_COLUMNS: tuple[str, ...] = IDENTITY_COLUMNS + ("diverged_at",) + METRIC_COLUMNS
GRID_COLUMNS: tuple[str, ...] = SEED_COLUMNS + ("run", "beta_rec", "beta_kl", "beta_neg")
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


def summarise(
    metrics: pd.DataFrame,
    identity: Sequence[str] = IDENTITY_COLUMNS,
    columns: Sequence[str] = METRIC_COLUMNS,
    failed: Callable[[pd.DataFrame], pd.Series] = diverged,
) -> pd.DataFrame:
    """One row per (`identity`..., metric); gnELBO is scaled ×1e7 and renamed `gnelbo_paper_x1e7`."""
    return statistics.summarise(metrics, identity, columns, failed, display_factor, summary_name)
