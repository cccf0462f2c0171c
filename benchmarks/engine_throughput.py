"""Per-run throughput of stacked training on the engine, side by side in one process (issue: one training engine).

For every setting: milliseconds per stacked step, run-iterations per second (R / step time), the ratio against R
separate single-run steps in the same mode (``vs R x R=1``: > 1 means the stack is faster than its runs one by
one), the ratio against R separate eager fp32 single-run steps (``vs 1-run eager``: what one run per process, the
layout before the engine, would take), and the number of ATen operator calls per eager step (a device-independent
proxy for kernel launches: on a GPU each is at least one launch; a captured step is one graph launch). On CUDA every
setting also runs captured (``--capture``, ``core/training/capture.py``). Settings:

- 2D (S-IntroVAE, MoG(K) + LC + IP adversarial step, batch 512, MLP 4x256, MC 100): R in --toy-runs (1, 64, 256);
- images (S-IntroVAE adversarial step, MoG(10) + LC + IP, MC 100, on the paper's networks of --image-datasets, see
  ``paper_networks.py``, unless --small): R in --image-runs, fp32 and bf16. The last column projects one stack of
  R runs at paper scale: 220 epochs of the whole training set at this step time (the 20 warm-up epochs cost less,
  so it errs long).

Usage: python benchmarks/engine_throughput.py [--device cpu|cuda] [--threads 2] [--toy-runs 1 64 256]
       [--image-runs 1 4 12] [--image-datasets fmnist cifar10] [--small] [--rounds 3] [--iterations 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from vaepriors.core.training.players import soft_intro_step
from vaepriors.studies.images.config import ImageStackConfig, ImageTrainConfig
from vaepriors.studies.images.trainer import ImageTrainer
from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig
from vaepriors.studies.toy2d.trainer import ToyTrainer

from paper_networks import PAPER  # benchmarks/paper_networks.py

PAPER_EPOCHS = 220
WARMUP_CALLS = 5  # StepGraphs' 3 eager warm-up steps, the capture, one replay


class OperatorCount(TorchDispatchMode):
    """Counts ATen operator calls (one per dispatched kernel)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def toy_stepper(runs: int, components: int, device: torch.device, capture: bool) -> Callable[[], None]:
    specs = tuple(RunSpec(seed, 0.2, 0.3, 0.9) for seed in range(runs))
    config = ToyTrainConfig(dataset="8Gaussian", configuration="benchmark", prior="vamp", components=components,
                            learnable_contributions=True, intro_prior=True, convert_to_mog=True, warmup=2,
                            mog_warmup=1, iterations=10, runs=specs)
    trainer = ToyTrainer(config, device, capture)
    for unit in range(config.adversarial_start + 1):  # through the VAMP -> MoG conversion and the clip fit
        trainer.train_unit(unit)
    return lambda: trainer.train_unit(config.adversarial_start + 1)  # a unit with no phase change: graphs stay


def image_stepper(dataset: str, runs: int, small: bool, bf16: bool, device: torch.device,
                  capture: bool) -> Callable[[], None]:
    """An adversarial step of a stack of R MoG(10)+LC+IP image runs (seeds 0..R-1), after the MoG conversion."""
    shape, channels, z_dim, batch, _ = PAPER[dataset]
    if small:
        channels, z_dim, batch = (8, 16, 32)[:len(channels)], 8, 32
    config = ImageTrainConfig(dataset=dataset, configuration="benchmark", prior="vamp", components=10,
                              learnable_contributions=True, intro_prior=True, channels=channels, z_dim=z_dim,
                              batch_size=batch, epochs=3, warmup_epochs=1, mog_warmup_epochs=1, measure_epochs=(),
                              bf16=bf16)
    images = torch.randint(0, 256, (batch * 2, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trainer = ImageTrainer(ImageStackConfig.product(config, range(runs), [0.0]), images, device, capture)
    trainer.begin_interval(config.warmup_epochs)
    x = trainer.images[:batch].float().div(255).expand(runs, -1, -1, -1, -1).contiguous()
    return lambda: trainer.graphs(True, lambda batch: soft_intro_step(
        trainer.model, trainer.objective, batch, trainer.rnd, trainer.optimizers, True, config.intro_prior), x)


def measure(steppers: dict, iterations: int, rounds: int, device: torch.device) -> dict:
    """Median seconds per step over rounds (every round times every setting, so drifting load hits all alike)."""
    samples: dict = {name: [] for name in steppers}
    for step in steppers.values():
        for _ in range(WARMUP_CALLS):  # a captured setting warms up eagerly, then captures its graph
            step()
    for _ in range(rounds):
        for name, step in steppers.items():
            _synchronise(device)
            start = time.perf_counter()
            for _ in range(iterations):
                step()
            _synchronise(device)
            samples[name].append((time.perf_counter() - start) / iterations)
    return {name: statistics.median(values) for name, values in samples.items()}


def operator_calls(step: Callable[[], None]) -> int:
    with OperatorCount() as counter:
        step()
    return counter.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--toy-runs", type=int, nargs="*", default=[1, 64, 256])
    parser.add_argument("--toy-components", type=int, default=8)
    parser.add_argument("--image-runs", type=int, nargs="*", default=[1, 4, 12])
    parser.add_argument("--image-datasets", nargs="*", default=["fmnist"], choices=sorted(PAPER))
    parser.add_argument("--small", action="store_true", help="tiny image networks (a quick CPU check)")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    modes = ("eager", "captured") if device.type == "cuda" else ("eager",)
    steppers: dict = {}
    for mode in modes:
        for runs in args.toy_runs:
            steppers[("2D", runs, "fp32", mode)] = toy_stepper(runs, args.toy_components, device, mode == "captured")
        for dataset in args.image_datasets:
            for runs in args.image_runs:
                for precision in ("fp32", "bf16"):
                    steppers[(dataset, runs, precision, mode)] = image_stepper(
                        dataset, runs, args.small, precision == "bf16", device, mode == "captured")
    calls = {name: operator_calls(step) for name, step in steppers.items() if name[3] == "eager"}
    seconds = measure(steppers, args.iterations, args.rounds, device)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device={device} ({name}) torch {torch.__version__} threads={args.threads} "
          f"iterations/round={args.iterations} rounds={args.rounds} (medians)")
    print(f"{'study':<8}{'R':>5}{'precision':>11}{'mode':>10}{'ms/step':>10}{'run-it/s':>10}{'vs R x R=1':>12}"
          f"{'vs eager':>10}{'vs 1-run eager':>16}{'ATen ops':>10}{'stack h':>9}")
    for (study, runs, precision, mode), value in seconds.items():
        single = seconds.get((study, 1, precision, mode))
        old = seconds.get((study, 1, "fp32", "eager"))
        eager = seconds[(study, runs, precision, "eager")]
        ratio = f"{single * runs / value:.2f}" if single else "n/a"
        versus_old = f"{old * runs / value:.2f}" if old else "n/a"
        ops = calls.get((study, runs, precision, mode), "")
        hours = ""
        if study in PAPER:
            _, _, _, batch, train_size = PAPER[study]
            hours = f"{value * PAPER_EPOCHS * -(-train_size // batch) / 3600:.1f}"
        print(f"{study:<8}{runs:>5}{precision:>11}{mode:>10}{value * 1e3:>10.1f}{runs / value:>10.1f}{ratio:>12}"
              f"{eager / value:>10.2f}{versus_old:>16}{ops:>10}{hours:>9}")


if __name__ == "__main__":
    main()
