"""Counter-based random streams, one per run: a stacked run draws what it would draw alone, with one draw per stack.

Run r's stream is SplitMix64 (Steele, Lea & Flood 2014) seeded with the run's 64-bit seed s_r: its i-th word
(i = 1, 2, ...) is ``mix(s_r + i * gamma)``. A word depends only on the seed and its index, so a draw for the whole
stack is a handful of element-wise tensor operations on an (R, n) grid of (seed, index) pairs: no Python loop over
runs and no per-run kernel launch, the same numbers on every device, and the counter lives in a device tensor so a
captured CUDA graph advances it on replay. Every run of a stack draws the same shapes at the same time, so the runs
share one counter; a run's draws therefore do not depend on which runs share its process (tests compare a run in a
stack with the run alone).

Mapping words to numbers: uniforms take the top 24 bits (exact float32 values in [0, 1)); normals pair the two 24-bit
halves of one word by Box-Muller and use both its cosine and sine branch (draw i < ceil(n/2) is the cosine of word
i + 1, the rest the sines), so they are truncated at sqrt(2 ln 2^24) = 5.77 standard deviations (probability 8e-9
per draw); integers in [0, high) use the top 32 bits by Lemire's multiply-shift; a permutation sorts 63-bit words.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_UNIFORM_SCALE = 2.0 ** -24


def _signed(value: int) -> int:
    """A 64-bit word as the int64 whose two's complement bits it is (torch int64 arithmetic wraps)."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 words (``>>`` is arithmetic on signed tensors)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64's output function on int64 words (multiplication modulo 2^64)."""
    x = (x ^ _shift_right(x, 30)) * _signed(MIX1)
    x = (x ^ _shift_right(x, 27)) * _signed(MIX2)
    return x ^ _shift_right(x, 31)


class RunRandomness:
    """R counter-based streams on ``device``; every draw returns a tensor with a leading run axis (R, ...)."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.seeds = torch.tensor([_signed(int(seed)) for seed in seeds], dtype=torch.int64, device=self.device)
        self.counter = torch.zeros((), dtype=torch.int64, device=self.device)

    def __len__(self) -> int:
        return self.seeds.numel()

    def words(self, n: int) -> torch.Tensor:
        """The next n 64-bit words of every stream, (R, n) int64; advances the shared counter in place."""
        index = self.counter + torch.arange(1, n + 1, dtype=torch.int64, device=self.device)
        self.counter.add_(n)
        return mix64(self.seeds[:, None] + index[None, :] * _signed(GAMMA))

    def uniform(self, *shape: int) -> torch.Tensor:
        """U[0, 1) in float32, (R, *shape)."""
        words = self.words(math.prod(shape))
        return (_shift_right(words, 40).float() * _UNIFORM_SCALE).view(len(self), *shape)

    def normal(self, *shape: int) -> torch.Tensor:
        """N(0, 1) in float32 by Box-Muller, (R, *shape)."""
        n = math.prod(shape)
        words = self.words((n + 1) // 2)
        u1 = (_shift_right(words, 40) + 1).float() * _UNIFORM_SCALE  # (0, 1]: log is finite
        angle = (_shift_right(words, 8) & 0xFFFFFF).float() * (2.0 * math.pi * _UNIFORM_SCALE)
        radius = torch.sqrt(-2.0 * torch.log(u1))
        return torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)[:, :n].reshape(
            len(self), *shape)

    def randint(self, high: int, *shape: int) -> torch.Tensor:
        """Integers uniform in [0, high), int64, (R, *shape); exact for high < 2^31."""
        if not 0 < high < 2 ** 31:
            raise ValueError(f"randint needs 0 < high < 2^31, got {high}")
        words = self.words(math.prod(shape))
        return ((_shift_right(words, 32) * high) >> 32).view(len(self), *shape)

    def permutation(self, n: int) -> torch.Tensor:
        """A uniformly random permutation of range(n) per run, (R, n) int64 (argsort of 63-bit words)."""
        return torch.argsort(_shift_right(self.words(n), 1), dim=1, stable=True)

    def state_dict(self) -> dict:
        return {"seeds": self.seeds.cpu(), "counter": int(self.counter)}

    def load_state_dict(self, state: dict) -> None:
        if not torch.equal(state["seeds"].to(self.seeds.device), self.seeds):
            raise ValueError("the saved random streams belong to other seeds than this run's")
        self.counter.fill_(int(state["counter"]))
