"""Tables 2 and 5 of the paper from the evaluation JSON files: a LaTeX table (ours beside the paper) and a tidy CSV.

Per (dataset, configuration) we keep the r_entropy with the lowest mean FID(GEN) over seeds (the paper's policy,
`vaepriors.studies.images.selection`) and print mean ± standard error over its seeds (population std / sqrt(n), the
paper's "±"). The CSV carries every r of the sweep, not only the chosen one. FID, precision and recall depend on the
feature extractor named in the records (`fid_extractor`): the row labels say which, and the paper's FIDs (train-mode
Inception, reference §10.1) are marked as not comparable when ours come from another extractor. Configurations absent
from the inputs get no column; a configuration in the inputs whose runs all failed keeps its column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.core.reporting.latex import (
    DIVERGED_NOTE, NOT_RUN, diverged_mark, no_value_cell, number_cell, ours_cell, pm_cell,
)
from vaepriors.core.reporting.ordering import paper_order
from vaepriors.core.reporting.paper_cells import PaperTable, Reported
from vaepriors.core.reporting.table_pipeline import BuiltTable, register_table
from vaepriors.studies.images.paper_values import (
    IMAGE_DATASET_NAMES, IMAGE_DATASETS, TABLE2, TABLE2_R_ENTROPY, TABLE5, TABLE5_R_ENTROPY,
)
from vaepriors.studies.images.selection import (
    NO_FINITE_R, SELECTION_KEY, load_records, select_r_entropy, sweep_summary,
)

Paths = Iterable[str | Path]
DECIMALS = 3  # as the paper (and the authors' compile script)


@dataclass(frozen=True)
class ImageMetric:
    """A table row: the evaluation JSON key, its LaTeX label and the direction that is bolded (None: never)."""

    key: str
    label: str
    better: str | None
    uses_extractor: bool = False  # the value depends on the FID feature extractor; `{extractor}` in the label


TABLE_METRICS: tuple[ImageMetric, ...] = (
    ImageMetric("entropy", "Entr.", None),
    ImageMetric("fid_gen_paper", r"FID(GEN) paper-compatible, {extractor} $\downarrow$", "min", True),
    ImageMetric("fid_gen_standard", r"FID(GEN) standard, {extractor} $\downarrow$", "min", True),
    ImageMetric("fid_rec_paper", r"FID(REC) paper-compatible, {extractor} $\downarrow$", "min", True),
    ImageMetric("fid_rec_standard", r"FID(REC) standard, {extractor} $\downarrow$", "min", True),
    ImageMetric("precision", r"Precision, {extractor} $\uparrow$", "max", True),
    ImageMetric("recall", r"Recall, {extractor} $\uparrow$", "max", True),
    ImageMetric("svm_few", r"SVM (few) $\uparrow$", "max"),
    ImageMetric("svm_many", r"SVM (many) $\uparrow$", "max"),
    ImageMetric("knn_few", r"KNN (few) $\uparrow$", "max"),
    ImageMetric("knn_many", r"KNN (many) $\uparrow$", "max"),
)
# In the CSV only: the probes on the posterior mean instead of one z sample (the paper probes a sample).
CSV_ONLY_METRICS: tuple[str, ...] = ("svm_few_mean", "svm_many_mean", "knn_few_mean", "knn_many_mean")
METRICS_BY_KEY: dict[str, ImageMetric] = {metric.key: metric for metric in TABLE_METRICS}
BEST: dict[str, Callable[[np.ndarray], float]] = {"min": np.nanmin, "max": np.nanmax}

# Extractor family (the `fid_extractor` name up to the first '-' or ':') -> (label, comparable with the paper).
_CONFIGURATION = re.compile(r"^(?:sg|mog(?P<components>\d+)(?P<lc>_lc)?(?P<ip>_ip)?|(?P<flow>flow)(?P<flow_ip>_ip)?)$")
_VARIANTS: dict[tuple[bool, bool], str] = {
    (False, False): "no LC/IP", (False, True): "IP", (True, False): "LC", (True, True): "LC+IP",
}
LONG_COLUMNS: tuple[str, ...] = (
    "dataset", "configuration", "prior", "components", "lc", "ip", "r_entropy", "selected", "selection_status",
    "selection_key", "metric", "mean", "sem", "std", "n", "n_runs", "n_diverged", "fid_extractor",
    "checkpoint_policy", "paper_r_entropy", "paper_mean", "paper_pm", "paper_comparable",
)


@dataclass(frozen=True, order=True)
class PriorColumn:
    """A table column: the prior of a configuration name (`sg`, `mog{K}[_lc][_ip]`, and beyond the paper the
    decoupled prior `flow[_ip]`), ordered as the paper with the flow columns last."""

    flow: bool
    components: int
    lc: bool
    ip: bool

    @classmethod
    def parse(cls, configuration: str) -> PriorColumn:
        match = _CONFIGURATION.match(configuration)
        if match is None:
            raise ValueError(f"unknown image configuration {configuration!r} "
                             "(docs/images.md: sg, mog{K}[_lc][_ip], flow[_ip])")
        if match["flow"]:
            return cls(True, 1, False, bool(match["flow_ip"]))
        if match["components"] is None:
            return cls(False, 1, False, False)
        return cls(False, int(match["components"]), bool(match["lc"]), bool(match["ip"]))

    @property
    def header(self) -> tuple[str, str]:
        """(prior, variant) as the two header lines, e.g. ('MoG(100)', 'LC+IP'); SG has one."""
        if self.flow:
            return "Flow", _VARIANTS[(False, self.ip)]
        if self.components == 1:
            return "SG", ""
        return f"MoG({self.components})", _VARIANTS[(self.lc, self.ip)]


def _per_dataset(records: pd.DataFrame, column: str) -> dict[str, str]:
    """The one value of `column` per dataset: FIDs of different extractors (or policies) do not share a row."""
    values = records.groupby("dataset")[column].unique()
    mixed = {dataset: sorted(map(str, found)) for dataset, found in values.items() if len(found) > 1}
    if mixed:
        raise ValueError(f"runs of one dataset disagree on {column}: {mixed}")
    return {dataset: found[0] for dataset, found in values.items()}


def _paper_columns(long: pd.DataFrame, paper: PaperTable, paper_r: Mapping[tuple[str, str], float]) -> pd.DataFrame:
    """The paper's value, its ± and selected r for each row (NaN where the paper has none), and comparability."""
    cells = [paper.get((d, m), {}).get(c) for d, m, c in zip(long["dataset"], long["metric"], long["configuration"])]
    comparable = [
        cell is not None and (not METRICS_BY_KEY[metric].uses_extractor or describe_extractor(extractor)[1])
        for cell, metric, extractor in zip(cells, long["metric"], long["fid_extractor"])
    ]
    return pd.DataFrame({
        "paper_r_entropy": [paper_r.get(key, np.nan) for key in zip(long["dataset"], long["configuration"])],
        "paper_mean": [np.nan if cell is None else cell.mean for cell in cells],
        "paper_pm": [np.nan if cell is None else cell.pm for cell in cells],
        "paper_comparable": comparable,
    }, index=long.index)


