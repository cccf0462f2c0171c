"""Cell formatting and LaTeX rendering shared by the tables (booktabs rules; no other LaTeX package needed)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

NOT_RUN = "--"  # an en dash in LaTeX: a cell we could have filled but that is absent from the inputs


def pm_cell(mean: float, pm: float, decimals: int = 2) -> str:
    """'mean $\\pm$ pm' with the paper's two decimals, or the not-run dash when the mean is missing."""
    if not math.isfinite(mean):
        return NOT_RUN
    return f"{mean:.{decimals}f} $\\pm$ {pm:.{decimals}f}"


def diverged_mark(n_diverged: int) -> str:
    """Superscript '(k)' telling that k runs of the cell diverged and were left out."""
    return f"$^{{({n_diverged})}}$" if n_diverged else ""


def diverged_cell(n_diverged: int, n_runs: int) -> str:
    """A cell whose runs left no finite value because k of its n runs diverged: 'diverged (k/n)', never the not-run
    dash (the runs exist; a reader must see that they failed)."""
    return f"diverged ({n_diverged}/{n_runs})"


def no_value_cell(n_diverged: int, n_runs: int) -> str:
    """The cell of a mean that is not finite: ``diverged_cell`` when some of its runs diverged, else the dash."""
    return diverged_cell(n_diverged, n_runs) if n_diverged else NOT_RUN


# How the tables' captions explain the two marks above.
DIVERGED_NOTE = (r"diverged ($k$/$n$): $k$ of the cell's $n$ runs diverged and none left a finite value; "
                 r"$^{(k)}$: $k$ runs diverged and are left out.")


def ours_cell(mean: float, sem: float, n: int, n_runs: int, n_diverged: int, decimals: int = 2, mark: str = "") -> str:
    """Our cell, one rule for every table: 'mean $\\pm$ sem' over n >= 2 seeds, the mean alone for a single seed (it
    has no standard error), ``no_value_cell`` when no run left a value; then ``mark`` and the diverged-runs mark."""
    if n == 0 or not math.isfinite(mean):
        return no_value_cell(int(n_diverged), int(n_runs))
    text = pm_cell(mean, sem, decimals) if n >= 2 else f"{mean:.{decimals}f}"
    return text + mark + diverged_mark(int(n_diverged))


def number_cell(value: float) -> str:
    """A hyperparameter as the paper prints it (0.05, 0.2, 1), or the not-run dash."""
    return f"{value:g}" if math.isfinite(value) else NOT_RUN


def render(frame: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table of pre-formatted LaTeX cells; row-index groups are printed once and split by rules."""
    text = frame.style.to_latex(
        caption=caption, label=label, hrules=True, position_float="centering",
        column_format="l" * frame.index.nlevels + "r" * frame.shape[1],
        multirow_align="naive", multicol_align="c", clines="skip-last;data" if frame.index.nlevels > 1 else None,
    )
    # pandas stacks one \cline per level where the outer group changes (and after the last row): use booktabs rules.
    text = re.sub(r"\\cline\{1-(\d+)\}( \\cline\{\d+-\1\})+", r"\\midrule", text)
    return re.sub(r"\\cline\{", r"\\cmidrule{", text.replace("\\midrule\n\\bottomrule", "\\bottomrule"))


def write_text(path: str | Path, text: str) -> None:
    """Write a file, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
