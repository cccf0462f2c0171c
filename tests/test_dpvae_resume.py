"""A dpVAE stack job killed mid-run and started again ends exactly as an uninterrupted one (CPU, two moons)."""

import json
import subprocess
import sys

import pandas as pd
import torch

from conftest import kill_after_checkpoint, run_cli

SEEDS = ["0", "3"]
TRAIN_FLAGS = ["--dataset", "moons", "--regulariser", "factor", "--regulariser-params", '{"hidden": 16}',
               "--prior", "decoupled", "--flow-hidden", "8", "--batch-size", "16", "--iterations", "150",
               "--log-every", "10", "--checkpoint-every", "10", "--seeds", *SEEDS, "--device", "cpu",
               "--threads", "1"]


def _arguments(out) -> list[str]:
    run_dirs = [str(out / f"seed{seed}") for seed in SEEDS]
    return ["dpvae-train", *TRAIN_FLAGS, "--run-dirs", *run_dirs, "--checkpoint", str(out / "checkpoint.pt"),
            "--manifest", str(out / "stack.json")]


def _train(out, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vaepriors", *_arguments(out)], stdout=subprocess.DEVNULL,
                            stderr=stderr, text=True)


def test_killed_stack_resumes_to_the_uninterrupted_result(tmp_path):
    run_cli(*_arguments(tmp_path / "straight"))

    job = _train(tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    killed_at = kill_after_checkpoint(job, checkpoint, 20)
    assert not (tmp_path / "killed" / "stack.json").exists()
    rerun = _train(tmp_path / "killed", stderr=subprocess.PIPE)
    _, log = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, log
    assert f"resumed from {checkpoint} at iteration {killed_at}" in log
    assert not checkpoint.exists()

    manifest = json.loads((tmp_path / "killed" / "stack.json").read_text())
    assert [run["seed"] for run in manifest["runs"]] == [0, 3] and manifest["regulariser"] == "factor"
    for seed in SEEDS:
        straight, killed = tmp_path / "straight" / f"seed{seed}", tmp_path / "killed" / f"seed{seed}"
        a = torch.load(straight / "final.pt", weights_only=True)["model"]
        b = torch.load(killed / "final.pt", weights_only=True)["model"]
        for key, value in a.items():
            torch.testing.assert_close(b[key], value, rtol=0, atol=0, msg=key)
        pd.testing.assert_frame_equal(pd.read_csv(killed / "history.csv"), pd.read_csv(straight / "history.csv"))
        assert json.loads((killed / "status.json").read_text()) == json.loads((straight / "status.json").read_text())
