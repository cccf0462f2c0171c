"""Where each image dataset's standard files live, how to read them offline, and how torchvision downloads them.

A source directory is searched in the layouts people actually have: the folder holding the files, and the folder
torchvision downloads into (``MNIST/raw``, ``cifar-10-batches-py`` ...). The torchvision route therefore downloads
with torchvision's own dataset classes and then reads the result with the same offline readers, so both routes go
through the same checksums and the same array layout (N, C, H, W) uint8.

CelebA: the aligned 178x218 JPEGs are centre-cropped to 148x148 and resized to 64x64 (bicubic). The dpVAE authors use
their own pre-cropped folders whose crop size is not recoverable (reference official-dpvae-code.md §4), so we use
the common 148 crop; the "train" split is partition 0 and the "test" split partition 2 of list_eval_partition.txt
(partition 1, validation, is unused).
"""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from PIL import Image

from vaepriors.core.data.checksums import Checksum, DatasetError, verify
from vaepriors.core.data.idx import parse_idx, read_idx_content

CELEBA_CROP = 148
CELEBA_SIZE = 64
_CELEBA_TEST_PARTITION = "2"


@dataclass(frozen=True)
class Splits:
    """Train and test arrays as read from disk: images (N, C, H, W) uint8, labels (N,) int64."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    sha256: dict[str, str]


@dataclass
class _Files:
    """The standard files of one dataset in a source directory: lookup, verification, and the fix to name."""

    dataset: str
    directories: tuple[Path, ...]
    checksums: Mapping[str, Checksum]
    fix: str
    sha256: dict[str, str] = field(default_factory=dict)

    def find(self, *names: str) -> Path:
        """The first of ``names`` present in any searched directory (names: alternatives such as a raw and a .gz)."""
        for directory in self.directories:
            for name in names:
                if (directory / name).exists():
                    return directory / name
        searched = ", ".join(str(d) for d in self.directories)
        raise DatasetError(f"{self.dataset}: {' or '.join(names)} not found (searched {searched}). Fix: {self.fix}.")

    def verify(self, content: bytes | Path, name: str, label: str) -> None:
        """Check the standard file ``name`` (content read from ``label``) and record its sha256."""
        if name not in self.checksums:
            raise DatasetError(f"{self.dataset}: no expected checksum for {name}; refusing to read {label}.")
        self.sha256[name] = verify(content, label, self.dataset, name, self.checksums[name], self.fix)

    def verified_path(self, name: str) -> Path:
        path = self.find(name)
        self.verify(path, name, str(path))
        return path


Reader = Callable[[_Files], Splits]


@dataclass(frozen=True)
class ImageSource:
    """One dataset: its image shape, where to look, how to read and how torchvision downloads it."""

    image_shape: tuple[int, int, int]
    layouts: tuple[str, ...]
    read: Reader
    download: Callable[[Path], None]
    fix: str


def read_splits(name: str, directory: Path, checksums: Mapping[str, Checksum]) -> Splits:
    """Read and verify the standard train/test files of dataset ``name`` found under ``directory``."""
    source = IMAGE_SOURCES[name]
    directories = tuple(directory / layout for layout in source.layouts)
    files = _Files(name, directories, checksums, source.fix.format(directory=directory))
    splits = source.read(files)
    for split in ("train", "test"):
        _check_split(files, split, getattr(splits, f"{split}_images"), getattr(splits, f"{split}_labels"),
                     source.image_shape)
    return splits


def download(name: str, root: Path) -> None:
    """Let torchvision fetch dataset ``name`` into ``root`` (a no-op where its files are already there)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        IMAGE_SOURCES[name].download(root)
    except (RuntimeError, OSError, ImportError) as error:
        raise DatasetError(f"{name}: torchvision could not download into {root}: {error}. Fix: check the network, "
                           f"or use a local source directory ({IMAGE_SOURCES[name].fix.format(directory=root)}).")


def _check_split(files: _Files, split: str, images: np.ndarray, labels: np.ndarray,
                 shape: tuple[int, int, int]) -> None:
    where = f"{files.dataset} {split} split in {files.directories[0]}"
    if images.dtype != np.uint8 or images.shape[1:] != shape:
        raise DatasetError(f"{where}: images have shape {images.shape[1:]} {images.dtype}, expected {shape} uint8.")
    if len(images) != len(labels):
        raise DatasetError(f"{where}: {len(images)} images but {len(labels)} labels.")


# --- MNIST / Fashion-MNIST ---------------------------------------------------------------------------------------

def _verified_idx(files: _Files, name: str, rank: int) -> np.ndarray:
    path = files.find(name, f"{name}.gz")
    content = read_idx_content(path)
    files.verify(content, name, str(path))
    return parse_idx(content, str(path), rank)


def _idx_split(files: _Files, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = _verified_idx(files, f"{prefix}-images-idx3-ubyte", rank=3)
    labels = _verified_idx(files, f"{prefix}-labels-idx1-ubyte", rank=1)
    return images[:, None], labels.astype(np.int64)


def _read_idx_dataset(files: _Files) -> Splits:
    return Splits(*_idx_split(files, "train"), *_idx_split(files, "t10k"), files.sha256)


# --- CIFAR-10 ------------------------------------------------------------------------------------------------------

def _cifar_batch(files: _Files, name: str) -> tuple[np.ndarray, np.ndarray]:
    path = files.verified_path(name)  # verified before unpickling
    with path.open("rb") as stream:
        entry = pickle.load(stream, encoding="latin1")
    if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
        raise DatasetError(f"{path}: not a CIFAR-10 batch (a dict with 'data' and 'labels' expected).")
    images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(entry["labels"], dtype=np.int64)


def _read_cifar10(files: _Files) -> Splits:
    train = [_cifar_batch(files, f"data_batch_{i}") for i in range(1, 6)]
    test_images, test_labels = _cifar_batch(files, "test_batch")
    return Splits(np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]),
                  test_images, test_labels, files.sha256)