def table_rows(records: pd.DataFrame, paper: PaperTable, paper_r: Mapping[tuple[str, str], float],
               key: str = SELECTION_KEY) -> pd.DataFrame:
    """Tidy rows (dataset × configuration × r_entropy × metric): the whole sweep, the chosen r flagged, the paper."""
    long = sweep_summary(records, [metric.key for metric in TABLE_METRICS] + list(CSV_ONLY_METRICS))
    selection = select_r_entropy(records, key).rename(columns={"r_entropy": "chosen", "status": "selection_status"})
    long = long.merge(selection[["dataset", "configuration", "chosen", "selection_status", "selection_key"]],
                      on=["dataset", "configuration"], how="left")
    long["selected"] = long["r_entropy"] == long["chosen"]
    columns = long["configuration"].map(PriorColumn.parse)
    long["prior"] = [column.header[0] for column in columns]
    long["components"] = [column.components for column in columns]
    long["lc"], long["ip"] = [column.lc for column in columns], [column.ip for column in columns]
    for attribute in ("fid_extractor", "checkpoint_policy"):
        long[attribute] = long["dataset"].map(_per_dataset(records, attribute))
    long = pd.concat([long, _paper_columns(long, paper, paper_r)], axis=1)
    return _paper_order(long)[list(LONG_COLUMNS)]


def _paper_order(long: pd.DataFrame) -> pd.DataFrame:
    """Rows by dataset and configuration in the paper's order, then r ascending (metric order kept)."""
    orders = {"dataset": paper_order(long["dataset"], IMAGE_DATASETS),
              "configuration": sorted(long["configuration"].unique(), key=PriorColumn.parse)}
    ranks = {column: {name: rank for rank, name in enumerate(names)} for column, names in orders.items()}
    ordered = long.sort_values(["dataset", "configuration", "r_entropy"], kind="stable",
                               key=lambda column: column.map(ranks[column.name]) if column.name in ranks else column)
    return ordered.reset_index(drop=True)


