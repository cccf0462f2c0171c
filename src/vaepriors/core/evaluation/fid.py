"""FID through torch-fidelity, in two clearly named modes (reference §10.1, §12.1).

- ``mode="standard"``: the usual FID; the feature extractor's BatchNorm uses its running statistics (eval mode).
- ``mode="paper"`` (paper-compatible FID): the authors ran the Inception in *train* mode, so every BatchNorm
  normalises each batch (32 images for CIFAR-10, 128 for (F)MNIST) with that batch's own statistics. This is what
  their tables report (MNIST ~1.3, CIFAR-10 ~4.4); it is not comparable with standard FIDs.

The paper mode is one generic wrapper, registered with torch-fidelity as ``<extractor>-batchstats`` for every
extractor (``batch_statistics_variant``): its forward pass switches BatchNorm to batch statistics without updating
(or reading) the running statistics, so the same weights still give standard features afterwards. Batch composition
matters in this mode, so images are fed in a seeded random order (the authors' real loader is shuffled) and the last
batch is completed by wrapping around, as the authors always processed full batches and truncated.

Extractors (``FidFeatures``): torch-fidelity's ``inception-v3-compat`` (2048-d pool features, TF-compatible resize
of uint8 images; the authors used pytorch-fid's port of the same TF weights with a torch bilinear resize) or the
offline classifier of ``feature_classifier``. Features and Frechet distance are torch-fidelity's own (its distance
takes Tr((S1 S2)^1/2) from eigenvalues; the authors used scipy ``sqrtm``: the same quantity).
"""

from __future__ import annotations

import contextlib
import functools
import math
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from vaepriors.core.evaluation.feature_classifier import CLASSIFIER_EXTRACTOR, FEATURE_LAYER, load_feature_classifier

INCEPTION_EXTRACTOR = "inception-v3-compat"
INCEPTION_LAYER = "2048"
BATCH_STATISTICS_SUFFIX = "-batchstats"
MODE_SUFFIX = {"standard": "", "paper": BATCH_STATISTICS_SUFFIX}
INCEPTION_WEIGHTS_KEY = "images.evaluation.inception_weights"
DOWNLOAD_TIMEOUT_S = 15.0
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class MissingInceptionWeights(RuntimeError):
    """The Inception weights are neither in a configured file, nor in torch's cache, nor downloadable."""


@contextlib.contextmanager
def batch_statistics_batchnorm(module: nn.Module) -> Iterator[nn.Module]:
    """Inside, every BatchNorm of ``module`` normalises with the current batch's statistics and leaves its running
    statistics (and ``num_batches_tracked``) untouched; each layer's mode is restored on exit."""
    layers = [layer for layer in module.modules() if isinstance(layer, _BATCH_NORMS)]
    saved = [(layer.training, layer.track_running_stats) for layer in layers]
    try:
        for layer in layers:
            layer.training, layer.track_running_stats = True, False
        yield module
    finally:
        for layer, (training, track) in zip(layers, saved):
            layer.training, layer.track_running_stats = training, track


@functools.cache
def batch_statistics_variant(extractor: type[FeatureExtractorBase]) -> type[FeatureExtractorBase]:
    """The same extractor (same constructor, weights and features) whose forward uses batch-statistics BatchNorm."""

    class BatchStatistics(extractor):
        def forward(self, x):
            with batch_statistics_batchnorm(self):
                return super().forward(x)

    BatchStatistics.__name__ = BatchStatistics.__qualname__ = f"{extractor.__name__}BatchStatistics"
    return BatchStatistics


def register_extractor(name: str, extractor: type[FeatureExtractorBase] | None = None) -> None:
    """Register ``extractor`` under ``name`` (unless it is already there) and its paper-mode variant under
    ``name + "-batchstats"``; idempotent, so modules and tests can call it on import."""
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, extractor)
    base = FEATURE_EXTRACTORS_REGISTRY[name]
    if extractor is not None and base is not extractor:
        raise ValueError(f"feature extractor {name!r} is already registered as {base.__name__}")
    if name + BATCH_STATISTICS_SUFFIX not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name + BATCH_STATISTICS_SUFFIX, batch_statistics_variant(base))


