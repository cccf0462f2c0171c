"""Build the image VAE: S-IntroVAE conv networks around a prior, one run (R = 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaepriors.models.conv import ConvDecoder, ConvEncoder, SingleRun
from vaepriors.models.vae import StackedVAE
from vaepriors.priors import (DecoupledPrior, DecoupledPriorConfig, LogVarSoftClip, Prior, StandardGaussianPrior,
                              VampPrior)

if TYPE_CHECKING:  # models do not import training (only its configuration type is named here)
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


def build_image_vae(config: ImageTrainConfig, image_shape: tuple[int, int, int], prior: Prior) -> StackedVAE:
    """Networks are initialised from torch's global RNG (PyTorch defaults): seed it (or fork it) before calling."""
    channels, size, _ = image_shape
    wrap = dict(bf16=config.bf16, channels_last=config.channels_last)
    encoder = SingleRun(ConvEncoder(channels, config.channels, size, config.z_dim), **wrap)
    decoder = SingleRun(ConvDecoder(channels, config.channels, size, config.z_dim), **wrap)
    if config.channels_last:
        encoder.to(memory_format=torch.channels_last)
        decoder.to(memory_format=torch.channels_last)
    return StackedVAE(encoder, decoder, prior, LogVarSoftClip(1, config.z_dim, config.clip_k))
