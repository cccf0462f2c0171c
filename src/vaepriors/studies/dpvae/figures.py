"""Figures 1, 3, 4, 5, 6 and 8 of the dpVAE paper from evaluation arrays (``write_dpvae_evaluation``'s npz).

Every function takes explicit npz paths, writes a PNG at ``out_path`` and a PDF beside it (``figures.save_figure``)
and returns the matplotlib Figure (Agg canvas, no pyplot state).

- Figs. 1 and 3 (two moons): per run a column of (a) generated samples coloured by their probability of generation
  (log N(z0; 0, I) by default), (b) the aggregate posterior q(z) with the top low- (x: prior samples of lowest q(z))
  and high-posterior (+: q(z) samples of lowest N(g(z); 0, I)) samples, a legend saying so, (c) the generation
  space q(z0) with the same samples, (d) the training data with the decoded samples.
  Fig. 1 is the two columns of one regulariser without and with the decoupled prior; Fig. 3 any set of runs.
- Fig. 4: leakage score LS(tau) per data set, one line per configuration (colour: regulariser; dashed: N(0, I),
  solid: decoupled; one legend for the figure);
  by default the authors' in-region mean, whose missing values mean an empty leakage region.
- Fig. 5: random (Gen) and low-posterior (LP-Gen) samples per run.
- Fig. 6: the interpolation between two posterior means, straight in z0 and mapped to z by g^-1, drawn over q(z)
  (left) and q(z0) (right) with its decoded images; start: green star, end: yellow star.
- Fig. 8: latent traversals of the dimensions with the largest std of q(z), +- range std, after the reconstruction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vaepriors.core.reporting.figures import save_figure
from vaepriors.core.reporting.image_grid import image_grid
from vaepriors.studies.dpvae.paper_values import DATASET_NAMES, MODEL_NAMES, PRIORS, REGULARISERS
from vaepriors.core.reporting.ordering import paper_rank
from vaepriors.studies.dpvae.tables import DATASET_ORDER, model_name

PathLike = str | Path
Arrays = dict[str, np.ndarray]
LOW, HIGH = dict(marker="x", color="red", s=40), dict(marker="P", color="orange", s=40, edgecolors="black")
PRIOR_STYLES = {"standard": "--", "decoupled": "-"}
PRIOR_LABELS = {"standard": r"dashed: $\mathcal{N}(0, I)$ prior", "decoupled": "solid: decoupled prior (dp)"}
LS_LABELS = {"in_region_mean": r"$LS(\tau)$, mean over the in-region samples", "score": r"$LS(\tau)$ (eq. 6)"}
COLOUR_LABELS = {"prior_log_p0": r"$\log \mathcal{N}(z_0; 0, I)$", "prior_log_p": r"$\log p(z)$",
                 "prior_log_q": r"$\log q(z)$"}


def load_arrays(path: PathLike) -> Arrays:
    """All arrays of one evaluation npz, read into memory."""
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def _key(arrays: Arrays) -> tuple:
    """Sort key: the paper's data set, regulariser and prior order, then the seed."""
    return (paper_rank(DATASET_ORDER, str(arrays["dataset"])), paper_rank(REGULARISERS, str(arrays["regulariser"])),
            paper_rank(PRIORS, str(arrays["prior"])), str(arrays["seed"]))


def _load_sorted(paths: Iterable[PathLike]) -> list[Arrays]:
    runs = sorted((load_arrays(path) for path in paths), key=_key)
    if not runs:
        raise ValueError("no evaluation arrays given")
    return runs


def _title(arrays: Arrays) -> str:
    return model_name((str(arrays["regulariser"]), str(arrays["prior"])))


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _density(ax: Axes, axis: np.ndarray | None, log_density: np.ndarray | None, points: np.ndarray) -> None:
    """exp(log density) on the square grid when there is one (L = 2), else the samples (first two dimensions)."""
    if axis is None or log_density is None:
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="steelblue", linewidths=0, rasterized=True)
    else:
        ax.contourf(axis, axis, np.exp(log_density), levels=20, cmap="Blues")
    ax.set_aspect("equal")
    _bare(ax)


