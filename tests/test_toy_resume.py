"""A 2D grid job killed mid-run and started again ends exactly as an uninterrupted one (through the CLI)."""

import subprocess
import sys

import torch

from conftest import kill_after_checkpoint, run_cli

from vaepriors.core.state_files import load_state_file

FLAGS = ["--dataset", "8Gaussian", "--configuration", "sintro_mog_lc_ip", "--model", "sintro", "--prior", "vamp",
         "--components", "4", "--learnable-contributions", "--intro-prior", "--convert-to-mog", "--iterations", "240",
         "--warmup", "60", "--mog-warmup", "20", "--batch-size", "64", "--hidden", "32", "--hidden-layers", "2",
         "--mc-samples", "8", "--milestones", "150", "--grid-beta-rec", "0.2", "1.0", "--grid-beta-kl", "0.3",
         "--seeds", "0", "1", "--log-every", "20", "--device", "cpu", "--threads", "1"]


def _train(out, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vaepriors", "toy-train", *FLAGS, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def test_killed_2d_job_resumes_to_the_uninterrupted_result(tmp_path):
    run_cli("toy-train", *FLAGS, "--out", tmp_path / "straight.pt")

    out = tmp_path / "killed.pt"
    checkpoint = tmp_path / "killed.pt.checkpoint"
    job = _train(out)
    killed_at = kill_after_checkpoint(job, checkpoint, 120)
    assert not out.exists()
    assert killed_at < 240
    rerun = _train(out, stderr=subprocess.PIPE)
    _, log = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, log
    assert f"resumed from {checkpoint} at iteration {killed_at}" in log
    assert not checkpoint.exists()

    straight = load_state_file(tmp_path / "straight.pt", "a 2D runs file", "toy-train")
    resumed = load_state_file(out, "a 2D runs file", "toy-train")
    assert straight["prior"] == resumed["prior"] == "MixtureOfGaussiansPrior"
    for key, value in straight["state"].items():
        torch.testing.assert_close(resumed["state"][key], value, rtol=0, atol=0, msg=key)
    assert resumed["history"] == straight["history"]
