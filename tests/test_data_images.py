import functools
import gzip
import hashlib
import http.server
import pickle
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from vaepriors.core.data.checksums import STANDARD_CHECKSUMS, Checksum
from vaepriors.core.data.images import DatasetError, ImageData, fetch_image_dataset, subset_sizes, to_unit_float

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _md5(content: bytes) -> Checksum:
    return Checksum(hashlib.md5(content).hexdigest(), "test file")


def _tiny_mnist(directory: Path, n_train=12, n_test=4, gz=("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
    """IDX files with random pixels; the names in ``gz`` are written gzipped. Returns (arrays, checksums)."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for name, array in arrays.items():
        content = _idx_bytes(array)
        checksums[name] = _md5(content)
        target = directory / (f"{name}.gz" if name in gz else name)
        target.write_bytes(gzip.compress(content) if name in gz else content)
    return arrays, checksums


def test_idx_raw_and_gz_files_round_trip(tmp_path):
    arrays, checksums = _tiny_mnist(tmp_path)
    data = fetch_image_dataset("mnist", str(tmp_path), tmp_path / "unused", checksums=checksums)
    assert data.train_images.shape == (12, 1, 28, 28) and data.test_images.shape == (4, 1, 28, 28)
    assert data.train_images.dtype == torch.uint8 and data.train_labels.dtype == torch.int64
    assert np.array_equal(data.train_images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(data.test_images[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])  # read from .gz
    assert np.array_equal(data.test_labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    expected_sha = hashlib.sha256(_idx_bytes(arrays["t10k-images-idx3-ubyte"])).hexdigest()
    assert data.sha256["t10k-images-idx3-ubyte"] == expected_sha  # of the decompressed content
    assert data.dataset == "mnist" and data.source == str(tmp_path) and data.subset is None


def test_standard_checksums_are_verified_by_default(tmp_path):
    _tiny_mnist(tmp_path)  # right format, but not the standard bytes
    with pytest.raises(DatasetError, match=STANDARD_CHECKSUMS["mnist"]["train-images-idx3-ubyte"].md5):
        fetch_image_dataset("mnist", str(tmp_path), tmp_path)


def test_missing_file_names_the_file_the_directory_and_the_fix(tmp_path):
    with pytest.raises(DatasetError) as error:
        fetch_image_dataset("fmnist", str(tmp_path), tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path) in message
    assert "apt install dataset-fashion-mnist" in message and "data.source.fmnist: torchvision" in message


def test_flipped_bytes_report_expected_and_actual_checksum(tmp_path):
    _, checksums = _tiny_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[100] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(DatasetError) as error:
        fetch_image_dataset("mnist", str(tmp_path), tmp_path, checksums=checksums)
    message = str(error.value)
    assert str(path) in message and checksums["train-images-idx3-ubyte"].md5 in message
    assert hashlib.md5(bytes(content)).hexdigest() in message
    assert "replace it with the standard file" in message and "delete" not in message


def test_another_datasets_file_is_named_as_such_not_called_corrupted(tmp_path, monkeypatch):
    """MNIST and Fashion-MNIST share file names: a source folder of the other one is said to be so."""
    _, checksums = _tiny_mnist(tmp_path)
    monkeypatch.setitem(STANDARD_CHECKSUMS, "fmnist", checksums)  # these tiny files play Fashion-MNIST's
    with pytest.raises(DatasetError) as error:
        fetch_image_dataset("mnist", str(tmp_path), tmp_path)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'train-images-idx3-ubyte'} is Fashion-MNIST, not MNIST")
    assert "point data.source.mnist (fetch-images --source) at a folder holding MNIST's files" in message
    assert "belongs in data.source.fmnist" in message and "delete" not in message and "corrupted" not in message


@pytest.mark.skipif(not DEBIAN_FMNIST.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_debians_fashion_mnist_given_as_mnist_is_recognised(tmp_path):
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz is Fashion-MNIST, not MNIST"):
        fetch_image_dataset("mnist", str(DEBIAN_FMNIST), tmp_path)


def _replace_with(directory: Path, checksums: dict, name: str, content: bytes) -> None:
    """Write a malformed file whose checksum is declared correct, so that only the format checks can catch it."""
    (directory / name).write_bytes(content)
    checksums[name] = _md5(content)


@pytest.mark.parametrize("corruption, pattern", [
    (lambda good: b"\x00\x00\x08\x02" + good[4:], "malformed IDX header"),
    (lambda good: good[:-28], "declares shape"),
    (lambda good: b"\x00\x00", "cannot hold"),
])
def test_malformed_idx_is_rejected_even_with_a_matching_checksum(tmp_path, corruption, pattern):
    _, checksums = _tiny_mnist(tmp_path)
    good = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    _replace_with(tmp_path, checksums, "train-images-idx3-ubyte", corruption(good))
    with pytest.raises(DatasetError, match=pattern):
        fetch_image_dataset("mnist", str(tmp_path), tmp_path, checksums=checksums)


def test_image_and_label_counts_must_agree(tmp_path):
    _, checksums = _tiny_mnist(tmp_path)
    _replace_with(tmp_path, checksums, "train-labels-idx1-ubyte", _idx_bytes(np.zeros(11)))
    with pytest.raises(DatasetError, match="12 images but 11 labels"):
        fetch_image_dataset("mnist", str(tmp_path), tmp_path, checksums=checksums)


def test_subset_is_seeded_proportional_and_validated(tmp_path):
    _, checksums = _tiny_mnist(tmp_path, n_train=40, n_test=10)
    fetch = functools.partial(fetch_image_dataset, "mnist", str(tmp_path), tmp_path, checksums=checksums)
    a, b, c = fetch(subset=8, seed=1), fetch(subset=8, seed=1), fetch(subset=8, seed=2)
    assert a.train_images.shape[0] == 8 and a.test_images.shape[0] == 2 and a.subset == 8
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    assert not torch.equal(a.train_images, c.train_images)
    full = fetch()
    rows = [int(np.flatnonzero((full.train_images == image).flatten(1).all(1))[0]) for image in a.train_images]
    assert rows == sorted(rows) and len(set(rows)) == 8  # distinct training images, original order kept
    assert torch.equal(a.train_labels, full.train_labels[rows])  # labels travel with their images
    with pytest.raises(ValueError, match=r"\[1, 40\]"):
        fetch(subset=41)
    assert subset_sizes(1, 60000, 10000) == (1, 1) and subset_sizes(6000, 60000, 10000) == (6000, 1000)


def test_image_data_save_load_is_exact_and_atomic(tmp_path):
    _, checksums = _tiny_mnist(tmp_path / "src")
    data = fetch_image_dataset("mnist", str(tmp_path / "src"), tmp_path, subset=5, seed=3, checksums=checksums)
    target = tmp_path / "out" / "mnist.pt"
    data.save(target)
    loaded = ImageData.load(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["mnist.pt"]  # no temporary left behind
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(loaded, field), getattr(data, field))
    assert (loaded.dataset, loaded.source, loaded.subset, loaded.sha256) == ("mnist", data.source, 5, data.sha256)
    unit = to_unit_float(loaded.train_images)
    assert unit.dtype == torch.float32 and torch.equal(unit * 255, loaded.train_images.float())
    with pytest.raises(ValueError, match="uint8"):
        ImageData(**{**vars(data), "train_images": data.train_images.float()})


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_directory(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / "www"``; yields (directory, base URL, stop)."""
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    www = tmp_path / "www"
    www.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    yield www, f"http://127.0.0.1:{server.server_address[1]}/", stop
    if thread.is_alive():
        stop()


def test_torchvision_download_through_its_own_mirror_list(tmp_path, monkeypatch, http_directory):
    import torchvision.datasets

    www, url, stop = http_directory
    arrays, checksums = _tiny_mnist(www, gz=IDX_NAMES)
    resources = [(f"{n}.gz", hashlib.md5((www / f"{n}.gz").read_bytes()).hexdigest()) for n in IDX_NAMES]
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "resources", resources)
    root = tmp_path / "downloads"
    data = fetch_image_dataset("fmnist", "torchvision", root, checksums=checksums)
    assert (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()
    assert np.array_equal(data.train_images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert data.source == f"torchvision:{root}"
    stop()  # a second fetch finds the download and needs no network
    again = fetch_image_dataset("fmnist", "torchvision", root, checksums=checksums)
    assert torch.equal(again.test_images, data.test_images)


def test_failed_download_is_a_dataset_error(tmp_path, monkeypatch, http_directory):
    import torchvision.datasets

    _, url, _ = http_directory  # serves an empty folder: every file is a 404
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [url])
    with pytest.raises(DatasetError, match="torchvision could not download"):
        fetch_image_dataset("mnist", "torchvision", tmp_path / "downloads")


def _cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> Checksum:
    with path.open("wb") as stream:  # the official layout: rows of 1024 R, 1024 G, 1024 B values
        pickle.dump({"data": images.reshape(len(images), -1), "labels": labels.tolist()}, stream)
    return _md5(path.read_bytes())


@pytest.mark.parametrize("subfolder", ["cifar-10-batches-py", ""])
def test_cifar10_pickled_batches(tmp_path, subfolder):
    rng = np.random.default_rng(1)
    folder = tmp_path / subfolder
    folder.mkdir(exist_ok=True)
    images = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, 12)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    checksums = {name: _cifar_batch(folder / name, images[2 * i:2 * i + 2], labels[2 * i:2 * i + 2])
                 for i, name in enumerate(names)}
    data = fetch_image_dataset("cifar10", str(tmp_path), tmp_path, checksums=checksums)
    assert data.train_images.shape == (10, 3, 32, 32) and data.test_images.shape == (2, 3, 32, 32)
    assert np.array_equal(data.train_images.numpy(), images[:10]) and np.array_equal(data.test_images, images[10:])
    assert data.train_labels.tolist() == labels[:10].tolist()


def test_svhn_mat_files_channel_order_and_label_zero(tmp_path):
    rng = np.random.default_rng(2)
    checksums, expected = {}, {}
    for split, n in (("train", 5), ("test", 3)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # the .mat layout (H, W, C, N)
        y = np.array([[10], [1], [2], [10], [9]][:n], dtype=np.uint8)
        scipy.io.savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y})
        checksums[f"{split}_32x32.mat"] = _md5((tmp_path / f"{split}_32x32.mat").read_bytes())
        expected[split] = x
    data = fetch_image_dataset("svhn", str(tmp_path), tmp_path, checksums=checksums)
    assert data.train_images.shape == (5, 3, 32, 32) and data.test_images.shape == (3, 3, 32, 32)
    assert data.train_images[3, 2, 7, 5] == expected["train"][7, 5, 2, 3]  # image 3, channel 2, row 7, column 5
    assert data.train_labels.tolist() == [0, 1, 2, 0, 9]  # digit 0 is stored as class 10


