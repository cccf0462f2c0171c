"""Runtime options shared by every sub-command: device choice (with GPU slots) and thread count."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex


def _device(name: str):
    if name in ("auto", "cuda"):
        from vaepriors.core.gpu_slots import claim_gpu

        claim_gpu()  # one GPU per process on a multi-GPU machine (under SLURM: the one SLURM assigned)
    import torch

    if name == "auto" and not torch.cuda.is_available():
        logging.getLogger(__name__).warning("--device auto: no CUDA device is visible, so this job runs on the CPU "
                                            "(training logs its projected time early; --device cuda would fail "
                                            "instead)")
        return torch.device("cpu")
    if name == "auto":
        return torch.device("cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was requested but no CUDA device is visible; use --device auto or cpu")
    return torch.device(name)


def setup(args) -> object:
    import torch

    torch.set_num_threads(args.threads)
    device = _device(args.device)
    logging.getLogger(__name__).info("device %s, %d threads", device, args.threads)
    return device


def add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)


def add_capture(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--capture", action="store_true",
                        help="on CUDA, replay every training step as a captured CUDA graph (core/training/capture.py)")


def capture_requested(args, device) -> bool:
    """--capture acts on CUDA only; on the CPU the same step runs eagerly."""
    if args.capture and device.type != "cuda":
        logging.getLogger(__name__).info("--capture ignored on %s: CUDA graphs need a CUDA device", device)
    return args.capture and device.type == "cuda"


def add_dataclass_arguments(parser: argparse.ArgumentParser, config_class, exclude: tuple[str, ...] = (),
                            prefix: str = "") -> None:
    """One ``--flag`` per field of a typed config dataclass (bools as --x/--no-x, tuples as lists). ``prefix``
    names the flags ``--<prefix>-<field>`` (dest ``<prefix>_<field>``), so that two dataclasses with a field of the
    same name (a training and an evaluation ``mc_samples``) share one command line."""
    for field in dataclasses.fields(config_class):
        if field.name in exclude:
            continue
        dest = _prefixed(prefix, field.name)
        flag = "--" + dest.replace("_", "-")
        default = field.default
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, tuple):
            kind = type(default[0]) if default else int
            parser.add_argument(flag, type=kind, nargs="*", default=list(default))
        elif field.default_factory is not dataclasses.MISSING:  # a mapping, given as JSON
            parser.add_argument(flag, type=json.loads, default=field.default_factory(), help="JSON object")
        elif default is dataclasses.MISSING:
            parser.add_argument(flag, required=True)
        elif default is None:  # an optional value: its type is the annotation's non-None member
            kind = next((t for t in (int, float) if t.__name__ in str(field.type)), str)
            parser.add_argument(flag, type=kind, default=None)
        else:
            parser.add_argument(flag, type=type(default), default=default)


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def render_flags(options: dict, prefix: str = "") -> str:
    """The inverse of ``add_dataclass_arguments``: option names and values as one shell-quoted flag string, keys
    sorted (the workflow renders its ``params`` with it, so reordering config.yaml re-runs nothing). True is
    ``--x``, False ``--no-x``, a list several values, None is left out. Imports no torch: rules call it at parse
    time."""
    tokens = []
    for key in sorted(options):
        name = _prefixed(prefix, key).replace("_", "-")
        value, flag = options[key], "--" + name
        if isinstance(value, bool):
            tokens.append(flag if value else "--no-" + name)
        elif isinstance(value, (list, tuple)):
            tokens += [flag, *map(str, value)]
        elif value is not None:
            tokens += [flag, str(value)]
    return " ".join(shlex.quote(token) for token in tokens)


def dataclass_from_arguments(config_class, args: argparse.Namespace, prefix: str = "", **values):
    """Build ``config_class`` from the parsed flags of ``add_dataclass_arguments`` (``values`` take precedence)."""
    for field in dataclasses.fields(config_class):
        dest = _prefixed(prefix, field.name)
        if field.name not in values and hasattr(args, dest):
            value = getattr(args, dest)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


def write_manifest(path, runs: list[dict], run_dirs, **header) -> None:
    """A stack's manifest: ``header`` and every run's identity (``runs``) with its directory and status; written
    after every run directory is complete, so a workflow rule can take it as the stack's one output."""
    from pathlib import Path

    entries = [{**run, "run_dir": str(run_dir), "status": json.loads((Path(run_dir) / "status.json").read_text())}
               for run, run_dir in zip(runs, run_dirs)]
    Path(path).write_text(json.dumps({**header, "runs": entries}, indent=2) + "\n")
