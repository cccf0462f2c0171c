"""The reproduction scorecard (docs/reproduction.md): every reproduced cell judged against the paper's and every
claim of the papers checked against our numbers, written as CSV, Markdown and a self-contained HTML page.

The studies turn their tables' tidy CSVs into *cells* (``CELL_COLUMNS``, one row per cell of a paper table that we
reproduce) and state their papers' claims as ``Claim`` data; this module judges both (``verdicts``) and renders them.
It knows no study.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.verdicts import Estimate, cell_verdict, claim_verdict

CELL_COLUMNS: tuple[str, ...] = (
    "study", "paper", "table", "dataset", "row", "column", "metric", "scale", "ours_mean", "ours_sem", "n", "n_runs",
    "n_diverged", "paper_mean", "paper_pm", "lower_is_better", "exact", "not_comparable",
)
CELL_VERDICTS: tuple[str, ...] = ("reproduced", "better", "worse", "differs", "not comparable")
CLAIM_VERDICTS: tuple[str, ...] = ("holds", "fails", "not significant", "not available")


@dataclass(frozen=True)
class CellRef:
    """One cell of a study's scorecard frame."""

    table: str
    dataset: str
    row: str
    metric: str
    column: str = ""


@dataclass(frozen=True)
class Claim:
    """A qualitative claim of a paper as an ordering: ``better`` beats ``worse`` on their (shared) metric."""

    key: str
    paper: str
    section: str
    text: str
    better: CellRef
    worse: CellRef
    lower_is_better: bool


def scale_label(scale: str) -> str:
    """A study's scale as the cells name it: "paper", or "reduced" for any description of how its runs differ."""
    return "paper" if scale == "paper" else "reduced"


def not_comparable(definition: str, scale: str) -> str:
    """Why a cell does not compare with the paper's: a different definition (may be empty), then a reduced scale."""
    return "; ".join(filter(None, (definition, "" if scale == "paper" else f"reduced scale ({scale})")))


def ours_estimate(cell: pd.Series) -> Estimate:
    return Estimate(float(cell["ours_mean"]), float(cell["ours_sem"]), int(cell["n"]), int(cell["n_runs"]),
                    int(cell["n_diverged"]))


def paper_estimate(cell: pd.Series) -> Estimate:
    """The paper's value; its "±" is a standard error (both papers' tables, docs/reproduction.md), none when printed
    alone."""
    pm = float(cell["paper_pm"])
    return Estimate(float(cell["paper_mean"]), pm, 2 if math.isfinite(pm) else 1)


def _direction(value) -> bool | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else bool(value)


def judge_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with z, verdict and reason per cell."""
    verdicts = [cell_verdict(ours_estimate(cell), paper_estimate(cell), _direction(cell["lower_is_better"]),
                             cell["not_comparable"] or "", bool(cell["exact"])) for _, cell in cells.iterrows()]
    return cells.assign(z=[v.z for v in verdicts], verdict=[v.label for v in verdicts],
                        reason=[v.reason for v in verdicts])


def _lookup(cells: pd.DataFrame, ref: CellRef) -> pd.Series | None:
    match = cells[(cells["table"] == ref.table) & (cells["dataset"] == ref.dataset) & (cells["row"] == ref.row)
                  & (cells["metric"] == ref.metric) & (cells["column"] == ref.column)]
    return None if match.empty else match.iloc[0]


def judge_claims(claims: Iterable[Claim], cells: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the verdict on our numbers and on the paper's own (the same ordering, its printed ±)."""
    rows = []
    for claim in claims:
        better, worse = _lookup(cells, claim.better), _lookup(cells, claim.worse)
        if better is None or worse is None:
            ours = paper = None
        else:
            ours = claim_verdict(ours_estimate(better), ours_estimate(worse), claim.lower_is_better)
            paper = claim_verdict(paper_estimate(better), paper_estimate(worse), claim.lower_is_better)
        missing = "not run" if better is None or worse is None else ""
        rows.append({"claim": claim.key, "paper": claim.paper, "section": claim.section, "text": claim.text,
                     "table": claim.better.table, "dataset": claim.better.dataset, "metric": claim.better.metric,
                     "better": _name(claim.better), "worse": _name(claim.worse),
                     "scale": better["scale"] if better is not None else "",
                     "verdict": ours.label if ours else "not available", "z": ours.z if ours else math.nan,
                     "reason": ours.reason if ours else missing,
                     "in_paper": paper.label if paper else "not available"})
    return pd.DataFrame(rows, columns=["claim", "paper", "section", "text", "table", "dataset", "metric", "better",
                                       "worse", "scale", "verdict", "z", "reason", "in_paper"])


def _name(ref: CellRef) -> str:
    return ref.row + (f" ({ref.column})" if ref.column else "")


# ------------------------------------------------------------------------------------------------------- rendering

def _number(value: float, sem: float = math.nan) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    text = f"{value:.4g}"
    return text + (f" ± {sem:.2g}" if isinstance(sem, (int, float)) and math.isfinite(sem) else "")


