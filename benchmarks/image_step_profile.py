"""Where the time of one image S-IntroVAE adversarial step goes: ``torch.profiler`` tables of the paper's
Fashion-MNIST configuration (channels (64, 128), z 32, batch 128, MoG(10) + LC + IP, r 10, MC 100), sorted by host
and by device time, and the kernel launches and synchronisations per step.

On an H100 (torch 2.11) it showed a host-bound step: ~2,100 kernel launches and ~2.4 synchronisations per step,
~25 ms of GPU work against ~80 ms of CPU time under the profiler (README, "Image step speed").

Usage: python benchmarks/image_step_profile.py [--device auto] [--steps 5] [--rows 25]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from vaepriors.core.training.players import soft_intro_step
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.trainer import ImageTrainer

LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    config = ImageTrainConfig(dataset="fmnist", configuration="mog10_lc_ip", prior="vamp", components=10,
                              learnable_contributions=True, intro_prior=True, r_entropy=10.0, epochs=2,
                              warmup_epochs=1, mog_warmup_epochs=1, measure_epochs=())
    trainer = ImageTrainer(config, torch.randint(0, 256, (512, 1, 28, 28), dtype=torch.uint8), device)
    trainer.begin_interval(0)  # VAMP -> MoG
    trainer.begin_interval(1)  # clip fit: the adversarial phase of an IP run
    x = trainer.images[:config.batch_size].float().div(255).unsqueeze(0)

    def step():
        soft_intro_step(trainer.model, trainer.objective, x, trainer.rnd, trainer.optimizers, True, True)

    for _ in range(3):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=45))
    if device.type == "cuda":
        print(events.table(sort_by="self_cuda_time_total", row_limit=12, max_name_column_width=45))
    launches = sum(e.count for e in events if e.key in LAUNCHES) / args.steps
    syncs = sum(e.count for e in events if "Synchronize" in e.key) / args.steps
    print(f"per step on {device}: {launches:.0f} kernel launches, {syncs:.1f} synchronisations")


if __name__ == "__main__":
    main()
