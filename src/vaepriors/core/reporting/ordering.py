"""The order of rows and columns in every table and figure: the paper's order for the names it knows, then any
other name present in the data, alphabetically, so a data set or configuration the paper lacks is shown, never
dropped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def paper_rank(order: Sequence[str], name: str) -> tuple[int, str]:
    """Sort key: the position in the paper's ``order``; names it does not know come last, alphabetically."""
    return (order.index(name) if name in order else len(order), name)


def paper_order(present: Iterable[str], order: Sequence[str]) -> list[str]:
    """The names ``present`` in the data (each once), sorted by ``paper_rank``."""
    return sorted(set(present), key=lambda name: paper_rank(order, name))