def display_cells(judged: pd.DataFrame) -> pd.DataFrame:
    """The cells as a reader scans them: ours (mean ± SE, n), the paper's, z, verdict and reason."""
    return pd.DataFrame({
        "paper": judged["paper"], "table": judged["table"], "dataset": judged["dataset"],
        "row": judged["row"] + judged["column"].map(lambda c: f" ({c})" if c else ""), "metric": judged["metric"],
        "scale": judged["scale"],
        "ours": [_number(m, s if n >= 2 else math.nan) + f" (n={n})" for m, s, n in
                 zip(judged["ours_mean"], judged["ours_sem"], judged["n"])],
        "paper value": [_number(m, s) for m, s in zip(judged["paper_mean"], judged["paper_pm"])],
        "z": judged["z"].map(lambda z: f"{z:+.1f}" if math.isfinite(z) else ""),
        "verdict": judged["verdict"], "reason": judged["reason"]})


def summary(judged: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """Verdict counts per (paper, table) and of the claims."""
    cells = judged.groupby(["paper", "table"])["verdict"].value_counts().unstack(fill_value=0)
    cells = cells.reindex(columns=[v for v in CELL_VERDICTS if v in cells.columns])
    claim_counts = claims.groupby(["paper"])["verdict"].value_counts().unstack(fill_value=0)
    claim_counts.index = pd.MultiIndex.from_tuples([(paper, "claims") for paper in claim_counts.index])
    counts = pd.concat([cells, claim_counts.reindex(columns=[v for v in CLAIM_VERDICTS if v in claim_counts.columns])]
                       ).fillna(0).astype(int)
    counts.index.names = ["paper", "table"]
    return counts


def _markdown(frame: pd.DataFrame, index: bool = False) -> str:
    frame = frame.reset_index() if index else frame
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *body])


INTRODUCTION = (
    "Every cell of the reproduced tables beside the paper's, and every claim the papers make from them checked "
    "against our numbers. A cell is *reproduced* when ours lies within 2 combined standard errors of the paper's "
    "(z = difference / sqrt(SE_ours² + SE_paper²)), else *better* or *worse*; *not comparable* says why (reduced "
    "scale, another FID extractor, a corrected objective, diverged runs, no spread). A claim *holds* or *fails* "
    "beyond 2 standard errors of the difference, else it is *not significant*; `in paper` checks the same ordering "
    "on the paper's own numbers. Definitions: docs/reproduction.md."
)


def write_scorecard(judged: pd.DataFrame, claims: pd.DataFrame, out_dir: str | Path, provenance: str) -> None:
    """scorecard.csv (every cell, ours-only ones too), claims.csv, scorecard.md and a self-contained scorecard.html
    (the cells the papers print) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    judged.to_csv(out / "scorecard.csv", index=False)
    claims.to_csv(out / "claims.csv", index=False)
    printed = judged[judged["paper_mean"].notna()]
    counts, cells = summary(printed, claims), display_cells(printed)
    claim_view = claims.assign(z=claims["z"].map(lambda z: f"{z:+.1f}" if math.isfinite(z) else ""))[
        ["paper", "section", "text", "dataset", "better", "worse", "scale", "verdict", "z", "reason", "in_paper"]]
    failing = claims[claims["verdict"] == "fails"]
    plain = (f"**{len(failing)} of {len(claims)} claims fail on our numbers**: "
             + "; ".join(f"{c.text} ({c.dataset})" for c in failing.itertuples()) + "."
             if len(failing) else f"No claim fails on our numbers ({len(claims)} checked).")
    markdown = "\n\n".join([
        "# Reproduction scorecard", provenance, INTRODUCTION, plain, "## Summary", _markdown(counts, index=True),
        "## Claims", _markdown(claim_view), "## Cells", _markdown(cells)]) + "\n"
    (out / "scorecard.md").write_text(markdown)
    (out / "scorecard.html").write_text(_html(provenance, plain, counts, claim_view, cells))


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 110em; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f3f3f3; }
td.v-reproduced, td.v-holds { background: #d9f2d9; }
td.v-better { background: #d9e8f7; }
td.v-worse, td.v-fails { background: #f7d9d9; }
td.v-differs { background: #f7ecd9; }
"""


def _html_table(frame: pd.DataFrame, verdict_columns: tuple[str, ...] = ("verdict", "in_paper")) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(False):
        cells = []
        for column, value in zip(frame.columns, row):
            css = f' class="v-{str(value).replace(" ", "-")}"' if column in verdict_columns else ""
            cells.append(f"<td{css}>{html.escape(str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html(provenance: str, plain: str, counts: pd.DataFrame, claims: pd.DataFrame, cells: pd.DataFrame) -> str:
    def paragraph(text: str) -> str:
        return "<p>" + html.escape(text).replace("**", "") + "</p>"

    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Reproduction scorecard</title>"
            f"<style>{STYLE}</style></head><body><h1>Reproduction scorecard</h1>{paragraph(provenance)}"
            f"{paragraph(INTRODUCTION)}{paragraph(plain)}<h2 id='summary'>Summary</h2>"
            f"{_html_table(counts.reset_index(), ())}"
            f"<h2 id='claims'>Claims</h2>{_html_table(claims)}<h2 id='cells'>Cells</h2>{_html_table(cells)}"
            "</body></html>\n")
