"""Figures 3 (qualitative density estimation) and 6 (soft clipping) of the paper.

Figures are built on `matplotlib.figure.Figure` directly (Agg canvas, no pyplot state), saved as PNG at the given
path and as PDF beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vaepriors.core.reporting.figures import save_figure
from vaepriors.core.reporting.ordering import paper_order
from vaepriors.studies.toy2d.paper_values import DATASET_NAMES, DATASETS, FIGURE3_CONFIGURATIONS
from vaepriors.studies.toy2d.samples import SampleSet, load_samples

FIGURE6_RANGES: tuple[tuple[float, float], ...] = ((-1.0, 1.0), (-5.0, 5.0), (-20.0, 20.0))
FIGURE6_K: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0)


def _window(ax: Axes, half_width: float) -> None:
    """Square [-h, h]^2 panel without ticks."""
    ax.set_xlim(-half_width, half_width)
    ax.set_ylim(-half_width, half_width)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _scatter(ax: Axes, points: np.ndarray, half_width: float, color: str) -> None:
    """Small, translucent points so dense modes stay readable."""
    ax.scatter(points[:, 0], points[:, 1], s=1.0, alpha=0.4, color=color, linewidths=0, rasterized=True)
    _window(ax, half_width)


def _density(ax: Axes, run: SampleSet) -> None:
    """The grid-normalised density exp(-NELBO), y upwards."""
    h = run.half_width
    ax.imshow(run.density, extent=(-h, h, -h, h), origin="lower", cmap=sns.color_palette("rocket", as_cmap=True))
    _window(ax, h)


def _not_run(ax: Axes, text: str = "not run") -> None:
    """An empty panel that says why there is nothing to show: the configuration is absent from the inputs, or its
    run diverged."""
    ax.text(0.5, 0.5, text, ha="center", va="center", color="0.5", transform=ax.transAxes)
    ax.set_box_aspect(1)
    ax.set_xticks([])
    ax.set_yticks([])


def _figure3_row(axes: np.ndarray, runs: dict[str, SampleSet]) -> None:
    """Real data, then density and samples for each Figure-3 configuration (or 'not run', or 'diverged')."""
    first = next(iter(runs.values()))
    _scatter(axes[0], first.real, first.half_width, "tab:blue")
    for i, configuration in enumerate(FIGURE3_CONFIGURATIONS):
        density_ax, samples_ax = axes[1 + 2 * i], axes[2 + 2 * i]
        if configuration in runs and runs[configuration].diverged:
            _not_run(density_ax, "diverged")
            _not_run(samples_ax, "diverged")
        elif configuration in runs:
            _density(density_ax, runs[configuration])
            _scatter(samples_ax, runs[configuration].fake, runs[configuration].half_width, "tab:red")
        else:
            _not_run(density_ax)
            _not_run(samples_ax)


def plot_figure3(samples_paths: Iterable[str | Path], out_path: str | Path) -> Figure:
    """Paper Fig. 3: one row per dataset in the inputs; real data, then density and samples per prior setting."""
    runs: dict[str, dict[str, SampleSet]] = {}
    for path in samples_paths:
        run = load_samples(path)
        runs.setdefault(run.dataset, {})[run.configuration] = run
    if not runs:
        raise ValueError("figure 3 needs at least one samples.npz")
    titles = ["real data"] + [f"{label} {kind}" for label in FIGURE3_CONFIGURATIONS.values()
                              for kind in ("density", "samples")]
    datasets = paper_order(runs, DATASETS)
    fig = Figure(figsize=(1.8 * len(titles), 1.9 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(titles), squeeze=False)
    for row, dataset in zip(axes, datasets):
        _figure3_row(row, runs[dataset])
        row[0].set_ylabel(DATASET_NAMES.get(dataset, dataset))
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=9)
    return save_figure(fig, out_path)


def _clip_panel(ax: Axes, a: float, b: float, k: float) -> None:
    """f_c over [a - w/2, b + w/2] (the package's soft clip, beta = k/(b - a)) with the identity and the bounds."""
    # the prior's own soft clip draws the figure; torch loads here so that Figure 3's job runs without it
    import torch

    from vaepriors.core.priors.soft_clip import retained_fraction, soft_clip

    width = b - a
    x = np.linspace(a - width / 2, b + width / 2, 400)
    clipped = soft_clip(torch.from_numpy(x), torch.tensor(a), torch.tensor(b), k).numpy()
    ax.plot(x, x, color="0.6", linestyle="--", linewidth=1, label="identity")
    ax.plot(x, clipped, color="tab:blue", linewidth=1.6, label="$f_c(x)$")
    for bound in (a, b):
        ax.axhline(bound, color="tab:red", linestyle=":", linewidth=1)
        ax.axvline(bound, color="0.8", linestyle=":", linewidth=1)
    ax.text(0.04, 0.96, f"$\\beta$={k / width:.3g}\nretained {retained_fraction(k):.0%}",
            transform=ax.transAxes, va="top", fontsize=8)


def plot_figure6(out_path: str | Path) -> Figure:
    """Paper Fig. 6: soft clipping per range (rows) for beta = 1 and for beta = K/(b-a), K in FIGURE6_K (columns)."""
    titles = ["fixed $\\beta$ = 1"] + [f"$\\beta$ = K/(b$-$a), K = {k:g}" for k in FIGURE6_K]
    fig = Figure(figsize=(2.6 * len(titles), 2.4 * len(FIGURE6_RANGES)), layout="constrained")
    axes = fig.subplots(len(FIGURE6_RANGES), len(titles), squeeze=False)
    for row, (a, b) in zip(axes, FIGURE6_RANGES):
        ks = [b - a] + list(FIGURE6_K)  # beta = 1 is k = b - a
        for ax, k in zip(row, ks):
            _clip_panel(ax, a, b, k)
        row[0].set_ylabel(f"[a, b] = [{a:g}, {b:g}]")
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=10)
    axes[0, 0].legend(loc="lower right", fontsize=7)
    return save_figure(fig, out_path)
