"""Choosing r_entropy per image configuration, as the paper does: the value with the lowest mean FID(GEN) over seeds.

The authors' compile script (reference §10.3, §12.2) groups the evaluated runs by (configuration, r_entropy), averages
over seeds and keeps, per configuration, the r with the lowest mean FID(GEN) (the paper-compatible FID). We do the
same from the evaluation JSON records (docs/images.md "Evaluation outputs"), and make failures explicit: a diverged
run or a non-finite value is left out of the means and counted; an r with no finite FID in any seed cannot be chosen;
a configuration without any such r is kept with status `NO_FINITE_R` instead of disappearing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vaepriors.core.reporting.statistics import summarise

SELECTION_KEY = "fid_gen_paper"
IDENTITY: tuple[str, ...] = ("dataset", "configuration", "r_entropy")
REQUIRED_KEYS: tuple[str, ...] = IDENTITY + ("seed", "diverged", "fid_extractor", "checkpoint_policy")
SELECTED, NO_FINITE_R = "selected", "no finite r"
SELECTION_COLUMNS: tuple[str, ...] = (
    "dataset", "configuration", "r_entropy", "status", "selection_key", "selection_mean", "n_r", "n_selectable_r",
)


class MissingKeyError(ValueError):
    """An evaluation record lacks a key of the docs/images.md JSON schema that a table needs."""


def records_frame(records: Iterable[Mapping], sources: Sequence[str] | None = None,
                  required: Sequence[str] = REQUIRED_KEYS) -> pd.DataFrame:
    """One row per evaluation record, checking each has the `required` keys (`sources` name them in errors)."""
    records = list(records)
    sources = sources or [f"record {i}" for i in range(len(records))]
    for record, source in zip(records, sources, strict=True):
        missing = [key for key in required if key not in record]
        if missing:
            raise MissingKeyError(f"{source}: missing key(s) {', '.join(missing)} (evaluation JSON, docs/images.md)")
    frame = pd.DataFrame(records, columns=None if records else list(required))
    frame["r_entropy"] = frame["r_entropy"].astype(float)
    frame["diverged"] = frame["diverged"].astype(bool)
    return frame


def load_records(paths: Iterable[str | Path], required: Sequence[str] = REQUIRED_KEYS) -> pd.DataFrame:
    """Read evaluation JSON files (in the given order) into one frame."""
    paths = [str(path) for path in paths]
    records = [json.loads(Path(path).read_text()) for path in paths]
    return records_frame(records, paths, required)


def failed_runs(records: pd.DataFrame) -> pd.Series:
    """Runs whose training diverged: left out of every mean and counted in `n_diverged`."""
    return records["diverged"].astype(bool)


def sweep_summary(records: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean ± paper-style sem over seeds per (dataset, configuration, r_entropy, metric), r ascending."""
    summary = summarise(records, IDENTITY, metrics, failed_runs)
    return summary.sort_values(list(IDENTITY), kind="stable").reset_index(drop=True)


def _choose(sweep: pd.DataFrame) -> tuple[float, str, float]:
    """(r, status, its mean) for one configuration's sweep sorted by r: the lowest finite mean, smallest r on ties."""
    means = sweep["mean"].to_numpy(dtype=float)
    finite = np.flatnonzero(np.isfinite(means))
    if finite.size == 0:
        return np.nan, NO_FINITE_R, np.nan
    best = finite[np.argmin(means[finite])]
    return float(sweep["r_entropy"].iloc[best]), SELECTED, float(means[best])


def select_r_entropy(records: pd.DataFrame, key: str = SELECTION_KEY) -> pd.DataFrame:
    """Per (dataset, configuration): the r_entropy with the lowest mean `key` over seeds (paper policy).

    Columns `SELECTION_COLUMNS`; `status` is `SELECTED`, or `NO_FINITE_R` (r_entropy NaN) when every r of the
    configuration has only diverged runs or non-finite values.
    """
    sweep = sweep_summary(records, [key])
    rows = []
    for (dataset, configuration), block in sweep.groupby(["dataset", "configuration"], sort=False):
        r, status, mean = _choose(block)
        rows.append({"dataset": dataset, "configuration": configuration, "r_entropy": r, "status": status,
                     "selection_key": key, "selection_mean": mean, "n_r": len(block),
                     "n_selectable_r": int(block["n"].gt(0).sum())})
    return pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
