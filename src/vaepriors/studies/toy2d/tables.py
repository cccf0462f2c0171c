"""Tables 1, 3 and 4 of the paper from our metrics CSVs: a LaTeX table (ours beside the paper) and a tidy CSV each.

Our cells are mean ± standard error over seeds computed as the paper's "±" (population std / sqrt(n)); the CSVs also
carry the sample std and n. Inputs are identified by their `dataset` and `configuration` columns only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from vaepriors.core.reporting.latex import DIVERGED_NOTE, number_cell
from vaepriors.core.reporting.table_pipeline import BuiltTable, register_table
from vaepriors.core.reporting.ordering import paper_order
from vaepriors.studies.toy2d.aggregate import GRID_COLUMNS, read_metrics, summarise
from vaepriors.studies.toy2d.comparison import NOT_COMPARABLE, compare, display_frame
from vaepriors.studies.toy2d.metric_names import summary_name
from vaepriors.studies.toy2d.paper_values import (
    DATASET_NAMES, DATASETS, PAPER_GRID_SIZE, TABLE1, TABLE1_BEYOND, TABLE1_CONFIGURATIONS, TABLE3_DANIEL_TAMAR,
    TABLE3_FOUND, TABLE4, Betas,
)
from vaepriors.studies.toy2d.selection import select_optimum, selectable

Paths = Iterable[str | Path]

TABLE1_LABELS: dict[str, str] = {
    "vae_sg": "VAE SG", "sintro_sg": "SG", "sintro_mog": "MoG", "sintro_mog_ip": "MoG IP",
    "sintro_mog_lc": "MoG LC", "sintro_mog_lc_ip": "MoG LC+IP", "sintro_flow": "Flow", "sintro_flow_ip": "Flow IP",
}
# Table 4 column -> configuration that fills it (None: the paper's numbers only).
TABLE4_SOURCES: dict[str, str | None] = {
    "reported_c": None, "official_reproduced_c": None, "ours_reproduced_c": "baseline_closed",
    "ours_reproduced_s": "baseline_mc", "ours_replicated_s": "sintro_sg",
}
TABLE4_LABELS: dict[str, str] = {
    "reported_c": "reported (c)", "official_reproduced_c": "official repr. (c)", "ours_reproduced_c": "repr. (c)",
    "ours_reproduced_s": "repr. (s)", "ours_replicated_s": "replicated (s)",
}
TABLE3_CONFIGURATION = "sintro_sg"

_METRICS_NOTE = (
    r"``ours'' is the mean $\pm$ standard error over seeds (population std$/\sqrt{n}$, as the paper's $\pm$); "
    r"``paper'' is the value the paper reports. gnELBO ($\times 10^{7}$), KL and JSD are the paper-compatible "
    r"metrics of the authors' code (histogram KL(real$\|$fake) and reversed JSD, both in density units / 100); "
    r"KL\textsubscript{mass}, JSD\textsubscript{true} and LL\textsubscript{grid} are corrected metrics without a "
    r"paper value. -- : not run; " + DIVERGED_NOTE
)


def grid_sizes(metrics: pd.DataFrame) -> list[int]:
    """The evaluation grids (points per side) behind a table's gnELBO; empty when metrics.csv predates `grid_size`."""
    if "grid_size" not in metrics:
        return []
    return sorted(int(size) for size in metrics["grid_size"].dropna().unique())


def gnelbo_grid(long: pd.DataFrame, sizes: list[int]) -> tuple[pd.DataFrame, str]:
    """Mark the paper's gnELBO not comparable unless all of ours is on the paper's grid, and the caption's sentence
    that names the grids: gnELBO scales with 1/(grid points), so a reduced 256² grid reads about 16× the paper's."""
    comparable = sizes == [PAPER_GRID_SIZE]
    long = long.assign(paper_comparable=comparable | (long["metric"] != summary_name("gnelbo_paper")))
    paper = f"{PAPER_GRID_SIZE}$^2$"
    if comparable:
        return long, f"gnELBO sums over the {paper} grid, as the paper's."
    marked = f"the paper's gnELBO is marked{NOT_COMPARABLE}: not comparable."
    if not sizes:
        return long, (r"The grid of our gnELBO is not recorded (metrics.csv without grid\_size; the paper's is "
                      f"{paper}): {marked}")
    ours = ", ".join(f"{size}$^2$" for size in sizes)
    scale = f"ours reads about {(PAPER_GRID_SIZE / sizes[0]) ** 2:g}$\\times$ larger and " if len(sizes) == 1 else ""
    return long, (f"Our gnELBO sums over a {ours} grid, the paper's over {paper}; gnELBO scales with 1/(grid "
                  f"points), so {scale}{marked}")