for _name in (INCEPTION_EXTRACTOR, CLASSIFIER_EXTRACTOR):
    register_extractor(_name)


# --- Inception weights -------------------------------------------------------------------------------------------

def _missing_weights_message(reason: str, target: Path) -> str:
    return (f"Inception FID weights unavailable: {reason}. Download {URL_INCEPTION_V3} (torch-fidelity's "
            f"inception-v3-compat weights) on a machine with network access and either put it at {target} or set "
            f"the config key `{INCEPTION_WEIGHTS_KEY}` to its path; or use the offline classifier extractor.")


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """torch.hub's download has no timeout of its own: bound every socket operation so offline machines fail fast."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def resolve_inception_weights(weights_path: str | Path | None = None, cache_dir: str | Path | None = None,
                              timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """The Inception weights file: the configured ``weights_path`` when it exists, else torch's hub cache (where
    torch-fidelity's own download puts it), else downloaded there from torch-fidelity's URL.

    Raises ``MissingInceptionWeights`` (naming the URL, the target file and the config key) when none works."""
    cache = Path(cache_dir) if cache_dir is not None else Path(torch.hub.get_dir()) / "checkpoints"
    cached = cache / URL_INCEPTION_V3.rsplit("/", 1)[-1]
    reason = "no file configured"
    if weights_path is not None:
        if Path(weights_path).is_file():
            return Path(weights_path)
        reason = f"the configured file {weights_path} does not exist"
        warnings.warn(f"{reason}; trying the torch hub cache and the download", stacklevel=2)
    if cached.is_file():
        return cached
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with _socket_timeout(timeout_s):
            torch.hub.download_url_to_file(URL_INCEPTION_V3, str(cached), progress=False)
    except Exception as error:  # URLError, timeouts, HTTP and file-system errors all mean "not available here"
        raise MissingInceptionWeights(_missing_weights_message(f"{reason}, download failed ({error})", cached)) \
            from error
    return cached


# --- extractors --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FidFeatures:
    """How to extract FID features through torch-fidelity.

    ``extractor``: the registered (standard-mode) name; ``layer``: its feature name; ``weights_path``: passed as
    torch-fidelity's ``feature_extractor_weights_path``; ``rgb``: grayscale images are repeated to 3 channels;
    ``label``: how tables name the extractor (``inception-v3-compat``, ``classifier:<dataset>``)."""

    extractor: str
    layer: str
    label: str
    weights_path: str | None = None
    rgb: bool = False

    def registered_name(self, mode: str) -> str:
        if mode not in MODE_SUFFIX:
            raise ValueError(f"unknown FID mode {mode!r}; expected one of {sorted(MODE_SUFFIX)}")
        return self.extractor + MODE_SUFFIX[mode]

    @classmethod
    def inception(cls, weights_path: str | Path | None = None) -> FidFeatures:
        """torch-fidelity's Inception; resolves (or downloads) the weights now so a missing file fails early."""
        path = resolve_inception_weights(weights_path)
        return cls(INCEPTION_EXTRACTOR, INCEPTION_LAYER, INCEPTION_EXTRACTOR, str(path), rgb=True)

    @classmethod
    def classifier(cls, weights_path: str | Path | None) -> FidFeatures:
        """The classifier trained by ``train_feature_classifier`` (file ``weights_path``)."""
        if weights_path is None:
            raise ValueError("the classifier FID extractor needs the file written by train_feature_classifier")
        dataset = load_feature_classifier(weights_path).dataset
        return cls(CLASSIFIER_EXTRACTOR, FEATURE_LAYER, f"classifier:{dataset}", str(weights_path))


FID_EXTRACTORS: dict[str, Callable[..., FidFeatures]] = {"inception": FidFeatures.inception,
                                                          "classifier": FidFeatures.classifier}


