"""Sub-commands rendering the 2D benchmark's Tables 1, 3, 4 and Figures 3, 6.

Torch-free at import (``vaepriors.cli`` builds these parsers without the training code), so each of these jobs starts
in about a second.
"""

from __future__ import annotations

import importlib


def _table(args) -> None:
    """Tables 1, 3 and 4 through the one table pipeline (``core.reporting.table_pipeline``)."""
    from vaepriors.core.reporting.table_pipeline import table_spec

    importlib.import_module("vaepriors.studies.toy2d.tables")  # registers Tables 1, 3 and 4
    table_spec(args.command).write(args.metrics, args.out_tex, args.out_csv)


def _figure3(args) -> None:
    from vaepriors.studies.toy2d.figures import plot_figure3

    plot_figure3(args.samples, args.out)


def _figure6(args) -> None:
    from vaepriors.studies.toy2d.figures import plot_figure6

    plot_figure6(args.out)


def add_toy_report_commands(sub) -> None:
    for number in (1, 3, 4):
        p = sub.add_parser(f"table{number}", help=f"render Table {number} (LaTeX and CSV)")
        p.add_argument("--metrics", nargs="+", required=True)
        p.add_argument("--out-tex", required=True)
        p.add_argument("--out-csv", required=True)
        p.set_defaults(handler=_table)
    p = sub.add_parser("figure3", help="real data, densities and samples per prior")
    p.add_argument("--samples", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_figure3)
    p = sub.add_parser("figure6", help="the soft-clipping function for several ranges and K")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_figure6)


# This study's report sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_toy_report_commands,)
