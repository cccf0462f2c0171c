"""R runs of one ``nn.Sequential`` network in one network, converted layer by layer (the dpVAE nets and FactorVAE's
discriminator; docs/dpvae.md "Stacks").

Layout. Inside the stack the R runs lie side by side in the feature axis: (N, R·C, H, W) for feature maps and
(N, R·F) for vectors, run r in block r (the layout of ``models.conv``). Each layer becomes its run-stacked
counterpart: a convolution or transposed convolution with ``groups=R``, BatchNorm over R·C channels (per-channel,
hence per-run, batch statistics and running averages), a linear map per run (``GroupedLinear`` on the (R, N, F) view),
and the element-wise or per-channel layers (activations, upsampling, replication padding) unchanged. Flatten keeps
each run's (C, H, W) block contiguous and Unflatten cuts it back, so both keep run-major order. Runs never mix.

Parameters. Every parameter and buffer is the R runs' tensors concatenated along its first axis under the reference
layer's name (the convention of ``models.run_states``); only BatchNorm's scalar ``num_batches_tracked`` is shared.
A stack of one therefore has exactly the reference network's state dict, and ``RunStack.from_runs`` copies R
reference networks in, so run r of the stack computes ``networks[r]`` (to float tolerance: grouped kernels may sum
in another order).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from vaepriors.core.nets.conv import GroupedLinear
from vaepriors.core.nets.run_states import stack_states

PER_CHANNEL = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Identity, nn.Upsample, nn.ReplicationPad2d)


class RunLinear(GroupedLinear):
    """R linear maps on (N, R·F) -> (N, R·out): ``GroupedLinear`` on the (R, N, F) view."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        out = super().forward(x.reshape(n, self.runs, -1).transpose(0, 1))
        return out.transpose(0, 1).reshape(n, -1)


def stacked_layer(layer: nn.Module, runs: int) -> nn.Module:
    """The run-stacked counterpart of one reference layer (default-initialised; ``from_runs`` overwrites it)."""
    if isinstance(layer, nn.Linear) and layer.bias is not None:
        return RunLinear(runs, layer.in_features, layer.out_features)
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        if layer.groups != 1 or layer.padding_mode != "zeros":
            raise TypeError(f"only ungrouped, zero-padded convolutions can be stacked, got {layer}")
        extra = {"output_padding": layer.output_padding} if isinstance(layer, nn.ConvTranspose2d) else {}
        return type(layer)(runs * layer.in_channels, runs * layer.out_channels, layer.kernel_size,
                           stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=runs,
                           bias=layer.bias is not None, **extra)
    if isinstance(layer, nn.BatchNorm2d):
        return nn.BatchNorm2d(runs * layer.num_features, layer.eps, layer.momentum, layer.affine,
                              layer.track_running_stats)
    if isinstance(layer, nn.Unflatten) and layer.dim == 1:
        size = tuple(layer.unflattened_size)
        return nn.Unflatten(1, (runs * size[0], *size[1:]))
    if isinstance(layer, PER_CHANNEL) or isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) == (1, -1):
        return copy.deepcopy(layer)
    raise TypeError(f"no run-stacked counterpart for {layer}")


class RunStack(nn.Sequential):
    """R runs of a reference ``nn.Sequential``: (R, N, *in) -> (R, N, *out); state-dict keys are the reference's."""

    def __init__(self, reference: nn.Sequential, runs: int):
        super().__init__(*(stacked_layer(layer, runs) for layer in reference))
        self.runs = runs

    @classmethod
    def from_runs(cls, networks: Sequence[nn.Sequential]) -> "RunStack":
        """Stack R reference networks of one architecture: run r of the stack computes ``networks[r]``."""
        parameter = next(networks[0].parameters())
        with torch.random.fork_rng(devices=[]):  # the stack's own initialisation is overwritten: leave the RNG be
            stack = cls(networks[0], len(networks)).to(device=parameter.device, dtype=parameter.dtype)
        stack.load_state_dict(stack_states(stack.state_dict(), [network.state_dict() for network in networks]))
        return stack.train(networks[0].training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        runs, n = x.shape[:2]
        out = super().forward(x.transpose(0, 1).reshape(n, runs * x.shape[2], *x.shape[3:]))
        return out.reshape(n, runs, out.shape[1] // runs, *out.shape[2:]).transpose(0, 1)
