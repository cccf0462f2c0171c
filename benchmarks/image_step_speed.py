"""Iterations per second of the image S-IntroVAE adversarial step (encoder step + decoder/prior step) for each speed
option against plain float32, measured side by side in interleaved rounds in one process.

Options: ``fp32`` (baseline), ``bf16`` (autocast of the networks; losses and KL stay float32), ``channels_last``,
``bf16+channels_last``. The dataset lives on the device as in training (uint8, converted per batch). The default
configuration is the paper's Fashion-MNIST one (channels (64, 128), z 32, batch 128, MoG(10) + LC + IP, r 10,
MC 100); ``--dataset cifar10`` uses (64, 128, 256), z 128, batch 32. The last line projects a full run
(220 epochs of 60k/50k images) from the fastest option.

Usage: python benchmarks/image_step_speed.py [--dataset fmnist] [--device auto] [--iterations 20] [--rounds 3]
       [--threads 2] [--channels 64 128 --z-dim 32 --batch-size 128 --mc-samples 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vaepriors.core.training.players import soft_intro_step
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.trainer import ImageTrainer

from paper_networks import PAPER  # benchmarks/paper_networks.py

OPTIONS = {"fp32": {}, "bf16": {"bf16": True}, "channels_last": {"channels_last": True},
           "bf16+channels_last": {"bf16": True, "channels_last": True}}


def _trainer(args, shape, device, **option) -> ImageTrainer:
    config = ImageTrainConfig(dataset=args.dataset, configuration="mog10_lc_ip", prior="vamp", components=10,
                              learnable_contributions=True, intro_prior=True, r_entropy=10.0,
                              channels=tuple(args.channels), z_dim=args.z_dim, batch_size=args.batch_size,
                              mc_samples=args.mc_samples, epochs=2, warmup_epochs=1, mog_warmup_epochs=1,
                              measure_epochs=(), **option)
    images = torch.randint(0, 256, (max(args.batch_size * 4, 512), *shape), dtype=torch.uint8)
    trainer = ImageTrainer(config, images, device)
    trainer.begin_interval(0)  # VAMP -> MoG
    trainer.begin_interval(1)  # clip fit: the adversarial phase of an IP run
    return trainer


def _time(trainer: ImageTrainer, iterations: int, device: torch.device) -> float:
    """Seconds per adversarial step over ``iterations`` steps (after synchronising the device)."""
    x = trainer.images[:trainer.config.base.batch_size].float().div(255).unsqueeze(0)
    step = lambda: soft_intro_step(trainer.model, trainer.objective, x, trainer.rnd, trainer.optimizers,  # noqa: E731
                                   adversarial=True, intro_prior=True)
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(PAPER), default="fmnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels", type=int, nargs="+")
    parser.add_argument("--z-dim", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--mc-samples", type=int, default=100)
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    args = parser.parse_args()
    shape, channels, z_dim, batch, train_size = PAPER[args.dataset]
    args.channels, args.z_dim = args.channels or list(channels), args.z_dim or z_dim
    args.batch_size = args.batch_size or batch
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    trainers = {name: _trainer(args, shape, device, **OPTIONS[name]) for name in args.options}
    seconds = {name: [] for name in trainers}
    for _ in range(args.rounds):  # interleaved, so drifting machine load hits every option alike
        for name, trainer in trainers.items():
            seconds[name].append(_time(trainer, args.iterations, device))
    base = statistics.median(seconds["fp32"]) if "fp32" in seconds else None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{args.dataset} channels {tuple(args.channels)} z {args.z_dim} batch {args.batch_size} "
          f"MC {args.mc_samples} on {device} ({name})")
    print(f"{'option':<22}{'it/s':>10}{'ms/it':>10}{'speed-up vs fp32':>18}")
    for name, values in seconds.items():
        median = statistics.median(values)
        ratio = f"{base / median:.2f}x" if base else "-"
        print(f"{name:<22}{1 / median:>10.2f}{median * 1e3:>10.1f}{ratio:>18}")
    fastest = min(seconds, key=lambda name: statistics.median(seconds[name]))
    steps = 200 * -(-train_size // args.batch_size)  # adversarial epochs; the 20 warm-up epochs are ~4x cheaper
    minutes = steps * statistics.median(seconds[fastest]) / 60
    print(f"projected 200 adversarial epochs of {train_size} images with {fastest}: {minutes:.1f} min")


if __name__ == "__main__":
    main()
