"""Build the image VAE: S-IntroVAE conv networks of R runs, stacked, around a prior."""

from __future__ import annotations

from typing import Sequence

import torch

from vaepriors.models.conv import ConvDecoder, ConvEncoder, StackedConvDecoder, StackedConvEncoder
from vaepriors.models.vae import StackedVAE
from vaepriors.priors import (DecoupledPrior, DecoupledPriorConfig, LogVarSoftClip, Prior, StandardGaussianPrior,
                              VampPrior)
from vaepriors.training.image_config import ImageTrainConfig


def build_prior(config: ImageTrainConfig, train_images: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> Prior:
    """SG, a decoupled (flow) prior initialised from torch's global RNG like the networks, or a VampPrior whose K
    pseudo-inputs are K random training images in [0, 1] (reference §13)."""
    if config.prior == "standard_gaussian":
        return StandardGaussianPrior(1, config.z_dim)
    if config.prior == "decoupled":
        return DecoupledPrior(DecoupledPriorConfig(config.z_dim, config.flow_blocks, config.flow_hidden,
                                                   log_scale_bound=config.flow_log_scale_bound))
    index = torch.randperm(len(train_images), generator=generator)[:config.components]
    pseudo = train_images[index.to(train_images.device)].float().div(255).cpu()
    return VampPrior(pseudo.unsqueeze(0), config.learnable_contributions, input_range=(0.0, 1.0))


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
