"""The S-IntroVAE residual convolutional encoder and decoder (reference §8.2), PyTorch default initialisation.

Encoder: conv5x5 -> BN -> LeakyReLU(0.2) -> AvgPool2, then per further channel width a residual block and AvgPool2,
a final residual block, and a linear map to (mu, logvar). The decoder mirrors it with nearest upsampling and ends in
a conv5x5 without output activation (images are clamped to [0, 1] only when saved or scored).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """conv3x3-BN-LReLU-conv3x3-BN plus the (1x1-projected when the width changes) input, then LReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.project = (nn.Conv2d(in_channels, out_channels, 1, bias=False) if in_channels != out_channels
                        else nn.Identity())
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.2), nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels))
        self.activation = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.project(x))


def feature_shape(channels: Sequence[int], image_size: int) -> tuple[int, int, int]:
    """Shape of the last feature map: every width halves the resolution once (28 -> 14 -> 7 for (64, 128))."""
    size = image_size // 2 ** len(channels)
    if size < 1 or size * 2 ** len(channels) != image_size:
        raise ValueError(f"image size {image_size} is not divisible by 2^{len(channels)} (channels {tuple(channels)})")
    return channels[-1], size, size


class ConvEncoder(nn.Module):
    """(N, C, H, W) -> (N, 2 z_dim)."""

    def __init__(self, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(image_channels, channels[0], 5, padding=2, bias=False),
                                   nn.BatchNorm2d(channels[0]), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
        for previous, width in zip(channels[:-1], channels[1:]):
            layers += [ResidualBlock(previous, width), nn.AvgPool2d(2)]
        layers += [ResidualBlock(channels[-1], channels[-1]), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        width, height, _ = feature_shape(channels, image_size)
        self.head = nn.Linear(width * height * height, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """(N, z_dim) -> (N, C, H, W), no output activation."""

    def __init__(self, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int):
        super().__init__()
        self.shape = feature_shape(channels, image_size)
        self.head = nn.Sequential(nn.Linear(z_dim, self.shape[0] * self.shape[1] * self.shape[2]), nn.ReLU())
        layers: list[nn.Module] = []
        previous = channels[-1]
        for width in reversed(channels):
            layers += [ResidualBlock(previous, width), nn.Upsample(scale_factor=2, mode="nearest")]
            previous = width
        layers += [ResidualBlock(previous, previous), nn.Conv2d(previous, image_channels, 5, padding=2)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.head(z).view(-1, *self.shape))


class SingleRun(nn.Module):
    """Adapts an (N, ...) network to the (R, N, ...) run-axis convention of StackedVAE, for R = 1.

    BatchNorm statistics would mix runs if R runs were folded into one batch, so image models train one run per
    process. Optional bf16 autocast and channels-last memory format apply to the network only; outputs return in
    float32, so every loss and KL stays in full precision.
    """

    def __init__(self, network: nn.Module, bf16: bool = False, channels_last: bool = False):
        super().__init__()
        self.network = network
        self.bf16 = bf16
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != 1:
            raise ValueError(f"image models hold one run, got a run axis of {x.shape[0]}")
        x = x[0]
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.network(x)
        return out.float().contiguous().unsqueeze(0)
