"""Reading back the ``.pt`` files the workflow writes: one loader, which never runs code and names the file.

A ``.pt`` file is a pickle, and unrestricted unpickling runs whatever the file asks for, so a crafted ``runs.pt`` or
dataset file could run code. Everything the workflow saves is tensors and plain containers, so every loader goes
through ``load_state_file``, which loads with ``weights_only=True`` (anything else is refused before it is built)
and turns every way a file can be wrong (truncated, empty, not a torch file, another kind of file) into one
``StateFileError`` naming the file, what was expected and the fix.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Iterable

# What torch.load raises for a damaged or foreign file: an empty file EOFError, a truncated zip RuntimeError, a text
# file KeyError, a directory OSError; a file needing more than weights_only allows pickle.UnpicklingError.
_LOAD_ERRORS = (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, OSError, ValueError)


class StateFileError(ValueError):
    """A workflow ``.pt`` file is unreadable, unsafe or of another kind; the message names it and the fix."""


def load_state_file(path: str | os.PathLike, expected: str, writer: str, keys: Iterable[str] = ()) -> dict:
    """The dict saved in ``path`` (``expected`` says what it should be, e.g. "a 2D runs file"), on the CPU.

    ``writer`` names what writes such files (e.g. "rule toy_train_grid (vaepriors toy-train)"), for the fix;
    ``keys`` are the entries the caller reads, checked here so that a foreign file fails with this message rather
    than a bare ``KeyError``. RNG states must stay CPU tensors; model and optimiser states are copied to their
    device by ``load_state_dict``.
    """
    import torch  # here, not at the top: the CLI imports StateFileError before it knows whether it needs torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise StateFileError(f"{path}: refused to load {expected}: it asks to build Python objects other than tensors "
                             f"and plain containers ({_refused_global(error)}), which could run code; nothing in it "
                             f"was run. Fix: {_fix(path, writer)}.") from None
    except _LOAD_ERRORS as error:
        raise StateFileError(f"{path} cannot be read as {expected} ({type(error).__name__}: {_first_line(error)}): "
                             f"it is missing, truncated or not a torch file. Fix: {_fix(path, writer)}.") from None
    problem = _shape_problem(payload, keys)
    if problem:
        raise StateFileError(f"{path} is not {expected}: it {problem}. Fix: {_fix(path, writer)}.")
    return payload


def _shape_problem(payload: object, keys: Iterable[str]) -> str | None:
    if not isinstance(payload, dict):
        return f"holds a {type(payload).__name__}, not a dict"
    missing = [key for key in keys if key not in payload]
    return f"lacks {', '.join(missing)} (it holds {', '.join(sorted(map(str, payload)))})" if missing else None


def _fix(path: str | os.PathLike, writer: str) -> str:
    """Deleting is advised only for the workflow's own outputs (under a ``results`` folder), never for a user's file."""
    if "results" in Path(path).absolute().parts:
        return f"delete it and let Snakemake regenerate it ({writer} writes it)"
    return f"pass a file written by {writer}"


def _refused_global(error: Exception) -> str:
    found = re.search(r"GLOBAL (\S+)", str(error))
    return f"{found.group(1)} is not allowed" if found else _first_line(error)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "empty"
