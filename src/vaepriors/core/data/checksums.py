"""Integrity of the standard image-dataset files: the expected checksums, where each comes from, and verification.

Every standard file is verified before it is parsed (CIFAR-10 batches are pickles, so this also means no unverified
file is ever unpickled). MNIST and Fashion-MNIST are verified on their *decompressed* IDX content: a ``.gz`` file may
have been recompressed (Debian's ``dataset-fashion-mnist`` ships gz files whose md5 differs from the upstream archives
that torchvision's ``resources`` list), but the bytes inside are the standard ones, and the same check then covers an
extracted file, a gz file and torchvision's download folder alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A standard dataset file is missing, corrupted or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Checksum:
    """The expected md5 of one standard file and the public source that states it."""

    md5: str
    origin: str


_TORCHVISION = "torchvision 0.29 {} md5 list"
# md5 of the decompressed IDX files as published with the original releases (public facts, listed in many places);
# for Fashion-MNIST they were also computed here from Debian's dataset-fashion-mnist files and agree.
_IDX_ORIGIN = "published md5 of the decompressed IDX file"

STANDARD_CHECKSUMS: dict[str, dict[str, Checksum]] = {
    "mnist": {
        "train-images-idx3-ubyte": Checksum("6bbc9ace898e44ae57da46a324031adb", _IDX_ORIGIN),
        "train-labels-idx1-ubyte": Checksum("a25bea736e30d166cdddb491f175f624", _IDX_ORIGIN),
        "t10k-images-idx3-ubyte": Checksum("2646ac647ad5339dbf082846283269ea", _IDX_ORIGIN),
        "t10k-labels-idx1-ubyte": Checksum("27ae3e4e09519cfbb04c329615203637", _IDX_ORIGIN),
    },
    "fmnist": {
        "train-images-idx3-ubyte": Checksum("f4a8712d7a061bf5bd6d2ca38dc4d50a", _IDX_ORIGIN),
        "train-labels-idx1-ubyte": Checksum("9018921c3c673c538a1fc5bad174d6f9", _IDX_ORIGIN),
        "t10k-images-idx3-ubyte": Checksum("8181f5470baa50b63fa0f6fddb340f0a", _IDX_ORIGIN),
        "t10k-labels-idx1-ubyte": Checksum("15d484375f8d13e6eb1aabb0c3f46965", _IDX_ORIGIN),
    },
    "cifar10": {
        "data_batch_1": Checksum("c99cafc152244af753f735de768cd75f", _TORCHVISION.format("CIFAR10.train_list")),
        "data_batch_2": Checksum("d4bba439e000b95fd0a9bffe97cbabec", _TORCHVISION.format("CIFAR10.train_list")),
        "data_batch_3": Checksum("54ebc095f3ab1f0389bbae665268c751", _TORCHVISION.format("CIFAR10.train_list")),
        "data_batch_4": Checksum("634d18415352ddfa80567beed471001a", _TORCHVISION.format("CIFAR10.train_list")),
        "data_batch_5": Checksum("482c414d41f54cd18b22e5b47cb7c3cb", _TORCHVISION.format("CIFAR10.train_list")),
        "test_batch": Checksum("40351d587109b95175f43aff81a1287e", _TORCHVISION.format("CIFAR10.test_list")),
    },
    "svhn": {
        "train_32x32.mat": Checksum("e26dedcc434d2e4c54c9b2d4a06d8373", _TORCHVISION.format("SVHN.split_list")),
        "test_32x32.mat": Checksum("eb5a983be6a315427106f1b164d9cef3", _TORCHVISION.format("SVHN.split_list")),
    },
    # The ~200k aligned JPEGs have no per-file checksums; the partition file fixes which images form each split.
    "celeba": {
        "list_eval_partition.txt": Checksum("d32c9cbf5e040fd4025c592c306e6668",
                                            _TORCHVISION.format("CelebA.file_list")),
    },
}


TITLES = {"mnist": "MNIST", "fmnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "svhn": "SVHN", "celeba": "CelebA"}


def verify(content: bytes | Path, label: str, dataset: str, name: str, expected: Checksum, fix: str) -> str:
    """Check ``content`` (the bytes, or a file streamed from disk) of ``dataset``'s file ``name`` against
    ``expected``; return its sha256.

    The sha256 is what the dataset file records, so that a run names exactly which bytes it was trained on. The
    fix never says to delete the file: source folders are the user's (e.g. a system package under /usr/share).
    """
    md5, sha256 = _digests(content)
    if md5 == expected.md5:
        return sha256
    other = _dataset_with(name, md5, dataset)
    if other:
        raise DatasetError(f"{label} is {TITLES[other]}, not {TITLES[dataset]}: it is {TITLES[other]}'s standard "
                           f"{name}. Fix: point data.source.{dataset} (fetch-images --source) at a folder holding "
                           f"{TITLES[dataset]}'s files, or set it to torchvision; this folder belongs in "
                           f"data.source.{other}.")
    raise DatasetError(f"{label} is not the standard {TITLES[dataset]} {name}: md5 expected {expected.md5} "
                       f"({expected.origin}), actual {md5}; it is corrupted or another version. Fix: replace it with "
                       f"the standard file ({fix}).")


def _dataset_with(name: str, md5: str, dataset: str) -> str | None:
    """The other dataset whose standard file ``name`` has this md5 (MNIST and Fashion-MNIST share file names)."""
    return next((other for other, checksums in STANDARD_CHECKSUMS.items()
                 if other != dataset and name in checksums and checksums[name].md5 == md5), None)


def _digests(content: bytes | Path) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    if isinstance(content, Path):
        with content.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                md5.update(block)
                sha256.update(block)
    else:
        md5.update(content)
        sha256.update(content)
    return md5.hexdigest(), sha256.hexdigest()
