"""Files of an image run (docs/images.md): model snapshots and their loading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vaepriors.models.image import build_image_vae, build_prior
from vaepriors.models.vae import StackedVAE
from vaepriors.priors import VampPrior
from vaepriors.training.image_config import ImageTrainConfig


def snapshot_payload(config: ImageTrainConfig, model: StackedVAE, epoch: int, image_shape) -> dict:
    return {"config": config.to_dict(), "model": model.state_dict(), "prior": type(model.prior).__name__,
            "epoch": epoch, "image_shape": tuple(image_shape)}


@dataclass
class ImageModelSnapshot:
    config: ImageTrainConfig
    model: StackedVAE
    epoch: int
    image_shape: tuple[int, int, int]


def load_snapshot(path: str | Path, device: torch.device | str = "cpu") -> ImageModelSnapshot:
    """Rebuild the model of a snapshot (a VampPrior that had become a MoG is converted before loading)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    config, shape = ImageTrainConfig.from_dict(payload["config"]), tuple(payload["image_shape"])
    if config.prior == "vamp":
        prior = VampPrior(torch.zeros(1, config.components, *shape), config.learnable_contributions, (0.0, 1.0))
    else:
        prior = build_prior(config)
    model = build_image_vae(config, shape, prior)
    if payload["prior"] != type(prior).__name__:
        model.convert_vamp_to_mog(config.vamp_to_mog_weights)
    model.load_state_dict(payload["model"])
    return ImageModelSnapshot(config, model.to(device), payload["epoch"], shape)
