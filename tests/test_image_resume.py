"""A training job killed mid-run and started again ends exactly as an uninterrupted one (CPU)."""

import subprocess
import sys

import pandas as pd
import torch

from conftest import kill_after_checkpoint, run_cli

from vaepriors.core.data.images import ImageData

TRAIN_FLAGS = ["--dataset", "fmnist", "--configuration", "mog4_lc_ip", "--prior", "vamp", "--components", "4",
               "--learnable-contributions", "--intro-prior", "--r-entropy", "10", "--channels", "4", "8",
               "--z-dim", "4", "--batch-size", "16", "--epochs", "12", "--warmup-epochs", "2",
               "--mog-warmup-epochs", "1", "--mc-samples", "4", "--measure-epochs", "4", "8",
               "--seeds", "0", "--device", "cpu", "--threads", "1"]


def _vaepriors(*args: str) -> list[str]:
    return [sys.executable, "-m", "vaepriors", *args]


def _write_data(path) -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 1, 8, 8), generator=generator, dtype=torch.uint8)
    labels = torch.arange(96) % 10
    ImageData(images, labels, images[:10], labels[:10], "fmnist", "test", None, {}).save(path)


def _train_arguments(tmp_path, run_dir) -> list[str]:
    return ["image-train", "--data", str(tmp_path / "data.pt"), "--warmup", str(tmp_path / "warmup.pt"), "--run-dirs",
            str(run_dir), "--checkpoint", str(run_dir / "checkpoint.pt"), *TRAIN_FLAGS]


def _train(tmp_path, run_dir, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(_vaepriors(*_train_arguments(tmp_path, run_dir)), stdout=subprocess.DEVNULL, stderr=stderr,
                            text=True)


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    _write_data(tmp_path / "data.pt")
    run_cli("image-warmup", "--data", tmp_path / "data.pt", "--out", tmp_path / "warmup.pt", *TRAIN_FLAGS)
    run_cli(*_train_arguments(tmp_path, tmp_path / "straight"))

    job = _train(tmp_path, tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    killed_at = kill_after_checkpoint(job, checkpoint, 5)
    assert not (tmp_path / "killed" / "final.pt").exists()
    rerun = _train(tmp_path, tmp_path / "killed", stderr=subprocess.PIPE)
    _, log = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, log
    assert f"resumed from {checkpoint} at epoch {killed_at}" in log  # continued, not restarted from the warm-up

    straight = torch.load(tmp_path / "straight" / "final.pt", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "killed" / "final.pt", weights_only=True)["model"]
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "killed" / "history.csv"),
                                  pd.read_csv(tmp_path / "straight" / "history.csv"))
    for epoch in (4, 8):
        a = torch.load(tmp_path / "straight" / "snapshots" / f"epoch{epoch:03d}.pt", weights_only=True)["model"]
        b = torch.load(tmp_path / "killed" / "snapshots" / f"epoch{epoch:03d}.pt", weights_only=True)["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)
