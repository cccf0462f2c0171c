"""Build the image VAE: S-IntroVAE conv networks of R runs, stacked, around a prior."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from vaepriors.core.nets.conv import ConvDecoder, ConvEncoder, StackedConvDecoder, StackedConvEncoder
from vaepriors.core.vae import StackedVAE
from vaepriors.core.priors import (DecoupledPrior, DecoupledPriorConfig, LogVarSoftClip, Prior, StandardGaussianPrior,
                              VampPrior)

if TYPE_CHECKING:  # models do not import training (only its configuration type is named here)
    from vaepriors.studies.images.config import ImageTrainConfig


def build_prior(config: ImageTrainConfig, pseudo_inputs: torch.Tensor | None,
                generators: Sequence[torch.Generator]) -> Prior:
    """The prior of R runs: SG, R decoupled (flow) priors initialised from the runs' generators, or R VampPriors
    with the given pseudo-inputs (R, K, C, H, W) in [0, 1]."""
    runs = len(generators)
    if config.prior == "standard_gaussian":
        return StandardGaussianPrior(runs, config.z_dim)
    if config.prior == "decoupled":
        return DecoupledPrior(DecoupledPriorConfig(config.z_dim, config.flow_blocks, config.flow_hidden,
                                                   log_scale_bound=config.flow_log_scale_bound), generators)
    return VampPrior(pseudo_inputs, config.learnable_contributions, input_range=(0.0, 1.0))


def pseudo_inputs(config: ImageTrainConfig, train_images: torch.Tensor | None, generator: torch.Generator,
                  image_shape: tuple[int, int, int]) -> torch.Tensor:
    """K random training images in [0, 1] (reference §13), (K, C, H, W); zeros when no images are given (a model
    whose weights are loaded next)."""
    if train_images is None:
        return torch.zeros(config.components, *image_shape)
    index = torch.randperm(len(train_images), generator=generator)[:config.components]
    return train_images[index.to(train_images.device)].float().div(255).cpu()


def build_image_stack(config: ImageTrainConfig, init_seeds: Sequence[int], image_shape: tuple[int, int, int],
                      train_images: torch.Tensor | None = None) -> StackedVAE:
    """R runs of ``config`` in one model; run r is initialised from ``init_seeds[r]`` alone (its pseudo-inputs from a
    generator, its networks from torch's global RNG seeded with it, its flow from its own generator), so a run's
    initial weights do not depend on which runs share its stack."""
    networks, pseudo = [], []
    for seed in init_seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if config.prior == "vamp":
                pseudo.append(pseudo_inputs(config, train_images, torch.Generator().manual_seed(seed), image_shape))
            networks.append(build_run_networks(config, image_shape))
    prior = build_prior(config, torch.stack(pseudo) if pseudo else None,
                        [torch.Generator().manual_seed(seed) for seed in init_seeds])
    return build_image_vae(config, image_shape, prior, networks)


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
