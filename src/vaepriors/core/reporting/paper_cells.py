"""A cell of a paper's table as data: the reported mean and its "±" (what every study's paper values are made of)."""

from __future__ import annotations

from typing import NamedTuple


class Reported(NamedTuple):
    """One "mean ± pm" cell of a paper table."""

    mean: float
    pm: float


# {(dataset, metric): {column: Reported}}: one paper table, keyed by our names.
PaperTable = dict[tuple[str, str], dict[str, Reported]]
