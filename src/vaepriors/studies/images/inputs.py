"""The image study's per-run files (docs/images.md) as the typed pieces its figures draw.

Files are identified by where the workflow writes them:
`.../{dataset}/runs/{configuration}/r{r}/seed{seed}/...`, `.../{dataset}/eval/{configuration}/r{r}/seed{seed}_...`
and `.../{dataset}/tsne/{configuration}.npz`, so the figures need no labels beyond the paths the workflow passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from vaepriors.studies.images.paper_values import IMAGE_DATASETS
from vaepriors.studies.images.tables import PriorColumn
from vaepriors.core.reporting.ordering import paper_order

PathLike = str | Path

_STAGES = ("runs", "eval", "tsne")
_R_PART = re.compile(r"r(?P<r>\d+(?:\.\d*)?(?:e[+-]?\d+)?)")
_SEED_PART = re.compile(r"seed(?P<seed>\d+)")


def configuration_label(configuration: str) -> str:
    """A grid configuration as the table headers name it: 'SG', 'MoG(10) no LC/IP', 'MoG(100) LC+IP'."""
    return " ".join(part for part in PriorColumn.parse(configuration).header if part)


def ordered_datasets(datasets: Iterable[str]) -> list[str]:
    """The paper's datasets in its order, then any others alphabetically (``core.reporting.ordering``)."""
    return paper_order(datasets, IMAGE_DATASETS)


def ordered_configurations(configurations: Iterable[str]) -> list[str]:
    """Grid configurations in Table-5 order (SG, then by K, then (LC, IP) = (x,x), (x,✓), (✓,x), (✓,✓))."""
    return sorted(set(configurations), key=PriorColumn.parse)


@dataclass(frozen=True)
class RunKey:
    """Which run a file belongs to; r_entropy and seed are None for per-configuration files (t-SNE)."""

    dataset: str
    configuration: str
    r_entropy: float | None = None
    seed: int | None = None


def run_key(path: PathLike) -> RunKey:
    """The RunKey that the workflow's layout encodes in `path` (the last runs/eval/tsne folder of it)."""
    parts = Path(path).parts
    stages = [i for i, part in enumerate(parts[:-1]) if part in _STAGES and i >= 1]
    if not stages:
        raise ValueError(f"{path}: not under {{dataset}}/{{runs,eval,tsne}}/ as docs/images.md lays files out")
    at = stages[-1]
    configuration = parts[at + 1].removesuffix(".npz")
    r_match = _R_PART.fullmatch(parts[at + 2]) if len(parts) > at + 2 else None
    seed_match = _SEED_PART.match(parts[at + 3]) if len(parts) > at + 3 else None
    return RunKey(parts[at - 1], configuration, float(r_match["r"]) if r_match else None,
                  int(seed_match["seed"]) if seed_match else None)


@dataclass(frozen=True)
class RunStatus:
    """status.json of a run directory."""

    completed_epochs: int
    diverged: bool
    diverged_at_epoch: int | None
    reason: str | None


def load_status(path: PathLike) -> RunStatus:
    values = json.loads(Path(path).read_text())
    return RunStatus(int(values["completed_epochs"]), bool(values["diverged"]), values.get("diverged_at_epoch"),
                     values.get("reason"))


def _epoch_table(path: PathLike, columns: tuple[str, ...]) -> pd.DataFrame:
    """A per-epoch CSV sorted by epoch, with non-finite numbers as NaN so a crash leaves a gap, not a spike."""
    frame = pd.read_csv(path)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    numeric = frame.select_dtypes("number").columns
    frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame.sort_values("epoch", ignore_index=True)


def load_history(path: PathLike) -> pd.DataFrame:
    """history.csv: one row per trained epoch (epoch, phase, ..., entropy, max_prior_logvar, ...)."""
    return _epoch_table(path, ("epoch", "phase", "entropy", "max_prior_logvar"))


def load_fid_history(path: PathLike) -> pd.DataFrame:
    """_fid_history.csv: FID(GEN) of every snapshot epoch."""
    return _epoch_table(path, ("epoch", "fid_gen_standard", "fid_gen_paper"))


def fid_extractor(fid_histories: Iterable[PathLike]) -> str | None:
    """The feature extractor of the FIDs in `fid_histories` (`fid_extractor` of each run's evaluation JSON beside
    its `_fid_history.csv`), so that an FID axis can name it; None when no JSON records one."""
    found = set()
    for path in fid_histories:
        record = Path(str(path).removesuffix("_fid_history.csv") + ".json")
        if record.is_file():
            found.add(json.loads(record.read_text()).get("fid_extractor"))
    found.discard(None)
    if len(found) > 1:
        raise ValueError(f"FID histories of different feature extractors share an axis: {sorted(found)}")
    return found.pop() if found else None


def until_divergence(frame: pd.DataFrame, status: RunStatus) -> pd.DataFrame:
    """Rows up to and including the divergence epoch ("trained until crashing"); all rows for a run that did not."""
    if not status.diverged or status.diverged_at_epoch is None:
        return frame
    return frame[frame["epoch"] <= status.diverged_at_epoch]


@dataclass(frozen=True)
class ImageLatents:
    """The evaluator's _latents.npz: test-set posterior, prior, responsibilities and image samples."""

    mu: np.ndarray  # (N, z) posterior means of the test split
    z: np.ndarray  # (N, z) one posterior sample per test image
    labels: np.ndarray  # (N,) class labels, -1 when unlabelled
    prior_mu: np.ndarray  # (K, z)
    prior_weight: np.ndarray  # (K,)
    mean_responsibility: np.ndarray  # (K,) on the test set
    samples: np.ndarray  # (n, C, H, W) prior samples in [0, 1]
    sample_component: np.ndarray  # (n,) the mode each sample was drawn from
    reconstructions: np.ndarray  # (n, C, H, W)
    originals: np.ndarray  # (n, C, H, W)


def load_latents(path: PathLike) -> ImageLatents:
    with np.load(path) as npz:
        missing = [f.name for f in fields(ImageLatents) if f.name not in npz]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}")
        return ImageLatents(**{f.name: npz[f.name] for f in fields(ImageLatents)})
