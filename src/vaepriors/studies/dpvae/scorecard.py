"""The dpVAE study's part of the reproduction scorecard (``core.reporting.scorecard``): the cells of its Table 1 from
the tidy CSV (every variant; the paper is compared with the ``authors`` runs, docs/dpvae.md "Variants"), and the
claim §5.2 makes from it.

Claim (dpVAE paper §5.2): "dpVAEs perform better than their corresponding regularized VAEs without the decoupled
prior for each dataset": per data set, regulariser and Table 1 metric (FID, FID (LP), sKL, "NLL"), the decoupled
prior's value below the standard prior's, on the paper-compatible (``authors``) runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.core.reporting.scorecard import CELL_COLUMNS, CellRef, Claim, not_comparable, scale_label
from vaepriors.studies.dpvae.paper_values import REGULARISERS, TABLE1_METRICS

PAPER = "dpVAEs: Fixing Sample Generation for Regularized VAEs"
STUDY = "dpvae"
PAPER_COMPATIBLE_VARIANT = "authors"
CORRECTED = "corrected objective (per-sample scaling, exact estimators); the paper's numbers come from the authors'"


def _reason(row: pd.Series, scale: str) -> str:
    """Why a cell does not compare with the paper's: the corrected objective, or another FID extractor (a cell
    without a paper value, e.g. two moons', needs no reason: its verdict says so)."""
    definition = ""
    if row["reduction"] != "authors":
        definition = CORRECTED
    elif not row["paper_comparable"] and isinstance(row["fid_extractor"], str):
        definition = f"FID extractor {row['fid_extractor']} ({describe_extractor(row['fid_extractor'])[0]})"
    return not_comparable(definition, scale)


def table1_cells(path: str | Path, scale: str) -> pd.DataFrame:
    """Table 1 rows -> scorecard cells (the paper prints no spread; rows without a paper value too: claims read
    them)."""
    frame = pd.read_csv(path)
    return pd.DataFrame({
        "study": STUDY, "paper": PAPER, "table": "dpvae_table1", "dataset": frame["dataset"],
        "row": frame["regulariser"] + "/" + frame["prior"], "column": frame["variant"], "metric": frame["metric"],
        "scale": scale_label(scale), "ours_mean": frame["mean"], "ours_sem": frame["sem"],
        "n": frame["n"].astype(int), "n_runs": frame["n_runs"].astype(int),
        "n_diverged": frame["n_diverged"].astype(int), "paper_mean": frame["paper_value"],
        "paper_pm": float("nan"), "lower_is_better": True, "exact": False,
        "not_comparable": [_reason(row, scale) for _, row in frame.iterrows()]}, columns=list(CELL_COLUMNS))


def claims(datasets) -> list[Claim]:
    """§5.2 (module docstring): decoupled below standard, per data set, regulariser and metric."""
    return [Claim(f"dpvae-decoupled-{metric}-{regulariser}-{dataset}", PAPER, "§5.2, Table 1",
                  f"the decoupled prior lowers {metric} for {regulariser}",
                  CellRef("dpvae_table1", dataset, f"{regulariser}/decoupled", metric, PAPER_COMPATIBLE_VARIANT),
                  CellRef("dpvae_table1", dataset, f"{regulariser}/standard", metric, PAPER_COMPATIBLE_VARIANT),
                  lower_is_better=True)
            for dataset in datasets for regulariser in REGULARISERS for metric in TABLE1_METRICS]