def _paper_value_cell(mean: float, pm: float) -> str:
    """The paper's 'mean ± pm' (3 decimals), the mean alone where it printed no ±."""
    if not np.isfinite(mean):
        return NOT_RUN
    return pm_cell(mean, pm, DECIMALS) if np.isfinite(pm) else f"{mean:.{DECIMALS}f}"


def _bold(cells: dict[str, str], means: Mapping[str, float], better: str | None) -> dict[str, str]:
    """Bold the best value of a row as printed (ties all bold, as the paper): min for FIDs, max otherwise."""
    printed = {column: round(float(mean), DECIMALS) for column, mean in means.items() if np.isfinite(mean)}
    if better is None or not printed:
        return cells
    best = BEST[better](np.array(list(printed.values())))
    return {column: rf"\textbf{{{cell}}}" if printed.get(column) == best else cell for column, cell in cells.items()}


def _ours_cells(chosen: pd.DataFrame, metric: ImageMetric) -> dict[str, str]:
    """Our row for one metric at each configuration's chosen r."""
    stats = chosen[chosen["metric"] == metric.key].set_index("configuration")
    cells = {c: ours_cell(row["mean"], row["sem"], int(row["n"]), int(row["n_runs"]), int(row["n_diverged"]),
                          DECIMALS) for c, row in stats.iterrows()}
    return _bold(cells, stats["mean"].to_dict(), metric.better)


def _unselected_cells(block: pd.DataFrame, metric: ImageMetric) -> dict[str, str]:
    """For each configuration without a finite r: 'diverged (k/n)' over its whole sweep, or the dash."""
    rows = block[(block["selection_status"] == NO_FINITE_R) & (block["metric"] == metric.key)]
    counts = rows.groupby("configuration")[["n_diverged", "n_runs"]].sum()
    return {c: no_value_cell(int(row["n_diverged"]), int(row["n_runs"])) for c, row in counts.iterrows()}


def _paper_cells(cells: Mapping[str, Reported], configurations: Sequence[str], better: str | None) -> dict[str, str]:
    """The paper's row over the configurations we show (bold among them)."""
    shown = {c: cells[c] for c in configurations if c in cells}
    return _bold({c: _paper_value_cell(*cell) for c, cell in shown.items()}, {c: v.mean for c, v in shown.items()}, better)


def _r_cells(block: pd.DataFrame) -> dict[str, str]:
    """The chosen r_entropy (with its diverged-runs mark), or 'none' for a configuration without a finite FID."""
    cells = {c: "none" for c in block.loc[block["selection_status"] == NO_FINITE_R, "configuration"]}
    chosen = block[block["selected"]].drop_duplicates("configuration")
    cells.update({row.configuration: number_cell(row.r_entropy) + diverged_mark(int(row.n_diverged))
                  for row in chosen.itertuples()})
    return cells


Row = tuple[tuple[str, str, str], dict[str, str]]


def _dataset_rows(long: pd.DataFrame, dataset: str, configurations: Sequence[str], paper: PaperTable,
                  paper_r: Mapping[tuple[str, str], float]) -> list[Row]:
    """One dataset's rows: chosen r, then each metric, every 'ours' row followed by the paper's where it has one."""
    block = long[long["dataset"] == dataset]
    chosen = block[block["selected"]]
    extractor, comparable = describe_extractor(block["fid_extractor"].iloc[0])
    name, r_label = IMAGE_DATASET_NAMES.get(dataset, dataset), r"$r_{\text{entropy}}$"
    rows: list[Row] = [((name, r_label, "ours"), _r_cells(block))]
    paper_r_cells = {c: number_cell(paper_r[(dataset, c)]) for c in configurations if (dataset, c) in paper_r}
    if paper_r_cells:
        rows.append(((name, r_label, "paper"), paper_r_cells))
    for metric in TABLE_METRICS:
        label = metric.label.format(extractor=extractor)
        rows.append(((name, label, "ours"), _unselected_cells(block, metric) | _ours_cells(chosen, metric)))
        cells = _paper_cells(paper.get((dataset, metric.key), {}), configurations, metric.better)
        if cells:
            source = "paper" if comparable or not metric.uses_extractor else "paper (Inception, not comparable)"
            rows.append(((name, label, source), cells))
    return rows


