"""Build the image VAE: S-IntroVAE conv networks of R runs, stacked, around a prior."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from vaepriors.core.nets.conv import ConvDecoder, ConvEncoder, StackedConvDecoder, StackedConvEncoder
from vaepriors.core.priors import LogVarSoftClip, Prior, PriorRequest, build_prior
from vaepriors.core.vae import StackedVAE

if TYPE_CHECKING:
    from vaepriors.studies.images.config import ImageTrainConfig


def pseudo_inputs(k: int, train_images: torch.Tensor | None, generator: torch.Generator,
                  image_shape: tuple[int, int, int]) -> torch.Tensor:
    """K random training images in [0, 1] (reference §13), (K, C, H, W); zeros when no images are given (a model
    whose weights are loaded next)."""
    if train_images is None:
        return torch.zeros(k, *image_shape)
    index = torch.randperm(len(train_images), generator=generator)[:k]
    return train_images[index.to(train_images.device)].float().div(255).cpu()


def build_image_stack(config: ImageTrainConfig, init_seeds: Sequence[int], image_shape: tuple[int, int, int],
                      train_images: torch.Tensor | None = None) -> StackedVAE:
    """R runs of ``config`` in one model; run r is initialised from ``init_seeds[r]`` alone (its pseudo-inputs from a
    generator, its networks from torch's global RNG seeded with it, its flow from its own generator), so a run's
    initial weights do not depend on which runs share its stack."""
    networks = []
    for seed in init_seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            networks.append(build_run_networks(config, image_shape))

    def data_points(k: int) -> torch.Tensor:
        return torch.stack([pseudo_inputs(k, train_images, torch.Generator().manual_seed(seed), image_shape)
                            for seed in init_seeds])

    request = PriorRequest(config.z_dim, [torch.Generator().manual_seed(seed) for seed in init_seeds],
                           config.components, config.learnable_contributions, data_points, (0.0, 1.0),
                           config.flow_blocks, config.flow_hidden, config.flow_log_scale_bound)
    return build_image_vae(config, image_shape, build_prior(config.prior, request), networks)


def build_run_networks(config: ImageTrainConfig, image_shape: tuple[int, int, int]) -> tuple[ConvEncoder, ConvDecoder]:
    """One run's encoder and decoder, initialised from torch's global RNG (PyTorch defaults): seed it (or fork it)
    before calling, once per run."""
    channels, size, _ = image_shape
    return (ConvEncoder(channels, config.channels, size, config.z_dim),
            ConvDecoder(channels, config.channels, size, config.z_dim))


def build_image_vae(config: ImageTrainConfig, image_shape: tuple[int, int, int], prior: Prior,
                    runs: Sequence[tuple[ConvEncoder, ConvDecoder]] | None = None) -> StackedVAE:
    """The stack of ``runs`` (each run's reference networks, ``build_run_networks`` under the run's seed) around
    ``prior`` of as many runs; run r computes exactly ``runs[r]``. Without ``runs``, one run drawn from torch's global
    RNG now, as before the run axis."""
    runs = runs or [build_run_networks(config, image_shape)]
    options = dict(bf16=config.bf16, channels_last=config.channels_last)
    encoder = StackedConvEncoder.from_runs([encoder for encoder, _ in runs], **options)
    decoder = StackedConvDecoder.from_runs([decoder for _, decoder in runs], **options)
    if config.channels_last:
        encoder.to(memory_format=torch.channels_last)
        decoder.to(memory_format=torch.channels_last)
    return StackedVAE(encoder, decoder, prior, LogVarSoftClip(len(runs), config.z_dim, config.clip_k))
