"""Latent-space figures: paper Fig. 8 (the first two latent dimensions of the aggregated posterior with the prior
means), Fig. 9 (t-SNE of the full latent space) and Fig. 4 (both, one column per Table-5 configuration).

Rows are datasets, columns configurations in Table-5 order; each input file is placed by the (dataset,
configuration) its path encodes (docs/images.md), so the caller passes one _latents.npz / t-SNE file per cell.
Points are coloured by class; prior means are black dots whose area is proportional to their weight (uniform
weights give every dot the same size, as for a MoG without learnable contributions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vaepriors.core.evaluation.tsne import load_tsne
from vaepriors.core.reporting.figures import save_figure
from vaepriors.studies.images.inputs import (
    PathLike, configuration_label, load_latents, ordered_configurations, ordered_datasets, run_key,
)
from vaepriors.studies.images.panels import absent_panel
from vaepriors.studies.images.paper_values import IMAGE_DATASET_NAMES

POSTERIOR_POINTS: tuple[str, ...] = ("z", "mu")  # one posterior sample per image (aggregated posterior) or its mean
PRIOR_DOT_AREA = 10.0  # marker area (pt^2) of a prior mean of weight 1/K
_DOT_AREA_RANGE = (0.5, 25 * PRIOR_DOT_AREA)  # keeps a dominant mode's dot from covering the panel
_UNLABELLED = (0.6, 0.6, 0.6)

Drawer = Callable[[Axes], np.ndarray | None]  # draws one panel, returns the class labels it coloured
Cell = tuple[str, str]  # (dataset, configuration)


def class_colours(labels: np.ndarray) -> np.ndarray:
    """(N, 3) RGB: tab10 by class (label mod 10), grey for unlabelled (-1); the same class looks the same
    in every panel."""
    labels = np.asarray(labels, dtype=np.int64)
    palette = np.asarray(sns.color_palette("tab10", 10))
    return np.where((labels >= 0)[:, None], palette[labels % 10], np.asarray(_UNLABELLED))


def _scatter_classes(ax: Axes, points: np.ndarray, labels: np.ndarray) -> None:
    ax.scatter(points[:, 0], points[:, 1], c=class_colours(labels), s=1.5, alpha=0.5, linewidths=0,
               rasterized=True)
    ax.tick_params(labelsize=6)


def prior_dot_areas(prior_weight: np.ndarray) -> np.ndarray:
    """Marker areas proportional to the mixture weights, PRIOR_DOT_AREA at the uniform weight 1/K."""
    weight = np.asarray(prior_weight, dtype=np.float64)
    return np.clip(PRIOR_DOT_AREA * len(weight) * weight, *_DOT_AREA_RANGE)


def draw_latent_panel(latents_npz: PathLike, ax: Axes, points: str = "z") -> np.ndarray:
    """First two latent dimensions of the test posterior (by class) and the prior means (black, sized by weight)."""
    latents = load_latents(latents_npz)
    _scatter_classes(ax, getattr(latents, points)[:, :2], latents.labels)
    ax.scatter(latents.prior_mu[:, 0], latents.prior_mu[:, 1], s=prior_dot_areas(latents.prior_weight),
               c="black", edgecolors="white", linewidths=0.4, zorder=3)
    return latents.labels


def draw_tsne_panel(tsne_npz: PathLike, ax: Axes) -> np.ndarray:
    """A t-SNE embedding by class, without ticks (its axes have no units)."""
    tsne = load_tsne(tsne_npz)
    _scatter_classes(ax, tsne.embedding, tsne.labels)
    ax.set_xticks([])
    ax.set_yticks([])
    return tsne.labels


def _cells(paths: Iterable[PathLike], draw: Callable[[PathLike, Axes], np.ndarray]) -> dict[Cell, Drawer]:
    """(dataset, configuration) -> a drawer of that file; two files for one cell are an error."""
    cells: dict[Cell, Drawer] = {}
    for path in paths:
        key = run_key(path)
        cell = (key.dataset, key.configuration)
        if cell in cells:
            raise ValueError(f"two inputs for dataset {cell[0]!r}, configuration {cell[1]!r} (second: {path})")
        cells[cell] = partial(draw, path)
    return cells


def _with_failed(cells: dict[Cell, Drawer], failed: Mapping[Cell, str]) -> dict[Cell, Drawer]:
    """``cells`` plus, for each failed cell without an input, a panel that says why (e.g. 'diverged (3/3)')."""
    return {**{cell: partial(absent_panel, text=text) for cell, text in failed.items()}, **cells}


def _datasets(*cell_maps: dict[Cell, Drawer]) -> list[str]:
    return ordered_datasets(dataset for cells in cell_maps for dataset, _ in cells)


def _dataset_row(cells: dict[Cell, Drawer], dataset: str, suffix: str = "") -> tuple[str, dict[str, Drawer]]:
    """(row label, configuration -> drawer) of one dataset."""
    drawers = {configuration: draw for (d, configuration), draw in cells.items() if d == dataset}
    return f"{IMAGE_DATASET_NAMES.get(dataset, dataset)}{suffix}", drawers


PRIOR_MEAN_LABEL = "prior mean (area $\\propto$ weight)"


def _class_legend(fig: Figure, labels: np.ndarray, prior_means: bool) -> None:
    """One legend entry per class drawn anywhere in the figure, and one for the prior means' black dots when the
    figure draws them (no legend when there is neither)."""
    classes = np.unique(labels[labels >= 0])
    handles = [Line2D([], [], marker="o", linestyle="none", color=colour, label=str(c))
               for c, colour in zip(classes, class_colours(classes))]
    if prior_means:
        handles.append(Line2D([], [], marker="o", linestyle="none", color="black", markeredgecolor="white",
                              label=PRIOR_MEAN_LABEL))
    if handles:
        fig.legend(handles=handles, title="colour: class" if classes.size else None, loc="outside lower center",
                   ncol=len(handles), fontsize=7, title_fontsize=8)


def _table_figure(rows: Sequence[tuple[str, dict[str, Drawer]]], out: PathLike, prior_means: bool = False
                  ) -> Figure:
    """A panel per (row, configuration), columns in Table-5 order; 'not run' where a row lacks a configuration;
    `prior_means` when the latent panels draw them (legend entry)."""
    if not rows:
        raise ValueError("the figure needs at least one input file")
    columns = ordered_configurations(c for _, drawers in rows for c in drawers)
    fig = Figure(figsize=(2.1 * len(columns) + 0.6, 2.2 * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    seen = [np.empty(0, dtype=np.int64)]
    for ax_row, (label, drawers) in zip(axes, rows):
        for ax, configuration in zip(ax_row, columns):
            labels = drawers.get(configuration, absent_panel)(ax)
            seen.append(np.asarray(labels if labels is not None else [], dtype=np.int64))
        ax_row[0].set_ylabel(label)
    for ax, configuration in zip(axes[0], columns):
        ax.set_title(configuration_label(configuration), fontsize=9)
    _class_legend(fig, np.concatenate(seen), prior_means)
    return save_figure(fig, out)


def _check_points(points: str) -> None:
    if points not in POSTERIOR_POINTS:
        raise ValueError(f"points must be one of {POSTERIOR_POINTS}, got {points!r}")


def plot_figure8(latents_files: Iterable[PathLike], out: PathLike, points: str = "z",
                 failed: Mapping[Cell, str] = {}) -> Figure:
    """Paper Fig. 8: first two latent dimensions of the aggregated posterior and the prior means, per dataset
    (rows) and configuration (columns), from one _latents.npz per cell; ``failed`` cells (no run to show, e.g. all
    diverged) get a panel with their text."""
    _check_points(points)
    cells = _with_failed(_cells(latents_files, partial(draw_latent_panel, points=points)), failed)
    return _table_figure([_dataset_row(cells, dataset) for dataset in _datasets(cells)], out, prior_means=True)


def plot_figure9(tsne_files: Iterable[PathLike], out: PathLike) -> Figure:
    """Paper Fig. 9: t-SNE embeddings of the latent space by class, per dataset (rows) and configuration (columns),
    from the results/images/{dataset}/tsne/{configuration}.npz files."""
    cells = _cells(tsne_files, draw_tsne_panel)
    return _table_figure([_dataset_row(cells, dataset) for dataset in _datasets(cells)], out)


def plot_figure4(latents_files: Iterable[PathLike], tsne_files: Iterable[PathLike], out: PathLike,
                 points: str = "z", failed: Mapping[Cell, str] = {}) -> Figure:
    """Paper Fig. 4: per dataset, a row of first-two-dimension panels (as Fig. 8) over a row of t-SNE panels
    (as Fig. 9), one column per Table-5 configuration; ``failed`` cells get a panel with their text."""
    _check_points(points)
    latent_cells = _with_failed(_cells(latents_files, partial(draw_latent_panel, points=points)), failed)
    tsne_cells = _with_failed(_cells(tsne_files, draw_tsne_panel), failed)
    rows = [row for dataset in _datasets(latent_cells, tsne_cells)
            for row in (_dataset_row(latent_cells, dataset, "\nlatent dims 1-2"),
                        _dataset_row(tsne_cells, dataset, "\nt-SNE"))]
    return _table_figure(rows, out, prior_means=bool(latent_cells))
