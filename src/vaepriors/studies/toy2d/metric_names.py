"""The metric vocabulary shared by aggregation, tables and the paper's values.

The evaluator writes raw values (docs/interfaces.md); the paper prints gnELBO multiplied by 1e7, so the summaries carry
it under a name that says so (`gnelbo_paper_x1e7`) and every other metric unchanged.
"""

from __future__ import annotations

# Columns of metrics.csv holding the paper-compatible metrics (the authors' code) and our corrected ones.
PAPER_COLUMNS: tuple[str, ...] = ("gnelbo_paper", "kl_paper", "jsd_paper")
CORRECTED_COLUMNS: tuple[str, ...] = ("kl_mass", "jsd", "log_likelihood_grid")
METRIC_COLUMNS: tuple[str, ...] = PAPER_COLUMNS + CORRECTED_COLUMNS

# Display scale applied before summarising: column -> (summary name, factor).
DISPLAY_SCALE: dict[str, tuple[str, float]] = {"gnelbo_paper": ("gnelbo_paper_x1e7", 1e7)}


def summary_name(column: str) -> str:
    """Name of a metric column once scaled for display (gnELBO gains the `_x1e7` suffix)."""
    return DISPLAY_SCALE.get(column, (column, 1.0))[0]


def display_factor(column: str) -> float:
    """Factor a metric column is multiplied by for display (1e7 for gnELBO, as the authors' compile script)."""
    return DISPLAY_SCALE.get(column, (column, 1.0))[1]


# Summary metric names in table order: the three the paper reports, then the three without a paper value.
PAPER_METRICS: tuple[str, ...] = tuple(summary_name(c) for c in PAPER_COLUMNS)
SUMMARY_METRICS: tuple[str, ...] = PAPER_METRICS + CORRECTED_COLUMNS

# LaTeX row labels; arrows say which direction is better.
METRIC_LABELS: dict[str, str] = {
    "gnelbo_paper_x1e7": r"gnELBO$\times 10^{7}$ $\downarrow$",
    "kl_paper": r"KL $\downarrow$",
    "jsd_paper": r"JSD $\downarrow$",
    "kl_mass": r"KL\textsubscript{mass} $\downarrow$",
    "jsd": r"JSD\textsubscript{true} $\downarrow$",
    "log_likelihood_grid": r"LL\textsubscript{grid} $\uparrow$",
}
