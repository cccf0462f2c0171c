"""Table 1 of the dpVAE paper from evaluation JSON records (``evaluation.dpvae_evaluate``): LaTeX and a tidy CSV.

Rows: data set x metric, one "ours" row per objective variant (``DpVAEConfig.variant``: ``authors``, the authors'
loss scaling and estimators, is the paper-compatible one the paper's row is compared with; ``per_sample`` is the
corrected objective), followed by the paper's where it reports one; columns: regulariser x prior (N(0, I),
decoupled) in the paper's order, only the configurations present in the inputs. Ours: mean ± standard
error over seeds (population std / sqrt(n), the repository's convention, ``reporting.aggregate``); diverged runs and
missing values are left out and counted. The paper prints single numbers. Row labels name each definition: the
importance-sampled NLL (nats per example) has no paper counterpart; the paper's "NLL (x10^3)" is the batch-summed
negative ELBO / 1000 and sits beside ours of the same definition; its sKL is the z0-space estimate of the code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.core.reporting.ordering import paper_order, paper_rank
from vaepriors.core.reporting.latex import DIVERGED_NOTE, NOT_RUN, ours_cell
from vaepriors.core.reporting.table_pipeline import BuiltTable, register_table
from vaepriors.core.reporting.statistics import seed_statistics
from vaepriors.studies.dpvae.paper_values import (
    DATASET_NAMES, METRIC_NOTES, MODEL_NAMES, PRIORS, REGULARISERS, TABLE1, TABLE1_DATASETS, TABLE1_PRINTED,
    Configuration,
)

Paths = Iterable[str | Path]
DATASET_ORDER: tuple[str, ...] = ("moons", "mnist", "fmnist") + TABLE1_DATASETS[1:]
PRIOR_HEADERS: dict[str, str] = {"standard": r"$\mathcal{N}(0, I)$", "decoupled": "dp"}
IDENTITY: tuple[str, ...] = ("variant", "dataset", "regulariser", "prior")
PAPER_COMPATIBLE_REDUCTION = "authors"  # the paper's numbers come from batch-summed rec and KL (reference §3)
VARIANT_ORDER: tuple[str, ...] = ("authors", "per_sample")
VARIANT_LABELS: dict[str, str] = {"authors": "ours: authors' scaling (paper-compatible)",
                                  "per_sample": "ours: per-sample (corrected)"}


@dataclass(frozen=True)
class DpMetric:
    """A table row: record key, LaTeX label (``{extractor}`` filled per data set) and printed decimals;
    ``nonnegative`` for a quantity that is >= 0 although its estimator is not (a negative mean gets NEGATIVE_MARK)."""

    key: str
    label: str
    decimals: int
    uses_extractor: bool = False
    nonnegative: bool = False


TABLE_METRICS: tuple[DpMetric, ...] = (
    DpMetric("fid", r"FID, {extractor} $\downarrow$", 1, True),
    DpMetric("fid_lp", r"FID (LP), {extractor} $\downarrow$", 1, True),
    DpMetric("skl", r"sKL, $z$-space (paper's text) $\downarrow$", 2, nonnegative=True),
    DpMetric("skl_generation_space", r"sKL, $z_0$-space (authors' code) $\downarrow$", 2, nonnegative=True),
    DpMetric("nll_is", r"NLL, importance sampled (nats/example) $\downarrow$", 2),
    DpMetric("batch_nelbo_paper", r"batch-summed $-$ELBO $/10^3$ (paper's ``NLL ($\times 10^3$)'') $\downarrow$", 3),
)
LONG_COLUMNS: tuple[str, ...] = (
    "variant", "reduction", "dataset", "regulariser", "prior", "model", "metric", "mean", "sem", "std", "n", "n_runs", "n_diverged",
    "fid_extractor", "paper_value", "paper_comparable", "paper_note",
)


def load_dpvae_records(paths: Paths) -> pd.DataFrame:
    """One row per evaluation JSON: identity, ``diverged``, ``fid_extractor`` and the table's metrics (NaN for null
    or absent values)."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        metrics = {m.key: _number(record.get(m.key)) for m in TABLE_METRICS}
        rows.append({**{key: record[key] for key in IDENTITY + ("seed", "reduction")},
                     "diverged": bool(record.get("diverged")),
                     "fid_extractor": record.get("fid_extractor"), **metrics})
    if not rows:
        raise ValueError("Table 1: no evaluation records among the inputs")
    return pd.DataFrame(rows)


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _variants(records: pd.DataFrame) -> list[str]:
    return paper_order(records["variant"], VARIANT_ORDER)


