"""One GPU per process on a machine with several GPUs and no scheduler that hands them out.

Snakemake only *counts* GPUs (`snakemake --resources gpu=2` runs at most two `gpu=1` jobs at once) and never sets
CUDA_VISIBLE_DEVICES, so every job would use GPU 0. :func:`claim_gpu` gives each process a GPU of its own: with N
GPUs there are N slots, one lock file each, and a process takes the first free slot with an exclusive non-blocking
``flock``, holds it for its lifetime (the kernel releases it when the process ends, however it ends), and sets
CUDA_VISIBLE_DEVICES to that GPU before CUDA initialises.

- CUDA_VISIBLE_DEVICES already set (a SLURM job with ``--gpus``, or the user): left alone, nothing is locked.
- No GPU: nothing is set, and ``--device auto`` runs on the CPU.
- All slots taken (more GPU jobs than GPUs, e.g. `snakemake --cores 8` without `--resources gpu=N`, or other
  programs using the slots): the process waits until a slot frees up, polling every ``poll`` seconds. With a time
  limit (``wait`` / VAEPRIORS_GPU_WAIT, in seconds) it shares a GPU after that time instead, with a warning.

Environment (all optional):
    VAEPRIORS_GPU_IDS        comma-separated GPU ids to hand out, e.g. "2,3" (only GPUs 2 and 3) or "" (none: CPU).
                             Default: 0..N-1 for the N GPUs the NVIDIA driver lists. For MIG instances give their UUIDs.
    VAEPRIORS_GPU_LOCK_DIR   directory of the lock files; default <system temp dir>/vaepriors-gpu-slots. Every process
                             that shares the GPUs must use the same directory (it must be on the local machine).
    VAEPRIORS_GPU_WAIT       seconds to wait for a free slot before sharing a GPU; default: wait as long as it takes.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV_IDS = "VAEPRIORS_GPU_IDS"
ENV_LOCK_DIR = "VAEPRIORS_GPU_LOCK_DIR"
ENV_WAIT = "VAEPRIORS_GPU_WAIT"

log = logging.getLogger(__name__)

# The slot this process holds: (GPU id, open lock file descriptor). The descriptor stays open for the life of the
# process; closing it (or the process ending) releases the slot.
_held: tuple[str, int] | None = None


def visible_gpus() -> list[str]:
    """The GPU ids to hand out, without initialising CUDA (CUDA_VISIBLE_DEVICES must be set before that).

    VAEPRIORS_GPU_IDS when set; otherwise "0".."N-1" for the N GPUs of the NVIDIA driver (/proc/driver/nvidia/gpus,
    else `nvidia-smi`); an empty list when there is none.
    """
    if ENV_IDS in os.environ:
        return [gpu.strip() for gpu in os.environ[ENV_IDS].split(",") if gpu.strip()]
    proc = Path("/proc/driver/nvidia/gpus")
    if proc.is_dir():
        return [str(i) for i in range(sum(1 for _ in proc.iterdir()))]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [line.strip() for line in out.splitlines() if line.strip()]
    return []


def default_lock_dir() -> Path:
    return Path(os.environ.get(ENV_LOCK_DIR) or Path(tempfile.gettempdir()) / "vaepriors-gpu-slots")


def _lock_file(lock_dir: Path, gpu: str) -> int:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in gpu)
    fd = os.open(lock_dir / f"gpu-{safe}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:  # let other users' jobs lock the same file (umask may have removed the write bits)
        os.fchmod(fd, 0o666)
    except OSError:
        pass
    return fd


def _try_slots(gpus: list[str], lock_dir: Path) -> tuple[str, int] | None:
    """Lock the first free slot without blocking: (GPU id, descriptor), or None when all are taken."""
    for gpu in gpus:
        fd = _lock_file(lock_dir, gpu)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return gpu, fd
    return None


def _cuda_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def claim_gpu(gpu_ids: list[str] | None = None, lock_dir: str | os.PathLike | None = None,
              wait: float | None = None, poll: float = 0.5) -> str | None:
    """Give this process one GPU of its own: set CUDA_VISIBLE_DEVICES to a free GPU and hold its slot.

    Call it before anything initialises CUDA. Returns the GPU id it set, or None when it set nothing
    (CUDA_VISIBLE_DEVICES was already set, or there is no GPU). A second call returns the slot already held.

    gpu_ids: the GPUs to choose from (default: :func:`visible_gpus`). lock_dir: the lock files' directory (default:
    VAEPRIORS_GPU_LOCK_DIR or <temp dir>/vaepriors-gpu-slots). wait: seconds to wait for a free slot before sharing a
    GPU (default: VAEPRIORS_GPU_WAIT, else no limit). poll: seconds between tries while waiting.
    """
    global _held
    if _held is not None:
        return _held[0]
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        job = os.environ.get("SLURM_JOB_ID")
        log.info("CUDA_VISIBLE_DEVICES=%s set before this process started (%s); no local GPU slot taken",
                 os.environ["CUDA_VISIBLE_DEVICES"], f"SLURM job {job}" if job else "not by SLURM")
        return None
    gpus = list(gpu_ids) if gpu_ids is not None else visible_gpus()
    if not gpus:
        log.info("no GPU to hand out (%s, NVIDIA driver): CUDA_VISIBLE_DEVICES left unset", ENV_IDS)
        return None
    if wait is None:
        wait = float(os.environ.get(ENV_WAIT) or math.inf)
    directory = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        try:  # shared by all users of the machine, like /tmp
            directory.chmod(0o1777)
        except OSError:
            pass

    start = time.monotonic()
    held = _try_slots(gpus, directory)
    if held is None:
        log.info("all %d GPU slots in %s are taken: waiting for one (%s)", len(gpus), directory,
                 "no time limit" if math.isinf(wait) else f"at most {wait:g} s, then sharing a GPU")
    while held is None and time.monotonic() - start < wait:
        time.sleep(min(poll, max(0.0, wait - (time.monotonic() - start))))
        held = _try_slots(gpus, directory)
    if held is None:
        gpu = gpus[os.getpid() % len(gpus)]
        log.warning("no free GPU slot after %.0f s: sharing GPU %s (CUDA_VISIBLE_DEVICES=%s)",
                    time.monotonic() - start, gpu, gpu)
    else:
        _held = held
        gpu = held[0]
        log.info("GPU slot %s/gpu-%s.lock taken after %.1f s: CUDA_VISIBLE_DEVICES=%s", directory, gpu,
                 time.monotonic() - start, gpu)
    if _cuda_initialised():
        log.warning("CUDA was initialised before the GPU slot was taken: CUDA_VISIBLE_DEVICES=%s has no effect", gpu)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    return gpu


def release_gpu() -> None:
    """Give the slot back before the process ends (tests; the process ending releases it anyway)."""
    global _held
    if _held is not None:
        os.close(_held[1])
        _held = None


def main() -> None:
    """`python -m vaepriors.core.gpu_slots [HOLD_SECONDS]`: claim a slot, print CUDA_VISIBLE_DEVICES, hold it
    (tests)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    claim_gpu()
    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')}", flush=True)
    hold = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    if hold < 0:  # hold until stdin closes
        sys.stdin.read()
    else:
        time.sleep(hold)


if __name__ == "__main__":
    main()
