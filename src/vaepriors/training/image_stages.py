"""The two training stages of an image run as the pipeline runs them: the shared VAE warm-up and the adversarial
phase. Both resume from their last checkpoint when started again (after a kill, a preemption or a time limit)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch

from vaepriors.atomic import save_atomic
from vaepriors.training.image_checkpoint import snapshot_payload
from vaepriors.training.image_config import ImageTrainConfig
from vaepriors.training.image_trainer import ImageTrainer

log = logging.getLogger(__name__)


def _resume(trainer: ImageTrainer, *candidates: Path) -> None:
    """Load the first existing state file of ``candidates`` (a run's own checkpoint before its warm-up). Loaded on
    the CPU: RNG states must stay CPU byte tensors (a CUDA map broke resuming on a GPU); the model and optimiser
    states are copied to the trainer's device by their ``load_state_dict``."""
    for path in candidates:
        if path.exists():
            trainer.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))
            log.info("resumed from %s at epoch %d", path, trainer.epoch)
            return


def run_warmup(config: ImageTrainConfig, train_images: torch.Tensor, out: str | Path,
               device: torch.device | str = "cpu", progress: bool = True) -> None:
    """Epochs [0, warmup_epochs) of the run's warm-up configuration; writes the full training state to ``out``."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    trainer = ImageTrainer(config.warmup_config(), train_images, device)
    _resume(trainer, partial)
    trainer.train(config.warmup_epochs, on_checkpoint=lambda: save_atomic(trainer.state_dict(), partial),
                  progress=progress)
    save_atomic(trainer.state_dict(), out)
    partial.unlink(missing_ok=True)


def run_adversarial(config: ImageTrainConfig, train_images: torch.Tensor, warmup: str | Path, run_dir: str | Path,
                    device: torch.device | str = "cpu", progress: bool = True) -> None:
    """Epochs [warmup_epochs, epochs) from the shared warm-up; writes the run directory of docs/images.md."""
    run_dir = Path(run_dir)
    checkpoint = run_dir / "checkpoint.pt"
    trainer = ImageTrainer(config, train_images, device)
    _resume(trainer, checkpoint, Path(warmup))
    if trainer.epoch < config.warmup_epochs and trainer.divergence is None:
        raise ValueError(f"{warmup} holds epoch {trainer.epoch}, not a finished warm-up of {config.warmup_epochs} "
                         "epochs; re-run the warm-up rule")
    shape = tuple(train_images.shape[1:])

    def snapshot(epoch: int) -> None:
        save_atomic(snapshot_payload(config, trainer.model, epoch, shape), run_dir / "snapshots" / f"epoch{epoch:03d}.pt")

    trainer.train(config.epochs, on_snapshot=snapshot, on_checkpoint=lambda: save_atomic(trainer.state_dict(), checkpoint),
                  progress=progress)
    write_run_outputs(trainer, run_dir)
    checkpoint.unlink(missing_ok=True)


def write_run_outputs(trainer: ImageTrainer, run_dir: Path) -> None:
    config, shape = trainer.config, tuple(trainer.images.shape[1:])
    pd.DataFrame(trainer.history).to_csv(run_dir / "history.csv", index=False)
    divergence = trainer.divergence
    status = {"completed_epochs": trainer.epoch, "diverged": divergence is not None,
              "diverged_at_epoch": None if divergence is None else divergence.epoch,
              "reason": None if divergence is None else divergence.reason,
              "snapshots": sorted(int(p.stem.removeprefix("epoch")) for p in (run_dir / "snapshots").glob("epoch*.pt"))}
    (run_dir / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    trained_epochs = trainer.epoch if divergence is None else divergence.epoch  # the last finite model
    save_atomic(snapshot_payload(config, trainer.model, trained_epochs, shape), run_dir / "final.pt")