def _celeba_folder(directory: Path, colours: list[tuple[int, int, int]], partitions: list[int]) -> dict:
    """Aligned-size (178x218) images: the centre 148x148 square in ``colour``, a white frame around it."""
    (directory / "img_align_celeba").mkdir(parents=True)
    lines = []
    for index, (colour, partition) in enumerate(zip(colours, partitions), start=1):
        pixels = np.full((218, 178, 3), 255, dtype=np.uint8)
        pixels[35:183, 15:163] = colour
        Image.fromarray(pixels).save(directory / "img_align_celeba" / f"{index:06d}.png")
        lines.append(f"{index:06d}.png {partition}")
    (directory / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return {"list_eval_partition.txt": _md5((directory / "list_eval_partition.txt").read_bytes())}


def test_celeba_crop_resize_and_partitions(tmp_path):
    colours = [(200, 10, 10), (10, 200, 10), (10, 10, 200), (90, 90, 90), (5, 5, 5)]
    checksums = _celeba_folder(tmp_path / "celeba", colours, partitions=[0, 1, 2, 0, 2])
    data = fetch_image_dataset("celeba", str(tmp_path), tmp_path, checksums=checksums)  # torchvision's subfolder
    assert data.train_images.shape == (2, 3, 64, 64) and data.test_images.shape == (2, 3, 64, 64)
    assert data.train_labels.tolist() == [-1, -1] and data.test_labels.tolist() == [-1, -1]
    # the crop is exactly the coloured square: no white frame survives the bicubic resize
    assert data.train_images[0].flatten(1).T.unique(dim=0).tolist() == [[200, 10, 10]]
    assert data.test_images[1].flatten(1).T.unique(dim=0).tolist() == [[5, 5, 5]]
    (tmp_path / "celeba" / "img_align_celeba" / "000004.png").unlink()
    with pytest.raises(DatasetError, match="000004.png"):
        fetch_image_dataset("celeba", str(tmp_path), tmp_path, checksums=checksums)


def test_unknown_dataset_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="fmnist"):
        fetch_image_dataset("imagenet", str(tmp_path), tmp_path)


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_the_standard_dataset():
    data = fetch_image_dataset("fmnist", str(DEBIAN_FMNIST), "unused")  # standard checksums
    assert data.train_images.shape == (60000, 1, 28, 28) and data.test_images.shape == (10000, 1, 28, 28)
    assert data.train_labels.bincount().tolist() == [6000] * 10 and data.test_labels.bincount().tolist() == [1000] * 10
    assert sorted(data.sha256) == sorted(IDX_NAMES)
