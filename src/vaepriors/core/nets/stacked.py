"""Layers whose parameters carry a leading run axis, so R independent models train as one.

A forward pass is one batched matmul per layer (``torch.baddbmm``); each run only ever touches its own slice, and
Adam is element-wise, so training the stack on the sum of per-run losses is exactly R separate trainings.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class StackedLinear(nn.Module):
    """R affine maps: ``(R, N, fan_in) -> (R, N, fan_out)``."""

    def __init__(self, runs: int, fan_in: int, fan_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(runs, fan_in, fan_out))
        self.bias = nn.Parameter(torch.empty(runs, 1, fan_out))

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        """PyTorch's default ``nn.Linear`` init (U(+-1/sqrt(fan_in)) for weight and bias), drawn per run."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        with torch.no_grad():
            for run, generator in enumerate(generators):
                self.weight[run].uniform_(-bound, bound, generator=generator)
                self.bias[run].uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class StackedMLP(nn.Module):
    """``fan_in -> hidden x hidden_layers -> fan_out`` with ReLU, no output activation."""

    def __init__(self, runs: int, fan_in: int, fan_out: int, hidden: int, hidden_layers: int):
        super().__init__()
        widths = [fan_in] + [hidden] * hidden_layers + [fan_out]
        self.layers = nn.ModuleList(StackedLinear(runs, a, b) for a, b in zip(widths[:-1], widths[1:]))

    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        for layer in self.layers:
            layer.reset_parameters(generators)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)
