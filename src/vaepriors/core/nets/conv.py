"""The S-IntroVAE residual convolutional encoder and decoder (reference §8.2), PyTorch default initialisation, for one
run (the reference definition) and for R runs stacked in one network.

Encoder: conv5x5 -> BN -> LeakyReLU(0.2) -> AvgPool2, then per further channel width a residual block and AvgPool2,
a final residual block, and a linear map to (mu, logvar). The decoder mirrors it with nearest upsampling and ends in
a conv5x5 without output activation (images are clamped to [0, 1] only when saved or scored).

The stack keeps R runs apart exactly: the R runs' feature maps lie side by side in the channels, (N, R·C, H, W), run
r in channels [r·C, (r+1)·C); every convolution is grouped by run (``groups=R``), BatchNorm over R·C channels
computes per-channel, hence per-run, batch statistics and running averages, pooling, upsampling and the activations
act per channel, and the linear heads are R linear maps with a run axis (``GroupedLinear``). Every parameter and
buffer is the R runs' tensors concatenated along the first axis, so ``StackedConv*.from_runs`` copies R reference
networks in and ``unstack(r)`` gives one back.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Self, Sequence

import torch
from torch import nn


class ConvArchitecture(NamedTuple):
    """What fixes one run's network: image channels, channel widths, image side length, latent size."""
    image_channels: int
    channels: tuple[int, ...]
    image_size: int
    z_dim: int


