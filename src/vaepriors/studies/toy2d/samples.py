"""Load the evaluator's samples.npz (docs/interfaces.md) as the single run a qualitative figure shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SampleSet:
    """Real data plus one run's generated samples and grid density, with the window they live in."""

    dataset: str
    configuration: str
    real: np.ndarray  # (N, 2)
    fake: np.ndarray  # (N, 2)
    density: np.ndarray  # (G, G), row i = y (increasing with i), column j = x
    half_width: float  # the window is [-half_width, half_width]^2
    seed: int | None
    diverged: bool = False  # the run's training diverged: its samples are not a result (Figure 3 says so instead)


def _as_str(value: np.ndarray) -> str:
    """A 0-d string (or bytes) array as str."""
    item = value.item()
    return item.decode() if isinstance(item, bytes) else str(item)


def _identity(npz: np.lib.npyio.NpzFile, path: Path) -> tuple[str, str]:
    """(dataset, configuration) from the npz keys, else from results/toy/{dataset}/seeds/{configuration}/samples.npz."""
    if "dataset" in npz and "configuration" in npz:
        return _as_str(npz["dataset"]), _as_str(npz["configuration"])
    if len(path.parts) < 4:
        raise ValueError(f"{path}: no 'dataset'/'configuration' keys and the path does not name them")
    return path.parts[-4], path.parts[-2]


def _first_run(npz: np.lib.npyio.NpzFile) -> int:
    """Index of the seed-0 run when the seeds are stored, else the first run."""
    if "seeds" in npz:
        matches = np.flatnonzero(np.asarray(npz["seeds"]) == 0)
        if matches.size:
            return int(matches[0])
    return 0


def load_samples(path: str | Path) -> SampleSet:
    """The seed-0 (or first) run of a samples.npz; needs `real`, `fake`, `density` and `half_width`."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        dataset, configuration = _identity(npz, path)
        index = _first_run(npz)
        seeds = npz["seeds"] if "seeds" in npz else None
        return SampleSet(
            dataset=dataset, configuration=configuration, real=npz["real"], fake=npz["fake"][index],
            density=npz["density"][index], half_width=float(npz["half_width"]),
            seed=None if seeds is None else int(seeds[index]),
            diverged="diverged" in npz and bool(npz["diverged"][index]),
        )