@register_table("table1", "tab:table1")
def table1(metrics_paths: Paths) -> BuiltTable:
    """Table 1: the six prior configurations on the four datasets, ours beside the paper's values, and the
    decoupled-prior columns (no paper value) when they were run."""
    metrics = read_metrics(metrics_paths)
    summary = summarise(metrics)
    beyond = [c for c in TABLE1_BEYOND if c in set(summary["configuration"])]
    columns = {configuration: configuration for configuration in (*TABLE1_CONFIGURATIONS, *beyond)}
    long, grid_note = gnelbo_grid(compare(summary, columns, TABLE1), grid_sizes(metrics))
    flow = (" Flow: dpVAE's decoupled RealNVP prior (not in the paper), trained in the warm-up only or with IP."
            if beyond else "")
    caption = ("2D density estimation (paper Table 1): VAE and S-IntroVAE under the standard Gaussian (SG), "
               "VAMP(64)$\\to$MoG priors with learnable contributions (LC) and Intro-Prior (IP)." + flow + " "
               + _METRICS_NOTE + " " + grid_note)
    labels = {column: TABLE1_LABELS[column] for column in columns}
    # the CSV drops `column`: identical to `configuration` here
    return BuiltTable(long.drop(columns="column"), display_frame(long, labels), caption)


def table3_rows(grid: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows (dataset × beta): our grid optimum of `sintro_sg` beside the paper's and Daniel & Tamar's values."""
    rows = []
    for dataset in paper_order(grid["dataset"], DATASETS):
        runs = grid[(grid["dataset"] == dataset) & (grid["configuration"] == TABLE3_CONFIGURATION)]
        optimum = select_optimum(runs)
        found = {
            "optimum_run": np.nan if optimum is None else optimum["run"],
            "optimum_kl_paper": np.nan if optimum is None else optimum["kl_paper"],
            "n_grid": len(runs), "n_selectable": int(selectable(runs).sum()),
        }
        for parameter in Betas._fields:
            rows.append({
                "dataset": dataset, "configuration": TABLE3_CONFIGURATION, "parameter": parameter,
                "ours": np.nan if optimum is None else float(optimum[parameter]),
                "paper": getattr(TABLE3_FOUND.get(dataset), parameter, np.nan),
                "daniel_tamar": getattr(TABLE3_DANIEL_TAMAR.get(dataset), parameter, np.nan), **found,
            })
    return pd.DataFrame(rows)


def _table3_frame(long: pd.DataFrame) -> pd.DataFrame:
    """LaTeX cells: one row per dataset; our optimum, the paper's and Daniel & Tamar's betas side by side."""
    betas = {"beta_rec": r"$\beta_{rec}$", "beta_kl": r"$\beta_{KL}$", "beta_neg": r"$\beta_{neg}$"}
    sources = {"ours": "ours", "paper": "paper", "daniel_tamar": r"Daniel \& Tamar"}
    records = []
    for dataset, block in long.groupby("dataset", sort=False):
        by_beta = block.set_index("parameter")
        record = {(sources[s], betas[b]): number_cell(by_beta.loc[b, s]) for s in sources for b in betas}
        kl, usable = by_beta["optimum_kl_paper"].iloc[0], by_beta["n_selectable"].iloc[0]
        record[(sources["ours"], "KL")] = f"{kl:.2f}" if np.isfinite(kl) else "--"
        record[(sources["ours"], "runs")] = f"{usable}/{by_beta['n_grid'].iloc[0]}"
        records.append(pd.Series(record, name=DATASET_NAMES.get(dataset, dataset)))
    order = [(sources["ours"], b) for b in list(betas.values()) + ["KL", "runs"]]
    order += [(sources[s], b) for s in ("paper", "daniel_tamar") for b in betas.values()]
    return pd.DataFrame(records).reindex(columns=pd.MultiIndex.from_tuples(order))


@register_table("table3", "tab:table3")
def table3(metrics_paths: Paths) -> BuiltTable:
    """Table 3: per dataset, the S-IntroVAE SG grid optimum (lowest paper-compatible KL) next to the paper's."""
    long = table3_rows(read_metrics(metrics_paths, required=GRID_COLUMNS))
    caption = ("Optimal S-IntroVAE hyperparameters under the standard Gaussian prior (paper Table 3): ours is the "
               "grid point of \\texttt{sintro\\_sg} with the lowest paper-compatible histogram KL among the runs "
               "that finished with finite metrics (first one on ties, as the authors' code); KL is its value and "
               "runs counts them out of the grid. ``paper'': the optimum the paper found; Daniel \\& Tamar: the "
               "values reported by Daniel \\& Tamar (2021), in parentheses in the paper. -- : not run.")
    return BuiltTable(long, _table3_frame(long), caption)


@register_table("table4", "tab:table4")
def table4(metrics_paths: Paths) -> BuiltTable:
    """Table 4: the S-IntroVAE SG baseline, reported / reproduced (closed-form and MC KL) / replicated."""
    metrics = read_metrics(metrics_paths)
    long, grid_note = gnelbo_grid(compare(summarise(metrics), TABLE4_SOURCES, TABLE4), grid_sizes(metrics))
    caption = ("S-IntroVAE baseline under the standard Gaussian prior (paper Table 4). ``reported'': Daniel \\& "
               "Tamar (2021); ``official repr.'': the paper's run of the official code (paper values only); "
               "repr.: Daniel \\& Tamar's betas (our \\texttt{baseline\\_closed}, \\texttt{baseline\\_mc}); "
               "replicated: our \\texttt{sintro\\_sg} seeds, at our grid optimum (toy.selection: grid) or at "
               "Daniel \\& Tamar's betas (reported: then a second run of repr. (s)); (c)/(s): closed-form/sampled KL. "
               + _METRICS_NOTE + " " + grid_note)
    return BuiltTable(long, display_frame(long, TABLE4_LABELS), caption)
