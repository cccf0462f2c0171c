"""Tables and figures of the 2D density benchmark, set against the paper's reported numbers."""

from vaepriors.reporting.figures import plot_figure3, plot_figure6
from vaepriors.reporting.tables import write_table1, write_table3, write_table4

__all__ = ["plot_figure3", "plot_figure6", "write_table1", "write_table3", "write_table4"]
