"""The two training stages of an image run as the pipeline runs them: the shared VAE warm-up and the adversarial
phase. Both resume from their last checkpoint when started again (after a kill, a preemption or a time limit)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from vaepriors.atomic import save_atomic
from vaepriors.training.engine import Checkpoint, load_state
from vaepriors.training.image_checkpoint import snapshot_payload
from vaepriors.training.image_config import ImageTrainConfig
from vaepriors.training.image_trainer import ImageTrainer


def run_warmup(config: ImageTrainConfig, train_images: torch.Tensor, out: str | Path,
               device: torch.device | str = "cpu", progress: bool = True) -> None:
    """Epochs [0, warmup_epochs) of the run's warm-up configuration; writes the full training state to ``out``
    (``out.partial`` while it runs: a restarted job resumes there)."""
    out = Path(out)
    trainer = ImageTrainer(config.warmup_config(), train_images, device)
    partial = Checkpoint(out.with_name(out.name + ".partial"), trainer.config.to_dict())
    trainer.train(config.warmup_epochs, checkpoint=partial, progress=progress)
    save_atomic(trainer.state_dict(), out)
    partial.remove()


def run_adversarial(config: ImageTrainConfig, train_images: torch.Tensor, warmup: str | Path, run_dir: str | Path,
                    device: torch.device | str = "cpu", progress: bool = True) -> None:
    """Epochs [warmup_epochs, epochs) from the shared warm-up (or from the run's own checkpoint after a restart);
    writes the run directory of docs/images.md."""
    run_dir = Path(run_dir)
    checkpoint = Checkpoint(run_dir / "checkpoint.pt", config.to_dict())
    trainer = ImageTrainer(config, train_images, device)
    if not trainer.resume(checkpoint, "epoch"):
        trainer.load_warmup(load_state(warmup))
        if trainer.epoch < config.warmup_epochs and trainer.divergence is None:
            raise ValueError(f"{warmup} holds epoch {trainer.epoch}, not a finished warm-up of "
                             f"{config.warmup_epochs} epochs; re-run the warm-up rule")
    shape = tuple(train_images.shape[1:])

    def snapshot(epoch: int) -> None:
        save_atomic(snapshot_payload(config, trainer.model, epoch, shape), run_dir / "snapshots" / f"epoch{epoch:03d}.pt")

    trainer.train(config.epochs, on_snapshot=snapshot, checkpoint=checkpoint, progress=progress, resume=False)
    write_run_outputs(trainer, run_dir)
    checkpoint.remove()


def write_run_outputs(trainer: ImageTrainer, run_dir: Path) -> None:
    config, shape = trainer.config, tuple(trainer.images.shape[1:])
    pd.DataFrame(trainer.history).to_csv(run_dir / "history.csv", index=False)
    divergence = trainer.divergence
    status = {"completed_epochs": trainer.epoch, "diverged": divergence is not None,
              "diverged_at_epoch": None if divergence is None else divergence.at,
              "reason": None if divergence is None else divergence.reason,
              "snapshots": sorted(int(p.stem.removeprefix("epoch")) for p in (run_dir / "snapshots").glob("epoch*.pt"))}
    (run_dir / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    trained_epochs = trainer.epoch if divergence is None else divergence.at  # the last finite model
    save_atomic(snapshot_payload(config, trainer.model, trained_epochs, shape), run_dir / "final.pt")
