"""The 2D benchmark's part of the reproduction scorecard (``core.reporting.scorecard``): the cells of Tables 1, 3 and
4 from their tidy CSVs, and the claims §5.1 makes from Table 1.

Claims (paper §5.1, "Density estimation"): "IP improves the generation performance compared to when using the SG
prior or the fixed MoG ... more evident when looking at the histogram-based KL metric", i.e. per data set the
histogram KL of MoG + IP is below that of SG and of the fixed MoG, with and without learnable contributions. The paper
says "in most cases": each data set is one claim, and the scorecard checks each on the paper's numbers too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.scorecard import CELL_COLUMNS, CellRef, Claim, not_comparable, scale_label
from vaepriors.studies.toy2d.metric_names import summary_name

PAPER = "Prior Learning in Introspective VAEs"
STUDY = "toy2d"
KL, JSD, GNELBO = summary_name("kl_paper"), summary_name("jsd_paper"), summary_name("gnelbo_paper")
LOWER_IS_BETTER: dict[str, bool] = {KL: True, JSD: True, GNELBO: True, summary_name("kl_mass"): True,
                                    summary_name("jsd"): True, summary_name("log_likelihood_grid"): False}
GNELBO_GRID = "gnELBO summed over another grid than the paper's 1024 x 1024 points (it scales with the grid)"


def _statistics_cells(table: str, frame: pd.DataFrame, scale: str, column) -> pd.DataFrame:
    """Table 1 / 4 rows of our configurations -> scorecard cells (those without a paper value too: claims read
    them)."""
    return pd.DataFrame({
        "study": STUDY, "paper": PAPER, "table": table, "dataset": frame["dataset"], "row": frame["configuration"],
        "column": column, "metric": frame["metric"], "scale": scale_label(scale),
        "ours_mean": frame["ours_mean"], "ours_sem": frame["ours_sem"], "n": frame["n"].astype(int),
        "n_runs": frame["n_runs"].astype(int), "n_diverged": frame["n_diverged"].astype(int),
        "paper_mean": frame["paper_mean"], "paper_pm": frame["paper_pm"],
        "lower_is_better": frame["metric"].map(LOWER_IS_BETTER), "exact": False,
        "not_comparable": [not_comparable("" if comparable else GNELBO_GRID, scale)
                           for comparable in frame["paper_comparable"].astype(bool)]},
        columns=list(CELL_COLUMNS))


def table1_cells(path: str | Path, scale: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return _statistics_cells("table1", frame, scale, "")


def table4_cells(path: str | Path, scale: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame = frame[frame["configuration"].notna()].reset_index(drop=True)  # the paper-only columns have no runs
    return _statistics_cells("table4", frame, scale, frame["column"])


def table3_cells(path: str | Path, scale: str) -> pd.DataFrame:
    """The grid optimum's betas: exact cells (reproduced when equal)."""
    frame = pd.read_csv(path)
    frame = frame[frame["paper"].notna() & frame["ours"].notna()].reset_index(drop=True)
    return pd.DataFrame({
        "study": STUDY, "paper": PAPER, "table": "table3", "dataset": frame["dataset"],
        "row": frame["configuration"], "column": frame["parameter"], "metric": frame["parameter"],
        "scale": scale_label(scale), "ours_mean": frame["ours"], "ours_sem": float("nan"), "n": 1, "n_runs": 1,
        "n_diverged": 0, "paper_mean": frame["paper"], "paper_pm": float("nan"), "lower_is_better": None,
        "exact": True, "not_comparable": not_comparable("", scale)}, columns=list(CELL_COLUMNS))


def claims(datasets) -> list[Claim]:
    """§5.1: IP lowers the histogram KL against SG and against the fixed MoG (with and without LC), per data set."""
    pairs = [("sintro_mog_ip", "sintro_sg", "MoG + IP beats the SG prior"),
             ("sintro_mog_ip", "sintro_mog", "MoG + IP beats the fixed MoG"),
             ("sintro_mog_lc_ip", "sintro_mog_lc", "MoG + LC + IP beats the fixed MoG + LC")]
    return [Claim(f"toy2d-ip-kl-{better}-{worse}-{dataset}", PAPER, "§5.1, Table 1",
                  f"IP lowers the histogram KL: {text}", CellRef("table1", dataset, better, KL),
                  CellRef("table1", dataset, worse, KL), lower_is_better=True)
            for dataset in datasets for better, worse, text in pairs]