def display_frame(long: pd.DataFrame, paper: PaperTable, paper_r: Mapping[tuple[str, str], float]) -> pd.DataFrame:
    """LaTeX cells: rows (dataset, metric, ours/paper), one column per configuration present, in the paper's order."""
    configurations = sorted(long["configuration"].unique(), key=PriorColumn.parse)
    rows = [row for dataset in paper_order(long["dataset"], IMAGE_DATASETS)
            for row in _dataset_rows(long, dataset, configurations, paper, paper_r)]
    index = pd.MultiIndex.from_tuples([key for key, _ in rows], names=["Dataset", "Metric", ""])
    frame = pd.DataFrame([cells for _, cells in rows], index=index).reindex(columns=configurations)
    ours = frame.index.get_level_values(2) == "ours"
    frame.loc[ours] = frame.loc[ours].fillna(NOT_RUN)
    frame.columns = pd.MultiIndex.from_tuples([PriorColumn.parse(c).header for c in configurations])
    return frame.fillna("")


POLICIES: dict[str, str] = {
    "best_fid": "the snapshot with the lowest FID(GEN) (as the authors)", "final": "the last trained epoch",
}


def _caption(title: str, long: pd.DataFrame, key: str) -> str:
    """What the cells are, how r_entropy and the checkpoints were chosen, and how to read the paper rows."""
    policies = "; ".join(POLICIES.get(p, p) for p in sorted(long["checkpoint_policy"].unique()))
    escaped = key.replace("_", r"\_")
    return (
        f"{title} Ours: mean $\\pm$ standard error over seeds (population std$/\\sqrt{{n}}$, as the paper's "
        f"$\\pm$) at the $r_{{\\text{{entropy}}}}$ with the lowest mean \\texttt{{{escaped}}} over seeds, per "
        f"configuration (the paper's policy; all values of the sweep are in the CSV); checkpoint: {policies}. "
        "Paper-compatible FIDs use batch-statistics BatchNorm in the feature extractor, as the authors' code; "
        "the extractor is named in each row. The paper's FIDs are paper-compatible Inception FIDs: next to FIDs of "
        "another extractor they are context only (``not comparable''). Bold: best of the row (lowest FID, highest "
        "otherwise). -- : not run; none: no $r_{\\text{entropy}}$ with a finite FID in any seed; " + DIVERGED_NOTE
    )


def _build(paths: Paths, *, keep: Callable[[PriorColumn], bool], paper: PaperTable,
           paper_r: Mapping[tuple[str, str], float], key: str, title: str, label: str) -> BuiltTable:
    """Read the records, keep the table's configurations, and build the tidy rows, cells and caption."""
    records = load_records(paths)
    records = records[[keep(PriorColumn.parse(c)) for c in records["configuration"]]]
    if records.empty:
        raise ValueError(f"{label}: no evaluation records of the table's configurations among the inputs")
    long = table_rows(records, paper, paper_r, key)
    return BuiltTable(long, display_frame(long, paper, paper_r), _caption(title, long, key))


@register_table("table5", "tab:table5")
def table5(eval_paths: Paths, selection_key: str = SELECTION_KEY) -> BuiltTable:
    """Table 5 (App. D.2): every configuration present (SG, MoG(K) × LC × IP, and the decoupled prior beyond the
    paper), beside the paper's Table 5."""
    title = ("Image benchmark, full ablation (paper Table 5): S-IntroVAE with the standard Gaussian (SG) and "
             "VAMP(K)$\\to$MoG(K) priors with learnable contributions (LC) and Intro-Prior (IP); Flow: dpVAE's "
             "decoupled RealNVP prior (not in the paper), trained in the warm-up only or with IP.")
    return _build(eval_paths, keep=lambda column: True, paper=TABLE5, paper_r=TABLE5_R_ENTROPY, key=selection_key,
                  title=title, label="Table 5")


@register_table("table2", "tab:table2")
def table2(eval_paths: Paths, selection_key: str = SELECTION_KEY, components: int = 100) -> BuiltTable:
    """Table 2 (§5.2): SG and the MoG(`components`) configurations, beside the paper's Table 2 (K = 100)."""
    title = (f"Image benchmark (paper Table 2): S-IntroVAE with the standard Gaussian (SG) and "
             f"VAMP({components})$\\to$MoG({components}) priors with learnable contributions (LC) and "
             "Intro-Prior (IP).")
    return _build(eval_paths, keep=lambda column: not column.flow and column.components in (1, components),
                  paper=TABLE2, paper_r=TABLE2_R_ENTROPY, key=selection_key, title=title, label="Table 2")
