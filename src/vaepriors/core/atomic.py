"""Atomic file writes: a killed job never leaves a truncated file that looks complete."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(payload: object, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)
