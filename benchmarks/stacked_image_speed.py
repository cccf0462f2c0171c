"""Forward + backward time of R image runs stacked in one network against R separate single-run networks, measured
side by side in interleaved rounds in one process (the question: does stacking R runs pay on this machine?).

One iteration of R runs is the encoder, the reparameterised decoder pass and the backward of a reconstruction + KL
loss, either once through ``StackedConv*`` of R runs (grouped convolutions, per-run BatchNorm, see core/nets/conv.py) or
R times through a stack of one (the single-run path). A ratio below 1 means the stack is faster; the target on the
CPU is a stacked R = 4 at >= 0.9x the throughput of 4 separate runs (time ratio <= 1.11). The default is a reduced
Fashion-MNIST network that runs in about a minute on 2 cores; ``--paper`` uses the paper's configuration
(channels (64, 128), z 32, 28x28x1, batch 128). ``--clock cpu`` times the process's CPU seconds instead of wall
seconds: on a machine shared with other jobs, wall time mostly measures their load (use it with ``--threads 1``).
``--device cuda`` measures a GPU (wall clock, synchronised), where one grouped kernel per layer should pay most.

Measured on the shared 2-core CPU (1 thread, CPU clock; stacked time / time of R separate runs): reduced network
R = 4 1.29x fp32, 1.16x channels_last; R = 12 1.33x, 1.29x; paper network R = 4 1.59x (1.49x in a second
measurement), 1.29x channels_last; channels (4, 8), batch 8, R = 2 0.62x. Oversized stacks lose on this CPU: the
grouped convolutions' backward and the R-fold larger activations (cache) cost more than the saved per-layer
overheads; R per-run convolutions on the channel blocks instead of one grouped one measured 1.06-1.33x, not enough to
keep a second code path. Channels-last is the faster format on the CPU either way.

Usage: python benchmarks/stacked_image_speed.py [--runs 1 4] [--paper] [--options fp32 channels_last]
       [--iterations 3] [--rounds 3] [--threads 2] [--clock wall] [--device cpu]
       [--channels 16 32 --z-dim 16 --batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vaepriors.core.nets.conv import ConvDecoder, ConvEncoder, StackedConvDecoder, StackedConvEncoder

OPTIONS = {"fp32": False, "channels_last": True}
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
SIZES = {"reduced": ((16, 32), 16, 32), "paper": ((64, 128), 32, 128)}  # channels, z, batch; 28x28x1 images
Networks = tuple[StackedConvEncoder, StackedConvDecoder]


def _stack(runs: int, args: argparse.Namespace, channels_last: bool, device: torch.device) -> Networks:
    """R runs, each a reference network under its own seed (as the trainer builds one run)."""
    encoders, decoders = [], []
    for run in range(runs):
        torch.manual_seed(run)
        encoders.append(ConvEncoder(1, args.channels, 28, args.z_dim))
        decoders.append(ConvDecoder(1, args.channels, 28, args.z_dim))
    networks = (StackedConvEncoder.from_runs(encoders, channels_last=channels_last).to(device),
                StackedConvDecoder.from_runs(decoders, channels_last=channels_last).to(device))
    if channels_last:
        for network in networks:
            network.to(memory_format=torch.channels_last)
    return networks


def _step(networks: Networks, x: torch.Tensor) -> None:
    """Forward and backward of a VAE loss (reconstruction + KL), summed over runs."""
    encoder, decoder = networks
    mu, logvar = encoder(x).chunk(2, dim=-1)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    loss = (decoder(z) - x).square().sum() + 0.5 * (mu.square() + logvar.exp() - logvar).sum()
    encoder.zero_grad(set_to_none=True), decoder.zero_grad(set_to_none=True)
    loss.backward()


def _seconds(models: list[Networks], x: torch.Tensor, iterations: int, clock) -> float:
    """Seconds per iteration of every model in ``models`` once (each on its slice of the run axis of ``x``)."""
    slices = x.chunk(len(models))
    for networks, part in zip(models, slices):  # warm-up (allocator, oneDNN / cuDNN primitives)
        _step(networks, part)
    synchronize = torch.cuda.synchronize if x.is_cuda else lambda: None
    synchronize()
    start = clock()
    for _ in range(iterations):
        for networks, part in zip(models, slices):
            _step(networks, part)
    synchronize()
    return (clock() - start) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 4], help="e.g. 1 4 12")
    parser.add_argument("--paper", action="store_true", help="channels (64, 128), z 32, batch 128")
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels", type=int, nargs="+")
    parser.add_argument("--z-dim", type=int)
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args()
    channels, z_dim, batch = SIZES["paper" if args.paper else "reduced"]
    args.channels, args.z_dim = args.channels or channels, args.z_dim or z_dim
    args.batch_size = args.batch_size or batch
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"channels {tuple(args.channels)} z {args.z_dim} batch {args.batch_size} 28x28x1 on {device}, {args.threads} "
          f"threads, forward + backward per iteration of R runs, {args.clock} clock, median of {args.rounds} rounds")
    print(f"{'R':>3} {'option':<15}{'stacked ms':>12}{'separate ms':>13}{'ms per run':>12}  stacked / separate time")
    for runs in args.runs:
        x = torch.rand(runs, args.batch_size, 1, 28, 28, device=device)
        for option in args.options:
            candidates = {"stacked": [_stack(runs, args, OPTIONS[option], device)],
                          "separate": [_stack(1, args, OPTIONS[option], device) for _ in range(runs)]}
            seconds: dict[str, list[float]] = {name: [] for name in candidates}
            for _ in range(args.rounds):  # interleaved, so drifting machine load hits both alike
                for name, models in candidates.items():
                    seconds[name].append(_seconds(models, x, args.iterations, CLOCKS[args.clock]))
            stacked, separate = (statistics.median(seconds[name]) for name in ("stacked", "separate"))
            print(f"{runs:>3} {option:<15}{stacked * 1e3:>12.1f}{separate * 1e3:>13.1f}{stacked * 1e3 / runs:>12.1f}"
                  f"  stacked R={runs}: {stacked / separate:.2f}x the time of {runs} separate runs")


if __name__ == "__main__":
    main()