def _image_grid(images: np.ndarray, nrow: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> one (H', W', 3) float image in [0, 1] (torchvision's make_grid, white padding)."""
    if images.ndim != 4:
        raise ValueError(f"expected image arrays (N, C, H, W), got shape {images.shape}: an image data set's run")
    return image_grid(np.asarray(images, dtype=np.float32) / 255.0, nrow)


def _show(ax: Axes, images: np.ndarray, nrow: int, title: str = "") -> None:
    ax.imshow(_image_grid(images, nrow), interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


# ------------------------------------------------------------------------------------------ Figs. 1 and 3 (moons)

def _generated_panel(ax: Axes, arrays: Arrays, colour_by: str) -> None:
    """(a) decoded prior samples coloured by ``colour_by`` (an array of the prior samples)."""
    points, colours = arrays["prior_x"], arrays[colour_by][:len(arrays["prior_x"])]
    ax.scatter(points[:, 0], points[:, 1], c=colours, s=3, cmap="viridis", linewidths=0, rasterized=True)
    ax.set_aspect("equal")
    _bare(ax)


def _latent_panel(ax: Axes, arrays: Arrays, space: str) -> None:
    """(b) q(z) (space "") or (c) q(z0) (space "0") with the top low- and high-posterior samples."""
    _density(ax, arrays.get(f"grid{space}_axis"), arrays.get(f"grid{space}_log_q"), arrays[f"posterior_z{space}"])
    ax.scatter(*arrays[f"low_posterior_z{space}"][:, :2].T, **LOW)
    ax.scatter(*arrays[f"high_posterior_z{space}"][:, :2].T, **HIGH)


def _data_panel(ax: Axes, arrays: Arrays) -> None:
    """(d) the training data and the decoded low- and high-posterior samples."""
    ax.scatter(*arrays["data_points"].T, s=2, color="0.6", linewidths=0, rasterized=True)
    ax.scatter(*arrays["low_posterior_x"].T, **LOW)
    ax.scatter(*arrays["high_posterior_x"].T, **HIGH)
    ax.set_aspect("equal")
    _bare(ax)


MOONS_ROWS = ("generated samples", "$q(z)$", "$q(z_0)$", "data")


def _moons_legend(fig: Figure) -> None:
    """What the markers and grey dots of the q(z), q(z0) and data rows are."""
    handles = [Line2D([], [], linestyle="none", marker=LOW["marker"], color=LOW["color"],
                      label="prior samples of lowest $q(z)$ (low-posterior)"),
               Line2D([], [], linestyle="none", marker=HIGH["marker"], color=HIGH["color"],
                      markeredgecolor=HIGH["edgecolors"],
                      label=r"$q(z)$ samples of lowest $\mathcal{N}(g(z); 0, I)$ (high-posterior, low-prior)"),
               Line2D([], [], linestyle="none", marker="o", markersize=3, color="0.6", label="training data"),
               Line2D([], [], linestyle="none", marker="s", color=sns.color_palette("Blues", 3)[2],
                      label="posterior density (blue)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=1, fontsize=7,
               title="data row: the same samples, decoded", title_fontsize=7)


def _moons_figure(runs: Sequence[Arrays], out_path: PathLike, colour_by: str) -> Figure:
    """One column per run, the rows of ``MOONS_ROWS``."""
    fig = Figure(figsize=(max(2.4 * len(runs), 4.8), 10.2), layout="constrained")
    axes = fig.subplots(len(MOONS_ROWS), len(runs), squeeze=False)
    for column, arrays in zip(axes.T, runs):
        _generated_panel(column[0], arrays, colour_by)
        _latent_panel(column[1], arrays, "")
        _latent_panel(column[2], arrays, "0")
        _data_panel(column[3], arrays)
        column[0].set_title(_title(arrays), fontsize=9)
    for ax, label in zip(axes[:, 0], MOONS_ROWS):
        ax.set_ylabel(label)
    axes[0, 0].set_ylabel(f"{MOONS_ROWS[0]}\n(colour: {COLOUR_LABELS.get(colour_by, colour_by)})")
    _moons_legend(fig)
    return save_figure(fig, out_path)


def plot_figure1(standard_npz: PathLike, decoupled_npz: PathLike, out_path: PathLike,
                 colour_by: str = "prior_log_p0") -> Figure:
    """Fig. 1: one regulariser on two moons without (left) and with (right) the decoupled prior."""
    return _moons_figure([load_arrays(standard_npz), load_arrays(decoupled_npz)], out_path, colour_by)


def plot_figure3(npz_paths: Iterable[PathLike], out_path: PathLike, colour_by: str = "prior_log_p0") -> Figure:
    """Fig. 3: every given two-moons run, in the paper's order (regulariser, then N(0, I) before dp)."""
    return _moons_figure(_load_sorted(npz_paths), out_path, colour_by)


# ------------------------------------------------------------------------------------------------ Fig. 4 (leakage)

def _leakage_lines(runs: Sequence[Arrays], value: str) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(regulariser, prior) -> (taus, LS averaged over the seeds, NaN where no seed has a value)."""
    grouped: dict[tuple[str, str], list[Arrays]] = {}
    for arrays in runs:
        grouped.setdefault((str(arrays["regulariser"]), str(arrays["prior"])), []).append(arrays)
    lines = {}
    for configuration, group in grouped.items():
        values = np.stack([a[f"leakage_{value}"] for a in group])
        finite = np.isfinite(values)
        mean = np.where(finite.any(0), np.where(finite, values, 0).sum(0) / np.maximum(finite.sum(0), 1), np.nan)
        lines[configuration] = (group[0]["leakage_tau"], mean)
    return lines


def plot_figure4(npz_paths: Iterable[PathLike], out_path: PathLike, value: str = "in_region_mean") -> Figure:
    """Fig. 4: LS(tau) per data set; ``value`` "in_region_mean" (the authors', Fig. 4) or "score" (eq. 6)."""
    runs = _load_sorted(npz_paths)
    datasets = list(dict.fromkeys(str(a["dataset"]) for a in runs))
    palette = dict(zip(REGULARISERS, sns.color_palette("colorblind", len(REGULARISERS))))
    fig = Figure(figsize=(max(4.2 * len(datasets), 6.0), 4.0), layout="constrained")
    for ax, dataset in zip(fig.subplots(1, len(datasets), squeeze=False)[0], datasets):
        lines = _leakage_lines([a for a in runs if str(a["dataset"]) == dataset], value)
        for (regulariser, prior), (taus, scores) in lines.items():
            ax.plot(taus, scores, PRIOR_STYLES.get(prior, ":"), marker="o", color=palette.get(regulariser),
                    label=model_name((regulariser, prior)))
        ax.set_title(DATASET_NAMES.get(dataset, dataset))
        ax.set_xlabel(r"threshold $\tau$ on $\log p(h(z))$")
        ax.set_ylabel(LS_LABELS.get(value, value))
    _leakage_legend(fig, runs, palette)
    return save_figure(fig, out_path)


def _leakage_legend(fig: Figure, runs: Sequence[Arrays], palette: dict) -> None:
    """One legend for the figure: a colour per regulariser, a line style per prior (those present)."""
    regularisers = sorted({str(a["regulariser"]) for a in runs}, key=lambda r: paper_rank(REGULARISERS, r))
    priors = sorted({str(a["prior"]) for a in runs}, key=lambda p: paper_rank(PRIORS, p))
    handles = [Line2D([], [], color=palette.get(r), linewidth=4, label=f"colour: {MODEL_NAMES.get(r, (r,))[0]}")
               for r in regularisers]
    handles += [Line2D([], [], color="0.3", linestyle=PRIOR_STYLES.get(p, ":"), label=PRIOR_LABELS.get(p, p))
                for p in priors]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=7)


# ------------------------------------------------------------------------------------------- Figs. 5, 6 and 8

def plot_figure5(npz_paths: Iterable[PathLike], out_path: PathLike, per_row: int = 8) -> Figure:
    """Fig. 5: per run (one row each) random prior samples (Gen) and low-posterior samples (LP-Gen)."""
    runs = _load_sorted(npz_paths)
    fig = Figure(figsize=(6.0, 3.0 * len(runs)), constrained_layout=True)
    axes = fig.subplots(len(runs), 2, squeeze=False)
    for (gen, lp), arrays in zip(axes, runs):
        name = f"{DATASET_NAMES.get(str(arrays['dataset']), arrays['dataset'])}, {_title(arrays)}"
        _show(gen, arrays["prior_x"], per_row, f"{name}: Gen")
        _show(lp, arrays["lp_x"], per_row, f"{name}: LP-Gen")
    return save_figure(fig, out_path)


def _path_panel(ax: Axes, arrays: Arrays, space: str) -> None:
    """q(z) or q(z0) with the interpolation path, its start (green star) and end (yellow star)."""
    _density(ax, arrays.get(f"grid{space}_axis"), arrays.get(f"grid{space}_log_q"), arrays[f"posterior_z{space}"])
    path = arrays[f"interpolation_z{space}"][:, :2]
    ax.plot(path[:, 0], path[:, 1], color="red", lw=1.5)
    ax.scatter(*path[0], marker="*", s=150, color="limegreen", edgecolors="black", zorder=3)
    ax.scatter(*path[-1], marker="*", s=150, color="yellow", edgecolors="black", zorder=3)
    ax.set_title("$q(z)$" if space == "" else "$q(z_0)$", fontsize=8)


def plot_figure6(standard_npz: PathLike, decoupled_npz: PathLike, out_path: PathLike) -> Figure:
    """Fig. 6: the interpolation of each run (rows) as images, over q(z) and over q(z0)."""
    runs = [load_arrays(standard_npz), load_arrays(decoupled_npz)]
    fig = Figure(figsize=(10.0, 3.2 * len(runs)), constrained_layout=True)
    axes = fig.subplots(len(runs), 3, squeeze=False, width_ratios=[2.5, 1, 1])
    for (strip, latent, base), arrays in zip(axes, runs):
        _show(strip, arrays["interpolation_x"], len(arrays["interpolation_x"]), _title(arrays))
        _path_panel(latent, arrays, "")
        _path_panel(base, arrays, "0")
    return save_figure(fig, out_path)


def plot_figure8(npz_path: PathLike, out_path: PathLike) -> Figure:
    """Fig. 8: per traversed dimension (rows, by decreasing std of q(z)) the reconstruction, then the traversal."""
    arrays = load_arrays(npz_path)
    traversal, reconstruction = arrays["traversal_x"], arrays["traversal_reconstruction"]
    rows = [np.concatenate([reconstruction, row]) for row in traversal]
    fig = Figure(figsize=(1.0 + 0.6 * (traversal.shape[1] + 1), 0.7 * len(rows) + 0.8), constrained_layout=True)
    ax = fig.subplots()
    _show(ax, np.concatenate(rows), traversal.shape[1] + 1,
          f"{_title(arrays)}: dimensions {', '.join(map(str, arrays['traversal_dims']))}, "
          f"{arrays['traversal_offsets'][0]:g} to {arrays['traversal_offsets'][-1]:g} std of $q(z)$")
    return save_figure(fig, out_path)
