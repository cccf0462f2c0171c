"""One random stream per run, so a run's draws do not depend on which other runs share its process."""

from __future__ import annotations

from typing import Sequence

import torch


class RunRandomness:
    """R ``torch.Generator`` objects; every draw returns a tensor with a leading run axis."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.generators = [torch.Generator(device=self.device).manual_seed(int(seed)) for seed in seeds]

    def __len__(self) -> int:
        return len(self.generators)

    def normal(self, *shape: int) -> torch.Tensor:
        return torch.stack([torch.randn(shape, generator=g, device=self.device) for g in self.generators])

    def uniform(self, *shape: int) -> torch.Tensor:
        return torch.stack([torch.rand(shape, generator=g, device=self.device) for g in self.generators])

    def per_run(self, draw) -> torch.Tensor:
        """Stack ``draw(generator)`` over runs (for samplers that take a generator)."""
        return torch.stack([draw(g) for g in self.generators])
