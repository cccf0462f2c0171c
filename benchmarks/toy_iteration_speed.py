"""Speed of one 2D S-IntroVAE adversarial iteration (SG prior, batch 512, MLP 4x256), side by side in one process.

Rows:
- ``baseline``: the work of the official S-IntroVAE 2D loop restated in plain PyTorch (reference
  official-soft-introvae-code.md, "One S-IntroVAE iteration"): nn.Linear MLPs, a decoder that runs its network twice
  per call, requires_grad toggling and full backward passes, closed-form KL. It anchors the ratios (~68 ms/iteration
  on a 2-core CPU for the original code).
- ``ours R=1``: this package's vectorised trainer with one run, closed-form and Monte-Carlo (100 samples) KL.
- ``ours R=8``, ``ours R=64``: R runs in one process; throughput in run-iterations per second is compared with R
  separate R=1 processes on the same cores (= the R=1 throughput).

Usage: python benchmarks/toy_iteration_speed.py [--threads 2] [--iterations 5] [--rounds 5] [--runs 1 8 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig
from vaepriors.studies.toy2d.trainer import ToyTrainer

BATCH, BETA_REC, BETA_KL, BETA_NEG, SCALE = 512, 0.2, 0.3, 0.9, 0.5


def _mlp(fan_in: int, fan_out: int) -> nn.Sequential:
    layers, width = [], fan_in
    for _ in range(4):
        layers += [nn.Linear(width, 256), nn.ReLU()]
        width = 256
    return nn.Sequential(*layers, nn.Linear(width, fan_out))


class _TwiceDecoder(nn.Module):
    """The official decoder computes its network once, discards it, and computes it again."""

    def __init__(self):
        super().__init__()
        self.net = _mlp(2, 2)

    def forward(self, z):
        self.net(z)
        return self.net(z)


def _kl(mu, logvar):
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def _sse(x, y):
    return (x - y).pow(2).sum(1)


def baseline_step(enc, dec, opt_e, opt_d, x):
    """One encoder step and one decoder step with the official loop's passes (closed-form KL, s = 0.5)."""
    def model(inp):
        mu, logvar = enc(inp).chunk(2, 1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return mu, logvar, z, dec(z)

    noise = torch.randn(BATCH, 2)
    for p in enc.parameters():
        p.requires_grad_(True)
    for p in dec.parameters():
        p.requires_grad_(False)
    fake = dec(noise)
    mu, logvar, z, rec = model(x)
    dec(mu)  # the official loop also decodes the posterior mean for logging
    mu_f, lv_f, _, rec_f = model(fake.detach())
    mu_r, lv_r, _, rec_r = model(rec.detach())
    exp_f = (-2 * SCALE * (BETA_REC * _sse(fake, rec_f) + BETA_NEG * _kl(mu_f, lv_f))).exp().mean()
    exp_r = (-2 * SCALE * (BETA_REC * _sse(rec, rec_r) + BETA_NEG * _kl(mu_r, lv_r))).exp().mean()
    loss_e = SCALE * (BETA_KL * _kl(mu, logvar).mean() + BETA_REC * _sse(x, rec).mean()) + 0.25 * (exp_f + exp_r)
    opt_e.zero_grad()
    loss_e.backward()
    opt_e.step()
    for p in enc.parameters():
        p.requires_grad_(False)
    for p in dec.parameters():
        p.requires_grad_(True)
    fake, rec = dec(noise), dec(z.detach())
    mu_r, lv_r = enc(rec).chunk(2, 1)
    mu_f, lv_f = enc(fake).chunk(2, 1)
    z_r = mu_r + torch.randn_like(mu_r) * (0.5 * lv_r).exp()
    z_f = mu_f + torch.randn_like(mu_f) * (0.5 * lv_f).exp()
    rec_rec, rec_fake = dec(z_r.detach()), dec(z_f.detach())
    loss_d = SCALE * (BETA_REC * _sse(x, rec).mean() + 0.5 * BETA_KL * (_kl(mu_f, lv_f) + _kl(mu_r, lv_r)).mean()
                      + 1e-8 * 0.5 * BETA_REC * (_sse(rec.detach(), rec_rec) + _sse(fake.detach(), rec_fake)).mean())
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()


def _timed(step, iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    return (time.perf_counter() - start) / iterations


def baseline_stepper():
    torch.manual_seed(0)
    enc, dec = _mlp(2, 4), _TwiceDecoder()
    opt_e, opt_d = torch.optim.Adam(enc.parameters(), 2e-4), torch.optim.Adam(dec.parameters(), 2e-4)
    return lambda: baseline_step(enc, dec, opt_e, opt_d, torch.randn(BATCH, 2))


def ours_stepper(runs: int, kl: str):
    specs = tuple(RunSpec(seed, BETA_REC, BETA_KL, BETA_NEG) for seed in range(runs))
    trainer = ToyTrainer(ToyTrainConfig(dataset="8Gaussian", configuration="benchmark", kl=kl, warmup=1,
                                        mog_warmup=0, batch_size=BATCH, runs=specs))
    it = trainer.config.adversarial_start
    return lambda: trainer.train_unit(it)


def measure(steppers: dict, iterations: int, rounds: int) -> dict[str, float]:
    """Median seconds per iteration over rounds; every round times every setting, so drifting machine load
    hits all settings alike."""
    for step in steppers.values():
        step()
    samples = {name: [] for name in steppers}
    for _ in range(rounds):
        for name, step in steppers.items():
            samples[name].append(_timed(step, iterations))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per setting and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steppers = {("baseline", 1, ""): baseline_stepper()}
    for kl in ("closed", "mc"):
        for runs in args.runs:
            steppers[("ours", runs, kl)] = ours_stepper(runs, kl)
    seconds = measure(steppers, args.iterations, args.rounds)
    base = seconds[("baseline", 1, "")]
    print(f"threads={args.threads}  iterations per round={args.iterations}  rounds={args.rounds} (medians)")
    print(f"{'setting':<28}{'ms/iteration':>14}{'run-it/s':>12}{'vs baseline':>14}{'vs R x R=1':>12}")
    for (kind, runs, kl), value in seconds.items():
        name = "baseline (official loop)" if kind == "baseline" else f"ours R={runs} KL={kl}"
        throughput = runs / value
        single = seconds.get(("ours", 1, kl))
        vs_separate = f"{throughput * single:.2f}" if kind == "ours" and single else ""
        print(f"{name:<28}{value * 1e3:>14.1f}{throughput:>12.1f}{throughput * base:>14.2f}{vs_separate:>12}")


if __name__ == "__main__":
    main()
