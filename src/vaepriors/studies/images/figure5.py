"""Figure 5 of the paper (App. B.3): the encoder overfitted on fixed synthetic real and generated distributions.

One row per configuration (i)-(iii), split into two lines: the real distribution's images above, the generated
distribution's below. Left half beta_neg = 1, right half beta_neg = 256 (any beta_negs of the study, one half each).
In each half: REC, KL and NELBO over encoder iterations, one curve per image (the colour follows the image, so an
image in both supports has the same colour in both lines), then the image column: real images, their
reconstructions, generated images, their reconstructions (top to bottom) after the last iteration. Dashed: the NELBO
Proposition 2 predicts at the optimal encoder, where it is finite (`predicted_nelbo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from vaepriors.core.reporting.figures import save_figure
from vaepriors.core.reporting.image_grid import image_grid
from vaepriors.studies.images.overfit_encoder_config import CONFIGURATION_NAMES, PANEL_KINDS, panel_key
from vaepriors.studies.images.panels import as_rgb

PathLike = str | Path
METRICS: dict[str, str] = {"rec": "REC", "kl": "KL", "nelbo": "NELBO"}
SETS: dict[str, str] = {"real": "real", "fake": "generated"}
CONFIGURATION_LABELS: dict[str, str] = {
    "i": "(i) real = generated",
    "ii": "(ii) one real image,\nall generated",
    "iii": "(iii) all real,\none generated image",
}
PANEL_LABELS: dict[str, str] = {"real": "real", "real_rec": "rec. real", "fake": "generated",
                                "fake_rec": "rec. generated"}


def _configurations(frame: pd.DataFrame) -> list[str]:
    return [name for name in CONFIGURATION_NAMES if name in set(frame["configuration"])]


def _curves(ax: Axes, block: pd.DataFrame, metric: str, colours: Mapping[int, tuple]) -> None:
    """One line per image, plus Proposition 2's finite NELBO optimum dashed; symlog so near-zero KLs and exploded
    fake KLs share an axis."""
    ax.set_yscale("symlog", linthresh=1.0)  # before plotting, so autoscale margins are taken in symlog space
    ax.yaxis.set_minor_formatter(NullFormatter())
    for image, curve in block.groupby("image"):
        ax.plot(curve["iteration"], curve[metric], color=colours[image], linewidth=1.0)
        prediction = curve["nelbo_prediction"].iloc[0]
        if metric == "nelbo" and np.isfinite(prediction):
            ax.axhline(prediction, color=colours[image], linestyle="--", linewidth=0.8)
    ax.tick_params(labelsize=6)


def image_column(panels: Mapping[str, np.ndarray], configuration: str, beta_neg: float) -> np.ndarray:
    """The four strips (PANEL_KINDS) of one run stacked, each padded with white to the longest: (rows, cols, 3)."""
    strips = [as_rgb(panels[panel_key(configuration, beta_neg, kind)]) for kind in PANEL_KINDS]
    width = max(len(strip) for strip in strips)
    padded = [np.concatenate([s, np.ones((width - len(s), *s.shape[1:]), dtype=s.dtype)]) for s in strips]
    return image_grid(np.concatenate(padded), nrow=width)


def _image_axis(ax: Axes, image: np.ndarray) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    step = image.shape[0] / len(PANEL_KINDS)
    ax.set_yticks([step * (i + 0.5) for i in range(len(PANEL_KINDS))], [PANEL_LABELS[k] for k in PANEL_KINDS],
                  fontsize=6)
    ax.yaxis.tick_right()


def _half(sub: SubFigure, frame: pd.DataFrame, panels: Mapping[str, np.ndarray], beta_neg: float,
          colours: Mapping[int, tuple], left: bool) -> None:
    """The plots of one beta_neg: rows = configurations x sets, columns = METRICS + the image column."""
    configurations = _configurations(frame)
    grid = sub.add_gridspec(2 * len(configurations), len(METRICS) + 1,
                            width_ratios=(1,) * len(METRICS) + (2.2,))
    sub.suptitle(rf"$\beta_{{neg}} = {beta_neg:g}$", fontsize=10)
    for row, configuration in enumerate(configurations):
        run = frame[(frame["configuration"] == configuration) & (frame["beta_neg"] == beta_neg)]
        for line, (which, set_label) in enumerate(SETS.items()):
            for column, (metric, metric_label) in enumerate(METRICS.items()):
                ax = sub.add_subplot(grid[2 * row + line, column])
                _curves(ax, run[run["set"] == which], metric, colours)
                if row == 0 and line == 0:
                    ax.set_title(metric_label, fontsize=9)
                if column == 0:
                    prefix = f"{CONFIGURATION_LABELS[configuration]}\n" if left and line == 0 else ""
                    ax.set_ylabel(f"{prefix}{set_label}", fontsize=7)
                if row == len(configurations) - 1 and line == 1:
                    ax.set_xlabel("encoder iteration", fontsize=7)
        _image_axis(sub.add_subplot(grid[2 * row:2 * row + 2, len(METRICS)]),
                    image_column(panels, configuration, beta_neg))


def plot_figure5(results: pd.DataFrame | PathLike, panels: Mapping[str, np.ndarray] | PathLike,
                 out_png: PathLike) -> Figure:
    """Figure 5 from the study's frame (or its CSV) and panels (or their .npz); writes PNG and PDF beside it."""
    frame = results if isinstance(results, pd.DataFrame) else pd.read_csv(results)
    if not isinstance(panels, Mapping):
        with np.load(panels) as stored:
            panels = {key: stored[key] for key in stored.files}
    images = sorted(frame["image"].unique())
    colours = dict(zip(images, sns.color_palette("tab10", len(images))))
    betas = sorted(frame["beta_neg"].unique())
    fig = Figure(figsize=(9.0 * len(betas), 2.4 * len(_configurations(frame)) + 0.8), layout="constrained")
    for index, (sub, beta_neg) in enumerate(zip(np.atleast_1d(fig.subfigures(1, len(betas))), betas)):
        _half(sub, frame, panels, beta_neg, colours, left=index == 0)
    handles = [Line2D([], [], color=colours[image], label=f"image {image}") for image in images]
    handles.append(Line2D([], [], color="0.3", linestyle="--", label="Prop. 2 optimum"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7, frameon=False)
    return save_figure(fig, out_png)
