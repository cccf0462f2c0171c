"""Atomic file writes: a killed job never leaves a truncated file that looks complete."""

from __future__ import annotations

import json
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


def save_with_config(payload: dict, path: str | os.PathLike) -> None:
    """``save_atomic`` of weights whose ``payload["config"]`` is the resolved configuration, plus that configuration
    as sorted JSON beside them (``<name>.config.json``): every hyperparameter a run used, readable without torch."""
    path = Path(path)
    text = json.dumps(payload["config"], indent=2, sort_keys=True) + "\n"
    save_atomic(payload, path)
    tmp = path.with_name(f".{path.stem}.config.json.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path.with_name(f"{path.stem}.config.json"))
