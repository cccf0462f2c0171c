"""Files of an image run (docs/images.md): model snapshots and their loading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vaepriors.core.state_files import load_state_file
from vaepriors.core.vae import StackedVAE
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.model import build_image_stack


def snapshot_payload(config: ImageTrainConfig, model_state: dict, prior: str, epoch: int, image_shape) -> dict:
    """One run's weights (a stack of one: ``run_states.select_state`` of its stack) with its configuration."""
    return {"config": config.to_dict(), "model": model_state, "prior": prior, "epoch": epoch,
            "image_shape": tuple(image_shape)}


@dataclass
class ImageModelSnapshot:
    config: ImageTrainConfig
    model: StackedVAE
    epoch: int
    image_shape: tuple[int, int, int]


def load_snapshot(path: str | Path, device: torch.device | str = "cpu") -> ImageModelSnapshot:
    """Rebuild the model of a snapshot (a VampPrior that had become a MoG is converted before loading)."""
    payload = load_state_file(path, "an image-run snapshot", "rule image_train (vaepriors image-train)",
                              ("config", "model", "prior", "epoch", "image_shape"))
    config, shape = ImageTrainConfig.from_dict(payload["config"]), tuple(payload["image_shape"])
    model = build_image_stack(config, [0], shape)
    if payload["prior"] != type(model.prior).__name__:
        model.convert_vamp_to_mog(config.vamp_to_mog_weights)
    model.load_state_dict(payload["model"])
    return ImageModelSnapshot(config, model.to(device), payload["epoch"], shape)
