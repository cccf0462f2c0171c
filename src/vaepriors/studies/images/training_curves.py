"""Training curves of the image study: paper Fig. 2a (log-variance clipping), Fig. 2b (entropy regularisation and
inactive modes) and Fig. 7 (responsibility entropy and FID(GEN) per r_entropy).

FID(GEN) is the paper-compatible column by default (train-mode Inception, the number the paper plots and tabulates;
reference §10.1); `fid_column="fid_gen_standard"` draws the standard FID instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vaepriors.core.reporting.extractors import describe_extractor
from vaepriors.core.reporting.figures import save_figure
from vaepriors.studies.images.inputs import (
    PathLike, RunStatus, fid_extractor, load_fid_history, load_history, load_latents, load_status, ordered_datasets,
    run_key, until_divergence,
)
from vaepriors.studies.images.panels import absent_panel, samples_panel
from vaepriors.studies.images.paper_values import IMAGE_DATASET_NAMES
from vaepriors.studies.images.tables import PriorColumn

FID_COLUMN = "fid_gen_paper"
FIGURE7_R_VALUES: tuple[float, ...] = (0.0, 10.0, 100.0)  # the paper omits r = 1 (it behaves like r = 0)
FIGURE7_COMPONENTS: tuple[int, ...] = (10, 100)
# Paper App. D.3: blue = unregularised; dotted = without learnable contributions.
LC_LINESTYLES: dict[bool, str] = {True: "-", False: ":"}
_MOG_VARIANTS: tuple[str, ...] = ("", "_ip", "_lc", "_lc_ip")
# Hollow markers of different shapes and sizes, and dash patterns, one per curve: curves that coincide (two runs
# with the same FIDs, entropies pinned at 0 or 1) stay visible on top of each other.
CURVE_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")
CURVE_DASHES: tuple[str, ...] = ("-", "--", "-.", ":")

Figure2aRun = tuple[str, PathLike, PathLike, PathLike]  # (label, history.csv, _fid_history.csv, status.json)
Figure2bRun = tuple[str, PathLike, PathLike]  # (label, history.csv, _latents.npz)
CurvePaths = tuple[PathLike, PathLike]  # (history.csv, _fid_history.csv) of one run


def _colours(n: int) -> list[tuple[float, float, float]]:
    return sns.color_palette("tab10", max(n, 1))


def curve_styles(n: int, dashes: bool = True) -> list[dict]:
    """Matplotlib styles of n curves: colour, hollow marker (larger for earlier curves, so a later one fits inside)
    and, with `dashes`, a dash pattern each."""
    return [dict(color=colour, marker=CURVE_MARKERS[i % len(CURVE_MARKERS)], markersize=7 - 1.5 * (i % 3),
                 markerfacecolor="none", **({"linestyle": CURVE_DASHES[i % len(CURVE_DASHES)]} if dashes else {}))
            for i, colour in enumerate(_colours(n))]


def fid_label(fid_histories: Sequence[PathLike]) -> str:
    """FID axis label naming the feature extractor that the runs' evaluation JSONs record."""
    extractor = fid_extractor(fid_histories)
    if extractor is None:
        return "FID (GEN), extractor not recorded"
    return f"FID (GEN), {describe_extractor(extractor)[0]}\n({extractor})"


def _shade_warmup(ax: Axes, history: pd.DataFrame) -> None:
    """Grey band over the VAE warm-up epochs, when the history has any."""
    warmup = history.loc[history["phase"] == "warmup", "epoch"]
    if len(warmup):
        ax.axvspan(warmup.min(), warmup.max() + 1, color="0.92", zorder=0, label="VAE warm-up")