def _conv(in_channels: int, out_channels: int, kernel: int, runs: int, bias: bool) -> nn.Conv2d:
    """``runs`` independent same-padded convolutions in one grouped convolution."""
    return nn.Conv2d(runs * in_channels, runs * out_channels, kernel, padding=kernel // 2, bias=bias, groups=runs)


class _RunLinearFunction(torch.autograd.Function):
    """``x @ weight.mT + bias`` per run with the gradients nn.Linear computes (``grad.mT @ x`` for the weight, not
    autograd's transpose of ``x.mT @ grad``), so a run's update is bitwise the reference network's."""

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(bias, x, weight.mT)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(*inputs[:2])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        return grad_x, torch.bmm(grad.mT, x), grad.sum(1, keepdim=True)


class GroupedLinear(nn.Module):
    """R affine maps, (R, N, in) -> (R, N, out), holding R ``nn.Linear``s concatenated: weight (R·out, in), bias
    (R·out), like a grouped convolution. Keeping nn.Linear's (out, in) layout (unlike ``StackedLinear``'s (in, out))
    and its GEMMs forward and backward, a stack of one computes bitwise what the reference head computes."""

    def __init__(self, runs: int, in_features: int, out_features: int):
        super().__init__()
        self.runs = runs
        self.weight = nn.Parameter(torch.empty(runs * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(runs * out_features))
        for weight, bias in zip(self.weight.detach().chunk(runs), self.bias.detach().chunk(runs)):
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Linear's default, per run
            nn.init.uniform_(bias, -1 / math.sqrt(in_features), 1 / math.sqrt(in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = (x, self.weight.view(self.runs, -1, self.weight.shape[1]), self.bias.view(self.runs, 1, -1))
        if torch.is_autocast_enabled(x.device.type):  # cast as autocast casts nn.Linear's inputs (not its backward)
            tensors = tuple(tensor.to(torch.get_autocast_dtype(x.device.type)) for tensor in tensors)
        return _RunLinearFunction.apply(*tensors)


class ResidualBlock(nn.Module):
    """conv3x3-BN-LReLU-conv3x3-BN plus the (1x1-projected when the width changes) input, then LReLU; per run."""

    def __init__(self, in_channels: int, out_channels: int, runs: int = 1):
        super().__init__()
        self.project = (_conv(in_channels, out_channels, 1, runs, bias=False) if in_channels != out_channels
                        else nn.Identity())
        self.body = nn.Sequential(
            _conv(in_channels, out_channels, 3, runs, bias=False), nn.BatchNorm2d(runs * out_channels),
            nn.LeakyReLU(0.2), _conv(out_channels, out_channels, 3, runs, bias=False),
            nn.BatchNorm2d(runs * out_channels))
        self.activation = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.project(x))


def feature_shape(channels: Sequence[int], image_size: int) -> tuple[int, int, int]:
    """Shape of the last feature map: every width halves the resolution once (28 -> 14 -> 7 for (64, 128))."""
    size = image_size // 2 ** len(channels)
    if size < 1 or size * 2 ** len(channels) != image_size:
        raise ValueError(f"image size {image_size} is not divisible by 2^{len(channels)} (channels {tuple(channels)})")
    return channels[-1], size, size


def encoder_features(image_channels: int, channels: Sequence[int], runs: int = 1) -> list[nn.Module]:
    """The encoder's convolutional layers, (N, R·C, H, W) -> (N, R·channels[-1], h, w)."""
    layers: list[nn.Module] = [_conv(image_channels, channels[0], 5, runs, bias=False),
                               nn.BatchNorm2d(runs * channels[0]), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
    for previous, width in zip(channels[:-1], channels[1:]):
        layers += [ResidualBlock(previous, width, runs), nn.AvgPool2d(2)]
    return layers + [ResidualBlock(channels[-1], channels[-1], runs)]


def decoder_body(image_channels: int, channels: Sequence[int], runs: int = 1) -> list[nn.Module]:
    """The decoder's convolutional layers, (N, R·channels[-1], h, w) -> (N, R·C, H, W)."""
    layers: list[nn.Module] = []
    previous = channels[-1]
    for width in reversed(channels):
        layers += [ResidualBlock(previous, width, runs), nn.Upsample(scale_factor=2, mode="nearest")]
        previous = width
    return layers + [ResidualBlock(previous, previous, runs), _conv(previous, image_channels, 5, runs, bias=True)]


class ConvEncoder(nn.Module):
    """One run, (N, C, H, W) -> (N, 2 z_dim): the reference definition of a run's encoder."""

    def __init__(self, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int):
        super().__init__()
        self.architecture = ConvArchitecture(image_channels, tuple(channels), image_size, z_dim)
        self.features = nn.Sequential(*encoder_features(image_channels, channels), nn.Flatten())
        width, height, _ = feature_shape(channels, image_size)
        self.head = nn.Linear(width * height * height, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """One run, (N, z_dim) -> (N, C, H, W), no output activation: the reference definition of a run's decoder."""

    def __init__(self, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int):
        super().__init__()
        self.architecture = ConvArchitecture(image_channels, tuple(channels), image_size, z_dim)
        self.shape = feature_shape(channels, image_size)
        self.head = nn.Sequential(nn.Linear(z_dim, self.shape[0] * self.shape[1] * self.shape[2]), nn.ReLU())
        self.body = nn.Sequential(*decoder_body(image_channels, channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.head(z).view(-1, *self.shape))


class StackedConvNetwork(nn.Module):
    """R runs of a reference network (``reference``) in one network, with the run-axis convention (R, N, ...).

    Optional bf16 autocast and channels-last memory format apply to the network only; outputs return in the
    parameters' precision (float32 in training), so every loss and KL stays in full precision. Run r's slice of every
    parameter and buffer is ``tensor.chunk(R)[r]`` under the reference network's key; only the scalar
    ``num_batches_tracked`` counters are shared (every run's train-mode forwards count alike). A stack built directly
    is default-initialised like R reference networks (in distribution); ``from_runs`` reproduces given networks
    exactly.
    """

    reference: type[nn.Module]

    def __init__(self, runs: int, architecture: ConvArchitecture, bf16: bool, channels_last: bool):
        super().__init__()
        self.runs, self.architecture = runs, architecture
        self.bf16, self.channels_last = bf16, channels_last

    @classmethod
    def from_runs(cls, networks: Sequence[nn.Module], bf16: bool = False, channels_last: bool = False) -> Self:
        """Stack R reference networks of one architecture: run r of the stack computes exactly ``networks[r]``."""
        architectures = {network.architecture for network in networks}
        if len(architectures) != 1:
            raise ValueError(f"runs of different architectures cannot be stacked: {architectures}")
        parameter = next(networks[0].parameters())
        with torch.random.fork_rng(devices=[]):  # the stack's own initialisation is overwritten: leave the RNG be
            stack = cls(len(networks), *architectures.pop(), bf16=bf16, channels_last=channels_last)
        stack.to(device=parameter.device, dtype=parameter.dtype)
        stack.load_state_dict(stack.stacked_state([network.state_dict() for network in networks]))
        return stack.train(networks[0].training)

    def stacked_state(self, run_states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """This stack's state dict from R reference-network state dicts (the same keys)."""
        if len(run_states) != self.runs:
            raise ValueError(f"a stack of {self.runs} runs needs {self.runs} run states, got {len(run_states)}")
        state = {}
        for key in self.state_dict():
            values = [run_state[key] for run_state in run_states]
            if values[0].dim() == 0 and any(not torch.equal(value, values[0]) for value in values):
                raise ValueError(f"{key} differs between runs; the stack shares it")
            state[key] = values[0] if values[0].dim() == 0 else torch.cat(values)
        return state

    def run_state(self, run: int) -> dict[str, torch.Tensor]:
        """Run ``run``'s state dict in the reference network's layout (a per-run snapshot), detached copies."""
        return {key: (value.chunk(self.runs)[run] if value.dim() else value).detach().clone(
                    memory_format=torch.contiguous_format) for key, value in self.state_dict().items()}

    def unstack(self, run: int) -> nn.Module:
        """Run ``run`` as a reference network (same device, dtype and train/eval mode)."""
        parameter = next(self.parameters())
        with torch.random.fork_rng(devices=[]):
            network = self.reference(*self.architecture).to(device=parameter.device, dtype=parameter.dtype)
        network.load_state_dict(self.run_state(run))
        return network.train(self.training)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        """States saved before the run axis (a ``SingleRun`` wrapper around one reference network, keys
        ``network.*``) load into a stack of one, so older snapshots and checkpoints stay readable."""
        single_run = {key[len(prefix + "network."):]: state_dict.pop(key) for key in list(state_dict)
                      if key.startswith(prefix + "network.")}
        if single_run:
            state_dict.update({prefix + key: value for key, value in self.stacked_state([single_run]).items()})
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _autocast(self, x: torch.Tensor) -> torch.autocast:
        return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _full_precision(self, out: torch.Tensor) -> torch.Tensor:
        return out.to(next(self.parameters()).dtype)

    def _memory_format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


class StackedConvEncoder(StackedConvNetwork):
    """R runs of ``ConvEncoder``: (R, N, C, H, W) -> (R, N, 2 z_dim)."""

    reference = ConvEncoder

    def __init__(self, runs: int, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int,
                 bf16: bool = False, channels_last: bool = False):
        super().__init__(runs, ConvArchitecture(image_channels, tuple(channels), image_size, z_dim), bf16,
                         channels_last)
        self.features = nn.Sequential(*encoder_features(image_channels, channels, runs))
        width, height, _ = feature_shape(channels, image_size)
        self.head = GroupedLinear(runs, width * height * height, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        runs, n = x.shape[:2]
        with self._autocast(x):
            features = self.features(self._memory_format(x.transpose(0, 1).reshape(n, -1, *x.shape[3:])))
            # (N, R·C', h, w) -> (R, N, C'·h·w): each run flattens its own (C', h, w) block, as the reference does
            out = self.head(features.reshape(n, runs, -1).transpose(0, 1))
        return self._full_precision(out)


class StackedConvDecoder(StackedConvNetwork):
    """R runs of ``ConvDecoder``: (R, N, z_dim) -> (R, N, C, H, W), no output activation."""

    reference = ConvDecoder

    def __init__(self, runs: int, image_channels: int, channels: Sequence[int], image_size: int, z_dim: int,
                 bf16: bool = False, channels_last: bool = False):
        super().__init__(runs, ConvArchitecture(image_channels, tuple(channels), image_size, z_dim), bf16,
                         channels_last)
        self.shape = feature_shape(channels, image_size)
        self.head = nn.Sequential(GroupedLinear(runs, z_dim, self.shape[0] * self.shape[1] * self.shape[2]),
                                  nn.ReLU())
        self.body = nn.Sequential(*decoder_body(image_channels, channels, runs))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        runs, n = z.shape[:2]
        with self._autocast(z):
            hidden = self.head(z).transpose(0, 1).reshape(n, runs * self.shape[0], *self.shape[1:])
            out = self.body(self._memory_format(hidden))  # (N, R·C, H, W)
        return self._full_precision(out).reshape(n, runs, -1, *out.shape[2:]).transpose(0, 1).contiguous()
