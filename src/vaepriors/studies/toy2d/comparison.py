"""Our seed summaries beside the paper's reported values: the shared core of Tables 1 and 4.

Every paper dataset, metric and table column gets a row, whether or not we ran it, so a reduced run still yields the
whole table (our cells then read "--") and the tidy CSV always carries the paper's numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from vaepriors.core.reporting.latex import ours_cell, pm_cell
from vaepriors.core.reporting.ordering import paper_order
from vaepriors.studies.toy2d.metric_names import METRIC_LABELS, SUMMARY_METRICS
from vaepriors.studies.toy2d.paper_values import DATASET_NAMES, DATASETS, PaperTable

LONG_COLUMNS: tuple[str, ...] = (
    "dataset", "column", "configuration", "metric",
    "ours_mean", "ours_sem", "ours_std", "n", "n_runs", "n_diverged", "paper_mean", "paper_pm", "paper_comparable",
)
NOT_COMPARABLE = " (n.c.)"  # after a paper value measured differently from ours (the captions say how)
_NOT_RUN = {"ours_mean": np.nan, "ours_sem": np.nan, "ours_std": np.nan, "n": 0, "n_runs": 0, "n_diverged": 0}


def _ours(indexed: pd.DataFrame, dataset: str, configuration: str | None, metric: str) -> dict[str, float]:
    """Our statistics for one cell, or the not-run placeholders."""
    key = (dataset, configuration, metric)
    if configuration is None or key not in indexed.index:
        return dict(_NOT_RUN)
    row = indexed.loc[key]
    return {"ours_mean": row["mean"], "ours_sem": row["sem"], "ours_std": row["std"], "n": int(row["n"]),
            "n_runs": int(row["n_runs"]), "n_diverged": int(row["n_diverged"])}


def compare(summary: pd.DataFrame, columns: Mapping[str, str | None], paper: PaperTable) -> pd.DataFrame:
    """Tidy rows (dataset × metric × table column): ours beside the paper's value.

    `columns` maps a table column to the configuration that fills it; None marks a paper-only column (e.g. the
    authors' official code, which we do not run), which gets rows only for the metrics the paper reports.
    """
    indexed = summary.set_index(["dataset", "configuration", "metric"])
    rows = []
    datasets = paper_order(summary["dataset"], DATASETS)  # those in the data: a new one is shown, not dropped
    for dataset, metric, column in itertools.product(datasets, SUMMARY_METRICS, columns):
        reported = paper.get((dataset, metric), {}).get(column)
        if columns[column] is None and reported is None:
            continue
        rows.append({
            "dataset": dataset, "column": column, "configuration": columns[column], "metric": metric,
            **_ours(indexed, dataset, columns[column], metric),
            "paper_mean": reported.mean if reported else np.nan, "paper_pm": reported.pm if reported else np.nan,
            "paper_comparable": True,
        })
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def _ours_cell(row: pd.Series) -> str:
    """``ours_cell`` (the tables' one rule for seeds, single seeds and diverged runs); blank for a paper-only
    column."""
    if pd.isna(row["configuration"]):
        return ""
    return ours_cell(row["ours_mean"], row["ours_sem"], int(row["n"]), int(row["n_runs"]), int(row["n_diverged"]))


def _paper_cell(row: pd.Series) -> str:
    """'mean ± pm' of the paper, marked when it does not compare with ours."""
    return pm_cell(row["paper_mean"], row["paper_pm"]) + ("" if row["paper_comparable"] else NOT_COMPARABLE)


def display_frame(long: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """LaTeX cells: rows (dataset, metric, ours/paper), one column per table column, the paper row under ours."""
    keys, records = [], []
    for (dataset, metric), block in long.groupby(["dataset", "metric"], sort=False):
        prefix = (DATASET_NAMES.get(dataset, dataset), METRIC_LABELS[metric])
        keys.append(prefix + ("ours",))
        records.append({labels[row["column"]]: _ours_cell(row) for _, row in block.iterrows()})
        if block["paper_mean"].notna().any():
            keys.append(prefix + ("paper",))
            records.append({labels[row["column"]]: _paper_cell(row)
                            for _, row in block.iterrows() if np.isfinite(row["paper_mean"])})
    index = pd.MultiIndex.from_tuples(keys, names=["Dataset", "Metric", ""])
    return pd.DataFrame(records, index=index).reindex(columns=list(labels.values())).fillna("")