# --- SVHN ----------------------------------------------------------------------------------------------------------

def _svhn_split(files: _Files, name: str) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io  # only SVHN needs it

    path = files.verified_path(name)
    mat = scipy.io.loadmat(path)
    images = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1)))  # (H, W, C, N) -> (N, C, H, W)
    labels = mat["y"].astype(np.int64).reshape(-1)
    labels[labels == 10] = 0  # SVHN stores the digit 0 as class 10
    return images, labels


def _read_svhn(files: _Files) -> Splits:
    return Splits(*_svhn_split(files, "train_32x32.mat"), *_svhn_split(files, "test_32x32.mat"), files.sha256)


# --- CelebA --------------------------------------------------------------------------------------------------------

def _celeba_partition(files: _Files) -> dict[str, list[str]]:
    path = files.verified_path("list_eval_partition.txt")
    partition: dict[str, list[str]] = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            image, split = line.split()
            partition.setdefault(split, []).append(image)
    return partition


def _celeba_image(path: Path, fix: str) -> np.ndarray:
    """Centre crop 148 -> bicubic resize 64, as (3, 64, 64) uint8."""
    if not path.exists():
        raise DatasetError(f"celeba: image {path} listed in list_eval_partition.txt is missing. Fix: {fix}.")
    with Image.open(path) as image:
        width, height = image.size
        if min(width, height) < CELEBA_CROP:
            raise DatasetError(f"{path}: {width}x{height} is smaller than the {CELEBA_CROP} crop (aligned CelebA "
                               "images are 178x218).")
        left, top = round((width - CELEBA_CROP) / 2), round((height - CELEBA_CROP) / 2)
        crop = image.convert("RGB").crop((left, top, left + CELEBA_CROP, top + CELEBA_CROP))
        resized = crop.resize((CELEBA_SIZE, CELEBA_SIZE), Image.Resampling.BICUBIC)
    return np.asarray(resized).transpose(2, 0, 1)


def _celeba_images(files: _Files, names: list[str]) -> np.ndarray:
    folder = files.find("img_align_celeba")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes outside the GIL
        images = list(pool.map(lambda name: _celeba_image(folder / name, files.fix), names))
    return np.stack(images) if images else np.zeros((0, 3, CELEBA_SIZE, CELEBA_SIZE), np.uint8)


def _read_celeba(files: _Files) -> Splits:
    partition = _celeba_partition(files)
    train, test = partition.get("0", []), partition.get(_CELEBA_TEST_PARTITION, [])
    no_labels = [np.full(len(names), -1, dtype=np.int64) for names in (train, test)]
    return Splits(_celeba_images(files, train), no_labels[0], _celeba_images(files, test), no_labels[1],
                  files.sha256)


# --- torchvision downloads and the registry ------------------------------------------------------------------------

def _torchvision_datasets():
    """Imported on use: torchvision costs seconds to import, and the offline route never needs it."""
    import torchvision.datasets

    return torchvision.datasets


def _download_svhn(root: Path) -> None:
    for split in ("train", "test"):
        _torchvision_datasets().SVHN(root, split=split, download=True)


_TORCHVISION_FIX = "set data.source.{name}: torchvision on a machine with internet, or "
_IDX_FILES = ("train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
              "t10k-labels-idx1-ubyte.gz")

IMAGE_SOURCES: dict[str, ImageSource] = {
    "mnist": ImageSource(
        (1, 28, 28), ("", "MNIST/raw"), _read_idx_dataset,
        lambda root: _torchvision_datasets().MNIST(root, train=True, download=True),
        _TORCHVISION_FIX.format(name="mnist")
        + f"download {_IDX_FILES} from https://ossci-datasets.s3.amazonaws.com/mnist/ into {{directory}}"),
    "fmnist": ImageSource(
        (1, 28, 28), ("", "FashionMNIST/raw"), _read_idx_dataset,
        lambda root: _torchvision_datasets().FashionMNIST(root, train=True, download=True),
        "apt install dataset-fashion-mnist and set data.source.fmnist: /usr/share/datasets/fashion-mnist, or "
        + _TORCHVISION_FIX.format(name="fmnist")
        + f"download {_IDX_FILES} from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ into {{directory}}"),
    "cifar10": ImageSource(
        (3, 32, 32), ("cifar-10-batches-py", ""), _read_cifar10,
        lambda root: _torchvision_datasets().CIFAR10(root, train=True, download=True),
        _TORCHVISION_FIX.format(name="cifar10")
        + "download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and extract it into {directory}"),
    "svhn": ImageSource(
        (3, 32, 32), ("",), _read_svhn, _download_svhn,
        _TORCHVISION_FIX.format(name="svhn")
        + "download train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/ into {directory}"),
    "celeba": ImageSource(
        (3, CELEBA_SIZE, CELEBA_SIZE), ("", "celeba"), _read_celeba,
        lambda root: _torchvision_datasets().CelebA(root, split="all", target_type=[], download=True),
        "set data.source.celeba: torchvision on a machine with internet and the gdown package, or download "
        "img_align_celeba.zip and list_eval_partition.txt from the CelebA Google Drive linked at "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html and unzip them into {directory}"),
}
