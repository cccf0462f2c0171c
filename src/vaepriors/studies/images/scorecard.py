"""The image study's part of the reproduction scorecard (``core.reporting.scorecard``): the cells of Tables 2 and 5
(the selected r_entropy of each configuration, as the paper prints) from their tidy CSVs, and the claims §5.2 and
App. D.2 make from them.

Claims:
- §5.2: "learning the prior improves classification performance under the k-NN model across all datasets": k-NN
  accuracy (few and many labels) of MoG(K) + IP above SG, per data set, for K = 100 (Table 2, whose bold learned
  prior it is) and K = 10 (Table 5).
- §5.2: "allowing for learnable contributions under the IP configuration tends to decrease the normalized entropy of
  the responsibilities": entropy of MoG(K) + LC + IP below MoG(K) + IP, per data set, K = 100 and 10.
- App. D.2: "utilizing a sufficient number of prior modes is crucial for achieving optimal generation": FID(GEN) of
  MoG(100) + IP below MoG(10) + IP, per data set.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.core.reporting.scorecard import CELL_COLUMNS, CellRef, Claim, not_comparable, scale_label

PAPER = "Prior Learning in Introspective VAEs"
STUDY = "images"
HIGHER_IS_BETTER = ("svm", "knn", "precision", "recall")


def lower_is_better(metric: str) -> bool | None:
    """FIDs lower, accuracies (and precision/recall) higher; the responsibilities' entropy has no direction."""
    if metric.startswith("fid"):
        return True
    return False if metric.startswith(HIGHER_IS_BETTER) else None


def table_cells(table: str, path: str | Path, scale: str) -> pd.DataFrame:
    """The selected rows of Table 2 or 5 -> scorecard cells (those without a paper value too: claims read them)."""
    frame = pd.read_csv(path)
    frame = frame[frame["selected"].astype(bool)].reset_index(drop=True)
    reasons = []
    for _, row in frame.iterrows():
        definition = "" if row["paper_comparable"] or not isinstance(row["fid_extractor"], str) else (
            f"FID extractor {row['fid_extractor']} ({describe_extractor(row['fid_extractor'])[0]}); the paper's is "
            "Inception in train mode")
        reasons.append(not_comparable(definition, scale))
    return pd.DataFrame({
        "study": STUDY, "paper": PAPER, "table": table, "dataset": frame["dataset"], "row": frame["configuration"],
        "column": "", "metric": frame["metric"], "scale": scale_label(scale),
        "ours_mean": frame["mean"], "ours_sem": frame["sem"], "n": frame["n"].astype(int),
        "n_runs": frame["n_runs"].astype(int), "n_diverged": frame["n_diverged"].astype(int),
        "paper_mean": frame["paper_mean"], "paper_pm": frame["paper_pm"],
        "lower_is_better": frame["metric"].map(lower_is_better), "exact": False, "not_comparable": reasons},
        columns=list(CELL_COLUMNS))


def claims(datasets) -> list[Claim]:
    """§5.2 and App. D.2 (module docstring), per data set."""
    found = []
    for dataset in datasets:
        for k, table in ((100, "table2"), (10, "table5")):
            found += [Claim(f"images-knn-{metric}-mog{k}-{dataset}", PAPER, f"§5.2, Table {table[-1]}",
                            f"a learned prior improves {metric.replace('_', ' ')} accuracy: MoG({k}) + IP beats SG",
                            CellRef(table, dataset, f"mog{k}_ip", metric), CellRef(table, dataset, "sg", metric),
                            lower_is_better=False) for metric in ("knn_few", "knn_many")]
            found.append(Claim(f"images-lc-entropy-mog{k}-{dataset}", PAPER, f"§5.2, Table {table[-1]}",
                               f"learnable contributions under IP lower the responsibilities' entropy (MoG({k}))",
                               CellRef(table, dataset, f"mog{k}_lc_ip", "entropy"),
                               CellRef(table, dataset, f"mog{k}_ip", "entropy"), lower_is_better=True))
        found.append(Claim(f"images-modes-fid-{dataset}", PAPER, "App. D.2, Table 5",
                           "enough prior modes matter for generation: MoG(100) + IP beats MoG(10) + IP on FID(GEN)",
                           CellRef("table5", dataset, "mog100_ip", "fid_gen_paper"),
                           CellRef("table5", dataset, "mog10_ip", "fid_gen_paper"), lower_is_better=True))
    return found
