"""Adaptive log-variance soft clipping (paper Eq. 10/51, Appendix C.1).

f(l) = l - softplus_b(l - upper) + softplus_b(lower - l), with b_j = K / (|upper_j - lower_j| + 1e-8), so that the
same K keeps the same share of every dimension's range (K = 10 keeps at least 85 %).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soft_clip(x: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, k: float) -> torch.Tensor:
    """Element-wise soft clip of x into [lower, upper]; softplus_b(y) = softplus(b y)/b, linear where b y > 20."""
    beta = k / ((upper - lower).abs() + 1e-8)
    return x - F.softplus(beta * (x - upper)) / beta + F.softplus(beta * (lower - x)) / beta


class LogVarSoftClip(nn.Module):
    """Per-run, per-dimension bounds fitted once (start of the adversarial phase), then applied to every use.

    Whether the clip is on is kept twice: the ``active`` buffer (saved with the model) and a host flag read by
    ``forward``, so that a training step never waits for the device to answer whether to clip."""

    def __init__(self, runs: int, z_dim: int, k: float):
        super().__init__()
        self.k = k
        self.register_buffer("lower", torch.zeros(runs, z_dim))
        self.register_buffer("upper", torch.zeros(runs, z_dim))
        self.register_buffer("active", torch.tensor(False))
        self.is_active = False
        self.register_load_state_dict_post_hook(LogVarSoftClip._read_active)

    @staticmethod
    def _read_active(module: "LogVarSoftClip", incompatible_keys) -> None:
        module.is_active = bool(module.active)

    def fit(self, logvar: torch.Tensor) -> None:
        """Bounds = min and max over the K components' log-variances (R, K, d)."""
        self.lower.copy_(logvar.detach().amin(dim=1))
        self.upper.copy_(logvar.detach().amax(dim=1))
        self.active.fill_(True)
        self.is_active = True

    def forward(self, logvar: torch.Tensor) -> torch.Tensor:
        if not self.is_active:
            return logvar
        return soft_clip(logvar, self.lower.unsqueeze(1), self.upper.unsqueeze(1), self.k)


def retained_fraction(k: float) -> float:
    """(f(b) - f(a)) / (b - a) for b = k/(b - a) (Eq. 48-50): the share of any range kept, a function of k alone."""
    lower, upper = torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    ends = soft_clip(torch.stack([lower, upper]), lower, upper, k)
    return float(ends[1] - ends[0])
