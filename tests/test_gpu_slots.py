"""GPU slots for local multi-GPU runs (src/vaepriors/core/gpu_slots.py), with a fake GPU list: no GPU needed.

Processes are real (subprocess): each holds its slot while the next one starts, as concurrent Snakemake jobs do.
"""

import os
import selectors
import subprocess
import sys
import time

import pytest

from vaepriors.core import gpu_slots


def _env(lock_dir, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", gpu_slots.ENV_WAIT)}
    env.update({gpu_slots.ENV_IDS: "0,1", gpu_slots.ENV_LOCK_DIR: str(lock_dir), **extra})
    return env


def _holder(env):
    """`python -m vaepriors.core.gpu_slots -1`: claims a slot, prints CUDA_VISIBLE_DEVICES=..., holds it until
    killed."""
    return subprocess.Popen([sys.executable, "-m", "vaepriors.core.gpu_slots", "-1"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _first_line(process, timeout, stream="stdout"):
    """The next line `process` writes to `stream`, or None if it writes none within `timeout` seconds."""
    pipe = getattr(process, stream)
    selector = selectors.DefaultSelector()
    selector.register(pipe, selectors.EVENT_READ)
    ready = selector.select(timeout)
    selector.close()
    return pipe.readline().strip() if ready else None


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_concurrent_processes_get_different_gpus(tmp_path, processes):
    env = _env(tmp_path)
    first = _holder(env)
    processes.append(first)
    assert _first_line(first, 60) == "CUDA_VISIBLE_DEVICES=0"
    second = _holder(env)  # starts while the first one holds GPU 0
    processes.append(second)
    assert _first_line(second, 60) == "CUDA_VISIBLE_DEVICES=1"
    assert first.poll() is None and second.poll() is None  # both still hold their slot

    # A third one finds both slots taken: it waits (by default without a time limit) ...
    third = _holder(env)
    processes.append(third)
    assert "waiting" in (_first_line(third, 60, "stderr") or "")
    assert _first_line(third, 2) is None, "the third process did not wait for a free GPU"
    # ... and takes GPU 0 as soon as its holder dies (killed: the kernel releases the lock in any case).
    first.kill()
    first.wait()
    assert _first_line(third, 60) == "CUDA_VISIBLE_DEVICES=0"


def test_time_limited_wait_shares_a_gpu(tmp_path, processes):
    env = _env(tmp_path)
    for expected in ("0", "1"):
        holder = _holder(env)
        processes.append(holder)
        assert _first_line(holder, 60) == f"CUDA_VISIBLE_DEVICES={expected}"
    start = time.monotonic()
    late = subprocess.run([sys.executable, "-m", "vaepriors.core.gpu_slots"], env={**env, gpu_slots.ENV_WAIT: "1"},
                          capture_output=True, text=True, timeout=60)
    assert late.returncode == 0, late.stderr
    assert late.stdout.strip() in ("CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=1")
    assert "sharing GPU" in late.stderr
    assert time.monotonic() - start >= 1


def test_in_process_claim_and_release(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        assert gpu_slots.claim_gpu(["3", "7"], lock_dir=tmp_path / "locks") == "3"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
        assert gpu_slots.claim_gpu(["3", "7"], lock_dir=tmp_path / "locks") == "3"  # a process holds one slot
        assert (tmp_path / "locks" / "gpu-3.lock").read_text().strip() == str(os.getpid())
    finally:
        gpu_slots.release_gpu()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    # Released: another claim (standing in for another process) gets the same GPU again.
    try:
        assert gpu_slots.claim_gpu(["3", "7"], lock_dir=tmp_path / "locks") == "3"
    finally:
        gpu_slots.release_gpu()


def test_scheduler_assigned_gpu_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # as SLURM sets it for a --gpus=1 job
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert gpu_slots.claim_gpu(["0", "1"], lock_dir=tmp_path) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert not list(tmp_path.iterdir())  # nothing locked


def test_no_gpu_leaves_cuda_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv(gpu_slots.ENV_IDS, "")
    assert gpu_slots.visible_gpus() == []
    assert gpu_slots.claim_gpu(lock_dir=tmp_path) is None
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


@pytest.mark.skipif(bool(gpu_slots.visible_gpus()), reason="this machine has a GPU")
def test_without_gpu_device_auto_is_cpu(tmp_path):
    """On a machine without a GPU, the CLI's `--device auto` runs on the CPU and sets no CUDA_VISIBLE_DEVICES."""
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", gpu_slots.ENV_IDS)}
    env[gpu_slots.ENV_LOCK_DIR] = str(tmp_path)
    code = ("import os; from vaepriors.core.command_line import _device; "
            "print(_device('auto'), os.environ.get('CUDA_VISIBLE_DEVICES'))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cpu", "None"]
