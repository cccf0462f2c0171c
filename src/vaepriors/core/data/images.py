"""Image datasets of the image study as one verified file each (``results/data/{dataset}.pt``, docs/images.md).

``fetch_image_dataset`` reads MNIST, Fashion-MNIST, CIFAR-10, SVHN or CelebA with the standard train/test splits,
either after a torchvision download or offline from a directory, verifies every standard file, and optionally keeps
a seeded random subset (the reduced runs). Pixels stay uint8 (1/255 steps, exactly what ``ToTensor`` would give
after ``/255``) so the file is 4x smaller than floats and FID code gets the original bytes back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

import torch

from vaepriors.core.atomic import save_atomic
from vaepriors.core.data.checksums import STANDARD_CHECKSUMS, Checksum, DatasetError
from vaepriors.core.data.image_sources import IMAGE_SOURCES, Splits, download, read_splits
from vaepriors.core.state_files import load_state_file

__all__ = ["DatasetError", "ImageData", "fetch_image_dataset", "subset_sizes", "to_unit_float", "DATASETS"]

DATASETS = tuple(IMAGE_SOURCES)
TORCHVISION = "torchvision"


@dataclass(frozen=True)
class ImageData:
    """Train/test images (N, C, H, W) uint8 and labels (N,) int64 (-1: no class labels), with their provenance."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    dataset: str
    source: str
    subset: int | None
    sha256: dict[str, str]

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(f"{split}_images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise ValueError(f"{split}_labels must be int64 ({len(images)},), got {labels.dtype} "
                                 f"{tuple(labels.shape)}")

    def save(self, path: str | os.PathLike) -> None:
        """``torch.save`` of a plain dict, written to a temporary file first so a crash never leaves half a file."""
        save_atomic(dict(vars(self)), path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImageData:
        keys = [field.name for field in fields(cls)]
        return cls(**load_state_file(path, "a dataset file", "rule fetch_images (vaepriors fetch-images)", keys))


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1] (the authors' ``ToTensor`` scaling)."""
    return images.float().div_(255.0)


def subset_sizes(subset: int, n_train: int, n_test: int) -> tuple[int, int]:
    """Train size ``subset``; test size in proportion, ``round(n_test * subset / n_train)``, at least 1."""
    if not 1 <= subset <= n_train:
        raise ValueError(f"subset must be in [1, {n_train}] (the training split's size), got {subset}")
    return subset, min(n_test, max(1, round(n_test * subset / n_train)))


def fetch_image_dataset(name: str, source: str, root: str | os.PathLike, subset: int | None = None, seed: int = 0,
                        *, checksums: Mapping[str, Checksum] | None = None) -> ImageData:
    """Read dataset ``name`` with its standard splits, every standard file verified.

    ``source`` is ``"torchvision"`` (download with torchvision's classes into ``root``, then read from there) or a
    directory holding the standard files (read offline; ``root`` is then unused). ``subset`` keeps a random subset
    of the training split, drawn with ``seed``, and a proportional one of the test split (``subset_sizes``), in their
    original order. ``checksums`` replaces the expected checksums (``STANDARD_CHECKSUMS[name]``), e.g. for test files.
    """
    if name not in IMAGE_SOURCES:
        raise ValueError(f"unknown image dataset {name!r}; choose from {', '.join(DATASETS)}")
    if source == TORCHVISION:
        directory = Path(root)
        download(name, directory)
    else:
        directory = Path(source)
    splits = read_splits(name, directory, STANDARD_CHECKSUMS[name] if checksums is None else checksums)
    provenance = f"{TORCHVISION}:{directory}" if source == TORCHVISION else str(directory)
    return _image_data(splits, name, provenance, subset, seed)


def _image_data(splits: Splits, name: str, source: str, subset: int | None, seed: int) -> ImageData:
    arrays = [torch.from_numpy(getattr(splits, f"{split}_{kind}").copy())
              for split in ("train", "test") for kind in ("images", "labels")]
    if subset is not None:
        train, test = subset_sizes(subset, len(arrays[0]), len(arrays[2]))
        generator = torch.Generator().manual_seed(seed)
        keep_train = torch.randperm(len(arrays[0]), generator=generator)[:train].sort().values
        keep_test = torch.randperm(len(arrays[2]), generator=generator)[:test].sort().values
        arrays = [arrays[0][keep_train], arrays[1][keep_train], arrays[2][keep_test], arrays[3][keep_test]]
    return ImageData(*arrays, dataset=name, source=source, subset=subset, sha256=dict(splits.sha256))