def _curve(ax: Axes, frame: pd.DataFrame, column: str, label: str, style: dict) -> pd.DataFrame:
    """One run's finite values of `column` over epochs (markers on at most ~12 of them); returns what was drawn."""
    finite = frame[["epoch", column]].dropna()
    ax.plot(finite["epoch"], finite[column], label=label, linewidth=1.4, markevery=max(1, len(finite) // 12),
            **style)
    return finite


def _mark_divergence(ax: Axes, drawn: pd.DataFrame, column: str, status: RunStatus, colour) -> None:
    """A cross at the divergence epoch, at the height where the curve stopped, and a dotted line through it."""
    if not status.diverged or status.diverged_at_epoch is None or drawn.empty:
        return
    ax.axvline(status.diverged_at_epoch, color=colour, linestyle=":", linewidth=1)
    ax.plot([status.diverged_at_epoch], [drawn[column].iloc[-1]], marker="X", markersize=9, color=colour,
            linestyle="none")


def _run_label(label: str, status: RunStatus) -> str:
    return f"{label} (diverged at epoch {status.diverged_at_epoch})" if status.diverged else label


HELD_NOTE = ("{runs}: held at the value fitted when the clip switched on. With one mixture component the fitted\n"
             "range [min, max] over components is a single point, so the soft clip (Eq. 10) is a hard clamp;\n"
             "dashed (where it moved): the prior's raw (unclipped) log-variance parameter.")


def _held(history: pd.DataFrame) -> bool:
    """Whether the max prior log-variance stays fixed (to float32 rounding) over an adversarial phase of two or more
    epochs, as a clip fitted at its start holds a single component's log-variance; a learnt prior never does."""
    adversarial = history.loc[history["phase"] == "adversarial", "max_prior_logvar"].dropna()
    return len(adversarial) >= 2 and np.ptp(adversarial) < 1e-5


def _raw_differs(history: pd.DataFrame) -> bool:
    """Whether the prior's raw (unclipped) log-variance moved away from the clipped value at some epoch."""
    if "max_prior_logvar_unclipped" not in history:
        return False
    values = history[["max_prior_logvar", "max_prior_logvar_unclipped"]].dropna()
    return not np.allclose(values.iloc[:, 0], values.iloc[:, 1])


def _logvar_curves(ax: Axes, history: pd.DataFrame, name: str, status: RunStatus, style: dict) -> bool:
    """The max prior log-variance (and, when the clip held it fixed, the raw parameter dashed where it moved);
    returns whether it was held."""
    drawn = _curve(ax, history, "max_prior_logvar", name, style)
    _mark_divergence(ax, drawn, "max_prior_logvar", status, style["color"])
    held = _held(history)
    if held and _raw_differs(history):
        raw = history[["epoch", "max_prior_logvar_unclipped"]].dropna()
        ax.plot(raw["epoch"], raw["max_prior_logvar_unclipped"], color=style["color"], linestyle="--", linewidth=1,
                label=f"{name}: raw parameter")
    return held


def plot_figure2a(runs: Sequence[Figure2aRun], out: PathLike, fid_column: str = FID_COLUMN) -> Figure:
    """Paper Fig. 2a: max prior log-variance and FID(GEN) over epochs per run, each curve ending where it diverged.

    A clipped run whose log-variance the clip holds fixed (one component: Eq. 10's fitted range is a single point)
    is drawn as it is, flat, with its raw parameter dashed beside it and a note saying why."""
    if not runs:
        raise ValueError("figure 2a needs at least one run")
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    logvar_ax, fid_ax = fig.subplots(1, 2, sharex=True)
    held = []
    for style, (label, history_csv, fid_csv, status_json) in zip(curve_styles(len(runs)), runs):
        status = load_status(status_json)
        name = _run_label(label, status)
        if _logvar_curves(logvar_ax, until_divergence(load_history(history_csv), status), name, status, style):
            held.append(label)
        fids = _curve(fid_ax, until_divergence(load_fid_history(fid_csv), status), fid_column, name, style)
        _mark_divergence(fid_ax, fids, fid_column, status, style["color"])
    _shade_warmup(logvar_ax, load_history(runs[0][1]))
    logvar_ax.set(xlabel="epoch", ylabel="max prior log-variance")
    fid_ax.set(xlabel="epoch", ylabel=fid_label([fid_csv for _, _, fid_csv, _ in runs]))
    logvar_ax.legend(fontsize=8)
    fid_ax.legend(fontsize=8)
    if held:
        fig.suptitle(HELD_NOTE.format(runs=", ".join(held)), fontsize=8, ha="left", x=0.01)
    return save_figure(fig, out)


def plot_figure2b(runs: Sequence[Figure2bRun], out: PathLike, nrow: int = 8, max_images: int = 64) -> Figure:
    """Paper Fig. 2b: responsibility entropy over epochs per run, then each run's samples (inactive modes in red)."""
    if not runs:
        raise ValueError("figure 2b needs at least one run")
    fig = Figure(figsize=(3.6 * (1 + len(runs)), 3.9), layout="constrained")
    entropy_ax, *grid_axes = fig.subplots(1, 1 + len(runs))
    for style, grid_ax, (label, history_csv, latents_npz) in zip(curve_styles(len(runs)), grid_axes, runs):
        _curve(entropy_ax, load_history(history_csv), "entropy", label, style)
        samples_panel(grid_ax, load_latents(latents_npz), nrow, max_images, heading=label)
    entropy_ax.set(xlabel="epoch", ylabel="normalised responsibility entropy", ylim=(-0.03, 1.03))
    entropy_ax.legend(fontsize=8)
    return save_figure(fig, out)


def _figure7_groups(runs: Sequence[CurvePaths], r_values: Sequence[float], components: Sequence[int]
                    ) -> dict[tuple[str, str, float], list[CurvePaths]]:
    """(dataset, configuration, r) -> the seeds' file pairs, for the MoG runs that Fig. 7 shows."""
    shown = {f"mog{k}{variant}" for k in components for variant in _MOG_VARIANTS}
    groups: dict[tuple[str, str, float], list[CurvePaths]] = defaultdict(list)
    for history_csv, fid_csv in runs:
        key = run_key(history_csv)
        if run_key(fid_csv) != key:
            raise ValueError(f"{history_csv} and {fid_csv} belong to different runs")
        if key.configuration in shown and key.r_entropy in r_values:
            groups[key.dataset, key.configuration, key.r_entropy].append((history_csv, fid_csv))
    return groups


def _seed_mean(frames: list[pd.DataFrame], column: str) -> pd.Series:
    """Mean over seeds of `column` per epoch (epochs some seeds lack average the others)."""
    return pd.concat([frame.set_index("epoch")[column] for frame in frames], axis=1).mean(axis=1).dropna()


def _figure7_columns(groups: dict, components: Sequence[int]) -> list[tuple[int, bool]]:
    """The (K, IP) columns that hold runs, the fixed prior first: a column no dataset ran is left out, not drawn
    empty."""
    present = {(prior.components, prior.ip) for prior in (PriorColumn.parse(c) for _, c, _ in groups)}
    return [(k, ip) for k in components for ip in (False, True) if (k, ip) in present]


def _figure7_axes(fig: Figure, datasets: list[str], columns: list[tuple[int, bool]], fid_axis: str) -> np.ndarray:
    """Two rows (entropy, FID) per dataset; one column per (K, IP)."""
    axes = fig.subplots(2 * len(datasets), len(columns), squeeze=False, sharex=True)
    for ax, (k, ip) in zip(axes[0], columns):
        ax.set_title(f"MoG({k}), {'IP' if ip else 'fixed prior (no IP)'}", fontsize=9)
    for row, dataset in enumerate(datasets):
        name = IMAGE_DATASET_NAMES.get(dataset, dataset)
        axes[2 * row, 0].set_ylabel(f"{name}\nnormalised entropy")
        for ax in axes[2 * row]:
            ax.set_ylim(-0.03, 1.03)
        axes[2 * row + 1, 0].set_ylabel(f"{name}\n{fid_axis}")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    return axes


def _figure7_legend(fig: Figure, r_styles: dict[float, dict]) -> None:
    handles = [Line2D([], [], label=f"$r_{{entropy}}$ = {r:g}", **style) for r, style in r_styles.items()]
    handles += [Line2D([], [], color="0.3", linestyle=LC_LINESTYLES[lc], label="LC" if lc else "no LC")
                for lc in (True, False)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)


def _draw_group(entropy_ax: Axes, fid_ax: Axes, pairs: list[CurvePaths], style: dict, fid_column: str) -> None:
    """One configuration and r: seed-mean entropy per epoch, and seed-mean FID(GEN) per snapshot."""
    entropy = _seed_mean([load_history(history) for history, _ in pairs], "entropy")
    fid = _seed_mean([load_fid_history(fid_csv) for _, fid_csv in pairs], fid_column)
    entropy_ax.plot(entropy.index, entropy.to_numpy(), markevery=max(1, len(entropy) // 12), **style)
    fid_ax.plot(fid.index, fid.to_numpy(), **style)


def plot_figure7(runs: Sequence[CurvePaths], out: PathLike, r_values: Sequence[float] = FIGURE7_R_VALUES,
                 components: Sequence[int] = FIGURE7_COMPONENTS, fid_column: str = FID_COLUMN) -> Figure:
    """Paper Fig. 7: per dataset, normalised entropy and FID(GEN) over epochs (mean over seeds), one colour and
    marker per r_entropy, solid with LC and dotted without; the fixed-prior and IP runs of each K in separate
    columns, only the columns that hold runs.

    `runs` are (history.csv, _fid_history.csv) pairs of any image runs; those outside the figure are ignored.
    """
    groups = _figure7_groups(runs, r_values, components)
    if not groups:
        raise ValueError(f"figure 7 needs MoG runs with K in {tuple(components)} and r_entropy in {tuple(r_values)}")
    datasets = ordered_datasets(dataset for dataset, _, _ in groups)
    columns = _figure7_columns(groups, components)
    fig = Figure(figsize=(3.4 * max(len(columns), 2), 2.6 * 2 * len(datasets) + 0.5), layout="constrained")
    shown_fids = [fid_csv for pairs in groups.values() for _, fid_csv in pairs]
    axes = _figure7_axes(fig, datasets, columns, fid_label(shown_fids))
    r_styles = dict(zip(r_values, curve_styles(len(r_values), dashes=False)))
    empty = {(row, col) for row in range(0, len(axes), 2) for col in range(len(columns))}
    for (dataset, configuration, r), pairs in groups.items():
        prior = PriorColumn.parse(configuration)
        row, col = 2 * datasets.index(dataset), columns.index((prior.components, prior.ip))
        style = dict(r_styles[r], linestyle=LC_LINESTYLES[prior.lc], linewidth=1.3)
        _draw_group(axes[row, col], axes[row + 1, col], pairs, style, fid_column)
        empty.discard((row, col))
    for row, col in empty:  # a column that another dataset ran
        absent_panel(axes[row, col])
        absent_panel(axes[row + 1, col])
    _figure7_legend(fig, {r: style for r, style in r_styles.items() if r in {r for _, _, r in groups}})
    return save_figure(fig, out)
