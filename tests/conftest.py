import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)


ROOT = Path(__file__).resolve().parents[1]


def snakemake_args(workdir, *args, layers=(), root=ROOT):
    """Arguments after `python -m snakemake` that run the workflow of checkout `root` in `workdir`, with
    root/config.yaml plus `layers`. Tests plan and run in a temporary `workdir`, never in the checkout: there a dry
    run skips what the user's results/ already holds (after `make reduced`, figure 6 is no longer planned) and writes
    .snakemake/ beside it. `configfile:` is relative to the working directory, so the config files go absolutely."""
    command = [*args, "--snakefile", root / "Snakefile", "--directory", workdir,
               "--configfile", root / "config.yaml", *layers]  # fmt: skip
    return [str(part) for part in command]


def snakemake(workdir, *args, layers=(), root=ROOT, env=None, timeout=120):
    """`python -m snakemake` with snakemake_args; stdout and stderr together."""
    command = [sys.executable, "-m", "snakemake", *snakemake_args(workdir, *args, layers=layers, root=root)]
    return subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def tiny_config(**overrides) -> ToyTrainConfig:
    """A few-second S-IntroVAE MoG(8)+LC+IP configuration that passes through every phase."""
    values = dict(dataset="8Gaussian", configuration="sintro_mog_lc_ip", model="sintro", prior="vamp", components=8,
                  learnable_contributions=True, intro_prior=True, convert_to_mog=True, iterations=24, warmup=12,
                  mog_warmup=4, batch_size=32, hidden=16, hidden_layers=2, mc_samples=5, milestones=(18,),
                  runs=(RunSpec(0, 0.2, 0.3, 0.9),))
    values.update(overrides)
    return ToyTrainConfig(**values)


def kill_after_checkpoint(job, checkpoint, position: int, timeout: float = 300) -> int:
    """SIGKILL a training process once its checkpoint has reached ``position`` units; returns the checkpoint's
    position (the job must still be running: a job that ends first fails the test, since it needs more units)."""
    import os
    import signal
    import time

    from vaepriors.core.state_files import load_state_file

    deadline = time.monotonic() + timeout
    while not checkpoint.exists() or load_state_file(checkpoint, "a checkpoint", "the killed job")["position"] < position:
        assert job.poll() is None, "the job finished before it could be killed; give it more units"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    return load_state_file(checkpoint, "a checkpoint", "the killed job")["position"]
