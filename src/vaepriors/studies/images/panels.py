"""Image grids with inactive-mode frames (paper Fig. 2b) and the per-run sample / reconstruction figure.

A prior mode is inactive when its mean responsibility over the test posterior is below 1e-2 (paper Fig. 2b caption):
it supports no real data, so what it generates is unconstrained. Samples drawn from such modes get a red frame.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vaepriors.core.reporting.figures import save_figure
from vaepriors.core.reporting.image_grid import image_grid
from vaepriors.studies.images.inputs import ImageLatents, PathLike, load_latents

INACTIVE_RESPONSIBILITY = 1e-2
FRAME_WIDTH = 2  # pixels around every image; red for inactive modes, the grid's white otherwise
_RED = (1.0, 0.0, 0.0)
_WHITE = (1.0, 1.0, 1.0)


def inactive_modes(mean_responsibility: np.ndarray, threshold: float = INACTIVE_RESPONSIBILITY) -> np.ndarray:
    """(K,) bool: the modes whose mean responsibility is below the threshold."""
    return np.asarray(mean_responsibility) < threshold


def inactive_samples(mean_responsibility: np.ndarray, sample_component: np.ndarray,
                     threshold: float = INACTIVE_RESPONSIBILITY) -> np.ndarray:
    """(n,) bool: the samples drawn from an inactive mode."""
    return inactive_modes(mean_responsibility, threshold)[np.asarray(sample_component, dtype=np.int64)]


def as_rgb(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) with C in {1, 3} -> float32 (n, 3, H, W) clipped to [0, 1]."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    return np.repeat(images, 3, axis=1) if images.shape[1] == 1 else images


def framed(images: np.ndarray, flagged: np.ndarray, width: int = FRAME_WIDTH) -> np.ndarray:
    """(n, 3, H + 2w, W + 2w): each image inside a border, red where flagged and white elsewhere."""
    rgb = as_rgb(images)
    n, _, h, w = rgb.shape
    colours = np.array([_RED if flag else _WHITE for flag in np.asarray(flagged, dtype=bool)], dtype=np.float32)
    out = np.broadcast_to(colours.reshape(n, 3, 1, 1), (n, 3, h + 2 * width, w + 2 * width)).copy()
    out[:, :, width:width + h, width:width + w] = rgb
    return out


def originals_over_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, nrow: int) -> np.ndarray:
    """Alternating rows: nrow originals, then their nrow reconstructions (whole rows only)."""
    count = min(len(originals), len(reconstructions)) // nrow * nrow
    if count == 0:
        raise ValueError(f"need at least nrow={nrow} originals and reconstructions")
    pairs = np.stack([as_rgb(originals[:count]), as_rgb(reconstructions[:count])], axis=1)  # (count, 2, 3, H, W)
    rows = pairs.reshape(count // nrow, nrow, 2, *pairs.shape[2:]).swapaxes(1, 2)  # (rows, 2, nrow, 3, H, W)
    return rows.reshape(-1, *pairs.shape[2:])


def show_image(ax: Axes, image: np.ndarray, title: str) -> None:
    """An image panel without ticks."""
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def absent_panel(ax: Axes, text: str = "not run") -> None:
    """An empty panel that says its input is absent; ticks are hidden, not removed, as axes may share a locator,
    and the axis labels stay (a row label may sit on it)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", color="0.5", transform=ax.transAxes)
    ax.tick_params(which="both", bottom=False, left=False, labelbottom=False, labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def samples_title(mean_responsibility: np.ndarray, flagged: np.ndarray) -> str:
    """'samples', plus how many modes and shown samples are inactive when any are."""
    modes = inactive_modes(mean_responsibility)
    if not modes.any():
        return "samples"
    return f"samples: {int(modes.sum())}/{len(modes)} modes inactive ({int(np.sum(flagged))} framed red)"


def samples_panel(ax: Axes, latents: ImageLatents, nrow: int, max_images: int, heading: str = "") -> None:
    """The first max_images prior samples as a grid, those from inactive modes framed red."""
    flagged = inactive_samples(latents.mean_responsibility, latents.sample_component[:max_images])
    title = samples_title(latents.mean_responsibility, flagged)
    show_image(ax, image_grid(framed(latents.samples[:max_images], flagged), nrow),
               f"{heading}\n{title}" if heading else title)


def plot_sample_grid(latents_npz: PathLike, out: PathLike, nrow: int = 8, max_images: int = 64) -> Figure:
    """Prior samples (inactive modes framed red) beside originals over reconstructions, from one _latents.npz."""
    latents = load_latents(latents_npz)
    fig = Figure(figsize=(10, 5.4), layout="constrained")
    samples_ax, pairs_ax = fig.subplots(1, 2)
    samples_panel(samples_ax, latents, nrow, max_images)
    pair_row = min(nrow, len(latents.originals))
    half = max(max_images // 2, pair_row)  # as many images in all as the samples panel
    pairs = originals_over_reconstructions(latents.originals[:half], latents.reconstructions[:half], pair_row)
    show_image(pairs_ax, image_grid(pairs, pair_row), "originals (odd rows) over reconstructions (even rows)")
    return save_figure(fig, out)
