"""Statistics over seeds, the one convention of every table of the three studies.

The papers' "±" is a standard error with numpy's population std, std(ddof=0)/sqrt(n) (the S-IntroVAE authors' compile
script; the Prior Learning paper's text calls it a standard deviation); the sample std (ddof=1) is kept beside it.
Failed runs (diverged, or a non-finite value) are left out of the statistics, as the authors' scripts skip crashed
runs, but they are counted, so a table can say how many seeds a cell stands on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

STATISTIC_COLUMNS: tuple[str, ...] = ("metric", "mean", "sem", "std", "n", "n_runs", "n_diverged")


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


def summarise(metrics: pd.DataFrame, identity: Sequence[str], columns: Sequence[str],
              failed: Callable[[pd.DataFrame], pd.Series], factor: Callable[[str], float] = lambda column: 1.0,
              name: Callable[[str], str] = lambda column: column) -> pd.DataFrame:
    """One row per (`identity`..., metric) with the seed statistics of the runs `failed` does not flag; a metric
    is multiplied by `factor(column)` and reported as `name(column)` (a paper that prints a value scaled)."""
    rows = []
    for keys, group in metrics.groupby(list(identity), sort=False):
        failures = failed(group).to_numpy(dtype=bool)
        kept = group[~failures]
        for column in columns:
            values = kept[column].to_numpy(dtype=float) * factor(column)
            rows.append({
                **dict(zip(identity, keys, strict=True)), "metric": name(column),
                **seed_statistics(values), "n_runs": len(group), "n_diverged": int(failures.sum()),
            })
    return pd.DataFrame(rows, columns=[*identity, *STATISTIC_COLUMNS])
