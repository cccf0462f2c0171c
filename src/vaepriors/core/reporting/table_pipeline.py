"""One pipeline for every table of the three studies (docs/architecture.md, "Add a table"):

    records -> tidy rows (summarised over seeds, set beside the paper's values) -> LaTeX cells -> caption
            -> a booktabs table (.tex) and the tidy rows (.csv)

A study states each table as a ``TableSpec`` whose ``build`` does the study-specific part (which records, which
paper values, which layout) on the shared steps (``statistics``, ``ordering``, ``latex.ours_cell``), and registers
it; the command line finds a table by its name. Writing is the same for all: ``TableSpec.write``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vaepriors.core.reporting.latex import render, write_text


@dataclass(frozen=True)
class BuiltTable:
    """What a table's build returns: the tidy rows (the CSV), the LaTeX cells and the caption."""

    rows: pd.DataFrame
    cells: pd.DataFrame
    caption: str


@dataclass(frozen=True)
class TableSpec:
    name: str                                # the command and file name, e.g. "table1", "dpvae_table1"
    label: str                               # the LaTeX label
    build: Callable[..., BuiltTable]         # (input paths, **options) -> BuiltTable

    def write(self, inputs: Iterable[str | Path], out_tex: str | Path, out_csv: str | Path,
              **options) -> pd.DataFrame:
        """Build from the input files, write the LaTeX table and the tidy CSV; returns the tidy rows."""
        table = self.build(list(inputs), **options)
        write_text(out_tex, render(table.cells, table.caption, self.label))
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        table.rows.to_csv(out_csv, index=False)
        return table.rows


TABLES: dict[str, TableSpec] = {}


def register_table(name: str, label: str) -> Callable[[Callable[..., BuiltTable]], TableSpec]:
    """Decorator: register a build function as the table ``name``; the module name then holds its ``TableSpec``."""
    def register(build: Callable[..., BuiltTable]) -> TableSpec:
        if name in TABLES:
            raise ValueError(f"table {name!r} is registered twice")
        TABLES[name] = TableSpec(name, label, build)
        return TABLES[name]
    return register


class UnknownTable(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def table_spec(name: str) -> TableSpec:
    """The registered table ``name``; an unknown name lists the known ones."""
    if name not in TABLES:
        raise UnknownTable(f"unknown table {name!r}; registered: {sorted(TABLES)}")
    return TABLES[name]