def fid_features(kind: str, weights_path: str | Path | None = None) -> FidFeatures:
    """``kind`` in ``FID_EXTRACTORS`` ("inception": weights optional; "classifier": the trained classifier file)."""
    if kind not in FID_EXTRACTORS:
        raise ValueError(f"unknown FID extractor {kind!r}; expected one of {sorted(FID_EXTRACTORS)}")
    return FID_EXTRACTORS[kind](weights_path)


# --- features ----------------------------------------------------------------------------------------------------

class _OrderedImages(Dataset):
    """``images[order[i]]`` (uint8 (C, H, W)), repeated to 3 channels when ``rgb`` and grayscale."""

    def __init__(self, images: torch.Tensor, order: torch.Tensor, rgb: bool):
        self.images, self.order = images, order
        self.repeat = 3 if rgb and images.shape[1] == 1 else 1

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[self.order[index]].repeat(self.repeat, 1, 1)


def batch_order(count: int, batch_size: int, seed: int) -> torch.Tensor:
    """A seeded permutation of ``count`` indices, wrapped around to fill the last batch."""
    permutation = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    padded = math.ceil(count / batch_size) * batch_size
    return permutation.repeat(math.ceil(padded / count))[:padded]


def quantise_images(images: torch.Tensor) -> torch.Tensor:
    """Decoder outputs (float, any range) -> uint8 as the authors: ``clip(x * 255, 0, 255)`` truncated."""
    return (images.detach() * 255).clamp(0, 255).to(torch.uint8)


def extract_features(images: torch.Tensor, features: FidFeatures, mode: str = "standard", batch_size: int = 64,
                     device: str | torch.device = "cpu", seed: int = 0) -> torch.Tensor:
    """torch-fidelity features (N, D) of uint8 images (N, C, H, W), in the input order."""
    if images.dtype != torch.uint8 or images.dim() != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty uint8 tensor (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    order = batch_order(len(images), batch_size, seed)
    device = torch.device(device)
    cuda = device.type == "cuda"
    with torch.cuda.device(device) if cuda else contextlib.nullcontext():
        extractor = create_feature_extractor(features.registered_name(mode), [features.layer], cuda=cuda,
                                             verbose=False, feature_extractor_weights_path=features.weights_path)
        extracted = get_featuresdict_from_dataset(_OrderedImages(images.cpu(), order, features.rgb), extractor,
                                                  batch_size, cuda, save_cpu_ram=True, verbose=False)[features.layer]
    result = torch.empty((len(images), extracted.shape[1]), dtype=extracted.dtype)
    result[order[:len(images)]] = extracted[:len(images)]
    return result


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean (D,) and covariance (D, D, ``np.cov`` ddof 1) of N features, float64; cache the real set's once."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int

    @classmethod
    def from_features(cls, features: torch.Tensor) -> FeatureStatistics:
        statistics = fid_features_to_statistics(features.detach().cpu().double())
        return cls(statistics["mu"], statistics["sigma"], len(features))

    def save(self, path: str | Path) -> None:
        np.savez(path, mu=self.mu, sigma=self.sigma, count=self.count)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStatistics:
        with np.load(path) as stored:
            return cls(stored["mu"], stored["sigma"], int(stored["count"]))


def feature_statistics(images: torch.Tensor, features: FidFeatures, mode: str = "standard", batch_size: int = 64,
                       device: str | torch.device = "cpu", seed: int = 0) -> FeatureStatistics:
    return FeatureStatistics.from_features(extract_features(images, features, mode, batch_size, device, seed))


def fid_from_statistics(a: FeatureStatistics, b: FeatureStatistics) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) (torch-fidelity's implementation, no rescaling)."""
    return float(fid_statistics_to_metric({"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma},
                                          verbose=False)[KEY_METRIC_FID])


def compute_fid(real: torch.Tensor, fake: torch.Tensor, features: FidFeatures, mode: str = "standard",
                batch_size: int = 64, device: str | torch.device = "cpu", seed: int = 0) -> float:
    """FID between uint8 image sets (N, C, H, W) and (M, C, H, W); ``mode`` "standard" or "paper" (see module)."""
    return fid_from_statistics(feature_statistics(real, features, mode, batch_size, device, seed),
                               feature_statistics(fake, features, mode, batch_size, device, seed))
