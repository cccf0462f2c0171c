"""The image study's figures (paper Figs. 2a, 2b, 4, 7, 8, 9 and per-run sample grids), one import for the CLI.

Every function takes explicit input files (as docs/images.md lays them out), writes a PNG at `out` and a PDF beside
it, and returns the matplotlib Figure. The implementations live by concept: training_curves (Figs. 2a, 2b, 7),
latent_figures (Figs. 4, 8, 9) and image_panels (image grids, inactive-mode frames).
"""

from vaepriors.studies.images.latent_figures import plot_figure4, plot_figure8, plot_figure9
from vaepriors.studies.images.panels import plot_sample_grid
from vaepriors.studies.images.training_curves import plot_figure2a, plot_figure2b, plot_figure7

__all__ = ["plot_figure2a", "plot_figure2b", "plot_figure4", "plot_figure7", "plot_figure8", "plot_figure9",
           "plot_sample_grid"]