def _configurations(records: pd.DataFrame) -> list[Configuration]:
    """The (regulariser, prior) pairs present, in the paper's order."""
    present = set(zip(records["regulariser"], records["prior"]))
    return sorted(present, key=lambda c: (paper_rank(REGULARISERS, c[0]), paper_rank(PRIORS, c[1])))


def _datasets(records: pd.DataFrame) -> list[str]:
    return paper_order(records["dataset"], DATASET_ORDER)


def _extractor(records: pd.DataFrame, dataset: str) -> str | None:
    """The one FID extractor of a data set's runs (FIDs of different extractors do not share a row)."""
    found = {e for e in records.loc[records["dataset"] == dataset, "fid_extractor"] if isinstance(e, str)}
    if len(found) > 1:
        raise ValueError(f"runs of {dataset} disagree on fid_extractor: {sorted(found)}")
    return found.pop() if found else None


def model_name(configuration: Configuration) -> str:
    regulariser, prior = configuration
    names = MODEL_NAMES.get(regulariser, (regulariser, f"{regulariser}-dp"))
    return names[PRIORS.index(prior)] if prior in PRIORS else f"{regulariser}/{prior}"


def _statistics_row(group: pd.DataFrame, configuration: Configuration, dataset: str, metric: DpMetric,
                    extractor: str | None) -> dict:
    """One tidy row: our seed statistics (diverged runs left out, counted) and the paper's value beside them;
    comparable only for runs on the paper's loss scaling and, for FIDs, an Inception extractor."""
    kept = group[~group["diverged"]]
    paper = TABLE1.get((dataset, metric.key), {}).get(configuration)
    reductions = set(group["reduction"])
    if len(reductions) > 1:
        raise ValueError(f"runs of one variant disagree on the reduction: {sorted(reductions)}")
    reduction = reductions.pop()
    comparable = paper is not None and reduction == PAPER_COMPATIBLE_REDUCTION and (
        not metric.uses_extractor or (extractor is not None and describe_extractor(extractor)[1]))
    return {"variant": group["variant"].iloc[0], "reduction": reduction, "dataset": dataset, "regulariser": configuration[0], "prior": configuration[1],
            "model": model_name(configuration), "metric": metric.key,
            **seed_statistics(kept[metric.key].to_numpy(dtype=float)), "n_runs": len(group),
            "n_diverged": int(group["diverged"].sum()), "fid_extractor": extractor,
            "paper_value": math.nan if paper is None else paper.mean, "paper_comparable": comparable,
            "paper_note": METRIC_NOTES.get(metric.key, "") if paper is not None else ""}


def table_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows (dataset x configuration x metric) in the paper's order, configurations present only."""
    rows = []
    for dataset in _datasets(records):
        extractor = _extractor(records, dataset)
        for variant in _variants(records):
            block = records[(records["dataset"] == dataset) & (records["variant"] == variant)]
            for configuration in _configurations(block):
                group = block[(block["regulariser"] == configuration[0]) & (block["prior"] == configuration[1])]
                rows += [_statistics_row(group, configuration, dataset, metric, extractor)
                         for metric in TABLE_METRICS]
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def _ours_cell(row: pd.Series, metric: DpMetric) -> str:
    """'mean ± sem' (n >= 2), the mean alone (n = 1) with the diverged-runs mark and the negative-estimate mark
    where a quantity that is >= 0 came out below 0; 'diverged (k/n)' when no run left a value because runs
    diverged, else the not-run dash."""
    return ours_cell(row["mean"], row["sem"], int(row["n"]), int(row["n_runs"]), int(row["n_diverged"]),
                     metric.decimals, NEGATIVE_MARK if negative_estimate(row, metric) else "")


def negative_estimate(row: pd.Series, metric: DpMetric) -> bool:
    """Whether a cell shows a negative mean of a quantity that is >= 0 (an sKL from the 1-NN estimator)."""
    return metric.nonnegative and row["n"] > 0 and row["mean"] < 0


Row = tuple[tuple[str, str, str], dict[Configuration, str]]


