"""Saving figures: every figure of the three studies is a `matplotlib.figure.Figure` (Agg canvas, no pyplot
state), written as PNG at the given path and as PDF beside it."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def save_figure(fig: Figure, out_path: str | Path) -> Figure:
    """Save as PNG at `out_path` and as PDF with the same stem; returns the figure, so tests can read its axes."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=150)
    fig.savefig(out_path.with_suffix(".pdf"))
    return fig
