"""The four 2D densities of the benchmark, exactly as the authors' code draws them (reference §1).

Every training iteration draws a fresh batch, so there is no fixed training set. A sampler draws one batch for each
of R stacked runs at once from their counter-based streams (``core.randomness.RunRandomness``), so a run's data
stream depends on its seed only; it returns (R, n, 2).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from vaepriors.core.randomness import RunRandomness

Sampler = Callable[[int, "RunRandomness"], torch.Tensor]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_EIGHT_CENTERS = [(1, 0), (-1, 0), (0, 1), (0, -1), (_SQRT_HALF, _SQRT_HALF), (_SQRT_HALF, -_SQRT_HALF),
                  (-_SQRT_HALF, _SQRT_HALF), (-_SQRT_HALF, -_SQRT_HALF)]


@functools.cache
def _eight_centers(device: torch.device) -> torch.Tensor:
    """Made once per device: a sampler inside a captured CUDA graph must not copy host data (the first, eager,
    training steps fill the cache)."""
    return 2.0 * torch.tensor(_EIGHT_CENTERS, device=device)


def eight_gaussians(n: int, rnd: RunRandomness) -> torch.Tensor:
    """8 modes on a circle of radius 2, std 0.02, all divided by 1.414 (radius ~1.414, std ~0.0141)."""
    centers = _eight_centers(rnd.device)
    index = rnd.randint(8, n)
    noise = rnd.normal(n, 2)
    return (centers[index] + 0.02 * noise) / 1.414


def spiral(n: int, rnd: RunRandomness) -> torch.Tensor:
    """Two arms n*(-cos n, sin n) with angle up to 3*pi, point-reflected, /3, plus N(0, 0.1^2)."""
    half = (n + 1) // 2
    angle = torch.sqrt(rnd.uniform(half)) * 540 * (2 * math.pi) / 360
    arm_x = -torch.cos(angle) * angle + 0.5 * rnd.uniform(half)
    arm_y = torch.sin(angle) * angle + 0.5 * rnd.uniform(half)
    arm = torch.stack([arm_x, arm_y], dim=-1)
    points = torch.cat([arm, -arm], dim=1)[:, :n] / 3.0
    return points + 0.1 * rnd.normal(n, 2)


def checkerboard(n: int, rnd: RunRandomness) -> torch.Tensor:
    """A 4x4 checkerboard on [-4, 4]^2 (BNAF's sampler, scaled by 2)."""
    x1 = 4.0 * rnd.uniform(n) - 2.0
    coin = rnd.randint(2, n)
    x2 = rnd.uniform(n) - 2.0 * coin + torch.floor(x1) % 2
    return 2.0 * torch.stack([x1, x2], dim=-1)


def rings(n: int, rnd: RunRandomness) -> torch.Tensor:
    """Four concentric circles (radii 3, 2.25, 1.5, 0.75), bootstrap-resampled, plus N(0, 0.08^2)."""
    quarter = n // 4
    counts = [quarter, quarter, quarter, n - 3 * quarter]
    circles = []
    for radius, count in zip((1.0, 0.75, 0.5, 0.25), counts):
        angle = torch.linspace(0, 2 * math.pi, count + 1, device=rnd.device)[:-1]
        circles.append(radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1))
    points = 3.0 * torch.cat(circles)
    resampled = points[rnd.randint(n, n)]
    return resampled + 0.08 * rnd.normal(n, 2)


SAMPLERS: dict[str, Sampler] = {
    "8Gaussian": eight_gaussians,
    "spiral": spiral,
    "checkerboard": checkerboard,
    "rings": rings,
}

# Half-width of the evaluation window [-h, h]^2: the authors' "grid scale" times 2 (reference §1).
HALF_WIDTH: dict[str, float] = {"8Gaussian": 2.0, "spiral": 4.0, "checkerboard": 4.0, "rings": 4.0}


def get_sampler(name: str) -> Sampler:
    """Look up a dataset by the name the authors' code uses."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown 2D dataset {name!r}; choose one of {sorted(SAMPLERS)}") from None