def _metric_rows(block: pd.DataFrame, dataset: str, metric: DpMetric, configurations: list[Configuration],
                 extractor: str | None) -> list[Row]:
    """Ours (one row per variant) and, where printed, the paper's row of one metric; none when neither has a value
    (FID of two moons)."""
    stats = block[block["metric"] == metric.key]
    printed = TABLE1_PRINTED.get((dataset, metric.key), {})
    paper = {c: printed[c] for c in configurations if c in printed}
    if stats["n"].sum() == 0 and not paper:
        return []
    name = DATASET_NAMES.get(dataset, dataset)
    label = metric.label.format(extractor=describe_extractor(extractor)[0] if extractor else "n/a")
    rows: list[Row] = []
    for variant in _variants(stats):
        ours = {c: NOT_RUN for c in configurations} | {(r.regulariser, r.prior): _ours_cell(r, metric)
                                                       for _, r in stats[stats["variant"] == variant].iterrows()}
        rows.append(((name, label, VARIANT_LABELS.get(variant, f"ours: {variant}")), ours))
    if paper:
        comparable = bool(stats["paper_comparable"].any()) or not metric.uses_extractor
        rows.append(((name, label, "paper" if comparable else "paper (Inception, not comparable)"), paper))
    return rows


def display_frame(long: pd.DataFrame) -> pd.DataFrame:
    """LaTeX cells: rows (data set, metric, ours/paper), columns (model, prior) for the configurations present."""
    configurations = _configurations(long)
    rows = [row for dataset in _datasets(long) for metric in TABLE_METRICS
            for row in _metric_rows(long[long["dataset"] == dataset], dataset, metric, configurations,
                                    _extractor(long, dataset))]
    index = pd.MultiIndex.from_tuples([key for key, _ in rows], names=["Dataset", "Metric", ""])
    columns = pd.MultiIndex.from_tuples([(model_name((r, "standard")), PRIOR_HEADERS.get(p, p))
                                         for r, p in configurations])
    return pd.DataFrame([[cells.get(c, "") for c in configurations] for _, cells in rows], index=index,
                        columns=columns)


CAPTION = (
    "Generative metrics of regularised VAEs with the standard normal and the decoupled prior (dpVAE paper, "
    "Table 1; lower is better). Ours: mean $\\pm$ standard error over seeds (population std$/\\sqrt{n}$; a single "
    "seed is printed alone); FIDs in standard mode against the held-out images, FID (LP) of the lowest-$q(z)$ prior "
    "samples with $q(z)$ a mixture over a fixed held-out set. sKL: 1-NN estimate in the representation space $z$ "
    "(the paper's text) and in the generation space $z_0$ (the authors' code, which the paper's numbers come from). "
    "NLL: importance-sampled $-\\log p(x)$ in nats per example; the paper's ``NLL ($\\times 10^3$)'' is the "
    "batch-summed negative ELBO divided by 1000 and is printed beside ours of that definition. The paper prints "
    "single numbers; its FID (LP) selects samples with the authors' per-batch score. The paper is compared with the "
    "runs on the authors' scaling (batch-summed reconstruction and KL, batch-mean regulariser terms, their "
    "$\\beta$-TCVAE estimator); the per-sample rows are the corrected objective. -- : not run; " + DIVERGED_NOTE
)
NEGATIVE_MARK = r"$^{<0}$"
NEGATIVE_NOTE = (
    " $^{<0}$: a negative sKL estimate, printed as estimated (the CSV keeps every seed's mean as is): sKL itself is "
    "$\\geq 0$, but the 1-NN estimator is only asymptotically unbiased, and for two nearly equal distributions its "
    "finite-sample estimate scatters around 0 and can fall below it; read such a value as sKL $\\approx 0$ within "
    "the estimator's noise."
)


def caption(long: pd.DataFrame) -> str:
    """The caption, with the note on negative sKL estimates when a cell carries their mark."""
    metrics = {metric.key: metric for metric in TABLE_METRICS}
    negative = any(negative_estimate(row, metrics[row["metric"]]) for _, row in long.iterrows())
    return CAPTION + (NEGATIVE_NOTE if negative else "")


@register_table("dpvae_table1", "tab:dpvae-table1")
def dpvae_table1(eval_json_paths: Paths) -> BuiltTable:
    """Table 1 from evaluation JSON records: the tidy rows, the LaTeX cells and the caption."""
    long = table_rows(load_dpvae_records(eval_json_paths))
    return BuiltTable(long, display_frame(long), caption(long))
