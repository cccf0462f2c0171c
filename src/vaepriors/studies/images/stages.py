"""The two training stages of an image stack as the pipeline runs them: the VAE warm-up (one run per seed) and the
adversarial phase (every (seed, r_entropy) run of one configuration). Both resume from their last checkpoint when
started again (after a kill, a preemption or a time limit)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from vaepriors.core.atomic import save_atomic, save_with_config
from vaepriors.core.state_files import load_state_file
from vaepriors.core.training.engine import Checkpoint
from vaepriors.studies.images.checkpoint import snapshot_payload
from vaepriors.studies.images.config import ImageStackConfig, ImageTrainConfig
from vaepriors.studies.images.trainer import ImageTrainer


def run_warmup(stack: ImageStackConfig | ImageTrainConfig, train_images: torch.Tensor, out: str | Path,
               device: torch.device | str = "cpu", progress: bool = True, capture: bool = False) -> None:
    """Epochs [0, warmup_epochs) of the stack's warm-up (one run per seed); writes the full training state to
    ``out`` (``out.partial`` while it runs: a restarted job resumes there)."""
    out, stack = Path(out), ImageStackConfig.of(stack)
    trainer = ImageTrainer(stack.warmup(), train_images, device, capture)
    partial = Checkpoint(out.with_name(out.name + ".partial"), trainer.config.to_dict())
    trainer.train(stack.base.warmup_epochs, checkpoint=partial, progress=progress)
    save_atomic(trainer.state_dict(), out)
    partial.remove()


def run_adversarial(stack: ImageStackConfig | ImageTrainConfig, train_images: torch.Tensor, warmup: str | Path,
                    run_dirs: Sequence[str | Path], checkpoint: str | Path, device: torch.device | str = "cpu",
                    progress: bool = True, capture: bool = False) -> None:
    """Epochs [warmup_epochs, epochs) of every run of ``stack`` from the warm-up stack (or from the stack's own
    ``checkpoint`` after a restart); writes run r's directory of docs/images.md to ``run_dirs[r]``."""
    stack = ImageStackConfig.of(stack)
    if len(run_dirs) != len(stack.runs):
        raise ValueError(f"{len(stack.runs)} runs need as many run directories, got {len(run_dirs)}")
    run_dirs = [Path(d) for d in run_dirs]
    store = Checkpoint(checkpoint, stack.to_dict())
    trainer = ImageTrainer(stack, train_images, device, capture)
    if not trainer.resume(store, "epoch"):
        warmup_state = load_state_file(warmup, "a warm-up stack state", "rule image_warmup (vaepriors image-warmup)")
        trainer.load_warmup(warmup_state)
        if trainer.epoch < stack.base.warmup_epochs and len(trainer.diverged_runs) < trainer.runs:
            raise ValueError(f"{warmup} holds epoch {trainer.epoch}, not a finished warm-up of "
                             f"{stack.base.warmup_epochs} epochs; re-run the warm-up rule")

    def snapshot(epoch: int) -> None:
        for run, (config, run_dir) in enumerate(zip(stack.runs, run_dirs)):
            if run not in trainer.diverged_runs:
                payload = snapshot_payload(config, trainer.run_weights(run), type(trainer.model.prior).__name__, epoch,
                                           trainer.image_shape)
                save_atomic(payload, run_dir / "snapshots" / f"epoch{epoch:03d}.pt")

    trainer.train(stack.base.epochs, on_snapshot=snapshot, checkpoint=store, progress=progress, resume=False)
    for run, run_dir in enumerate(run_dirs):
        write_run_outputs(trainer, run, run_dir)
    store.remove()


def write_run_outputs(trainer: ImageTrainer, run: int, run_dir: Path) -> None:
    """history.csv, status.json and final.pt (the last finite weights) of one run of the stack."""
    config = trainer.config.runs[run]
    run_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(trainer.run_history(run)).to_csv(run_dir / "history.csv", index=False)
    divergence = trainer.run_divergence(run)
    completed = trainer.epoch if divergence is None else divergence.at + 1
    status = {"completed_epochs": completed,
              "diverged": divergence is not None,
              "diverged_at_epoch": None if divergence is None else divergence.at,
              "reason": None if divergence is None else divergence.reason,
              # the snapshots this run wrote (a directory may hold stale ones of an earlier configuration)
              "snapshots": [epoch for epoch in config.measure_epochs if epoch < completed]}
    (run_dir / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    trained_epochs = trainer.epoch if divergence is None else divergence.at  # the last finite model
    save_with_config(snapshot_payload(config, trainer.run_weights(run), type(trainer.model.prior).__name__,
                                      trained_epochs, trainer.image_shape), run_dir / "final.pt")
