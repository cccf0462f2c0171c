"""A training step captured once as a CUDA graph and replayed, so a GPU step costs one launch instead of thousands.

An S-IntroVAE step is host-bound on a GPU (~2,100 kernel launches, ~25 ms of GPU work in a 64 ms step on an H100):
replaying a captured graph removes the launch cost. What a capturable step needs, and what this package provides:
static shapes (one graph per input shape and phase ``key``), no host synchronisation inside the step (divergence
flags and loss sums stay on the device, ``LogVarSoftClip`` keeps a host flag), randomness that advances on the
device (``RunRandomness``'s counter is a device tensor), and optimisers that run inside a graph (Adam with
``capturable=True`` and a tensor learning rate, so a learning-rate decay is a ``fill_`` and not a new graph).
Phase changes (VAMP -> MoG, new optimisers, the clip switching on) happen between steps and ``invalidate`` the graphs.

``StepGraphs`` runs the step eagerly where capture is off (the CPU: the same code without capture). On CUDA, the first
``warmup_steps`` calls of a key run eagerly on a side stream (as CUDA-graph capture requires), the next one captures
the step and replays it. Every call trains exactly one step. The returned tensors are the graph's static outputs:
a later call overwrites them, so read or copy them before the next step. ``backend`` is the capture mechanism
(``CudaGraphBackend``); tests substitute one that re-runs the recorded step, to check the static-buffer protocol on
a machine without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

import torch

Outputs = dict[str, torch.Tensor]
Step = Callable[..., Outputs]


class GraphBackend(Protocol):
    def warm_up(self, step: Step, inputs: tuple[torch.Tensor, ...]) -> Outputs: ...

    def capture(self, step: Step, inputs: tuple[torch.Tensor, ...]) -> tuple[Callable[[], None], Outputs]: ...

    def reset(self) -> None: ...


class CudaGraphBackend:
    """torch.cuda.graph capture; warm-up steps on a side stream, as the CUDA-graph documentation prescribes."""

    def __init__(self):
        self.pool = None

    def warm_up(self, step: Step, inputs: tuple[torch.Tensor, ...]) -> Outputs:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            outputs = step(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        return outputs

    def capture(self, step: Step, inputs: tuple[torch.Tensor, ...]) -> tuple[Callable[[], None], Outputs]:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            outputs = step(*inputs)
        self.pool = graph.pool()  # graphs of other shapes and phases share one memory pool
        return graph.replay, outputs

    def reset(self) -> None:
        """The graphs were dropped: their pool is freed with them, so the next capture starts a new one (capturing
        into a freed pool fails inside PyTorch's allocator, seen on an H200)."""
        self.pool = None


@dataclass
class _Graph:
    inputs: tuple[torch.Tensor, ...] = ()
    outputs: Outputs = field(default_factory=dict)
    replay: Callable[[], None] | None = None
    warm_steps: int = 0


class StepGraphs:
    """One captured graph per (key, input shapes); eager where ``enabled`` is False."""

    def __init__(self, enabled: bool, backend: GraphBackend | None = None, warmup_steps: int = 3):
        self.enabled, self.warmup_steps = enabled, warmup_steps
        self.backend = backend if backend is not None or not enabled else CudaGraphBackend()
        self.graphs: dict[Hashable, _Graph] = {}

    def __call__(self, key: Hashable, step: Step, *inputs: torch.Tensor) -> Outputs:
        if not self.enabled:
            return step(*inputs)
        graph = self.graphs.setdefault((key, tuple(tuple(x.shape) for x in inputs)), _Graph())
        if graph.replay is None and graph.warm_steps < self.warmup_steps:
            graph.warm_steps += 1
            return self.backend.warm_up(step, inputs)
        if graph.replay is None:
            graph.inputs = tuple(x.clone() for x in inputs)
            graph.replay, graph.outputs = self.backend.capture(step, graph.inputs)
        for static, value in zip(graph.inputs, inputs):
            static.copy_(value)
        graph.replay()
        return graph.outputs

    def invalidate(self) -> None:
        """Forget every graph (a phase change altered the step or the tensors it reads), and with them their memory."""
        self.graphs.clear()
        if self.backend is not None:
            self.backend.reset()


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every group's learning rate; a capturable optimizer's is a device tensor changed in place (the tensor a
    captured graph reads), also after a state dict with a float rate was loaded into it."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        elif group.get("capturable"):
            group["lr"] = torch.tensor(value, device=group["params"][0].device)
        else:
            group["lr"] = value
