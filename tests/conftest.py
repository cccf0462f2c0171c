import pytest
import torch

from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)


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

    from vaepriors.core.training.engine import load_state

    deadline = time.monotonic() + timeout
    while not checkpoint.exists() or load_state(checkpoint)["position"] < position:
        assert job.poll() is None, "the job finished before it could be killed; give it more units"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    return load_state(checkpoint)["position"]
