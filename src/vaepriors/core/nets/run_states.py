"""Runs of a stack in and out of state dicts: one run's weights for its snapshot, a warm-up stack's runs spread over
the adversarial stack that continues them, a diverged run's last finite weights put back.

Convention of every stacked module (``models.stacked``, ``models.conv``, the priors): a tensor that belongs to runs
holds the R runs' tensors concatenated along its first axis; a tensor shared by all runs (a coupling mask, BatchNorm's
``num_batches_tracked``, Adam's step count) has the same shape for any R. Which names carry the run axis is read off
two instances of the model, with one and with two runs (``run_axis_names``), never guessed from sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

State = Mapping[str, torch.Tensor]


def run_axis_names(two_runs: State, one_run: State) -> frozenset[str]:
    """Names of the tensors whose first axis grows with the number of runs."""
    return frozenset(name for name, value in two_runs.items()
                     if value.dim() and value.shape != one_run[name].shape)


def stack_states(target: State, run_states: Sequence[State]) -> dict[str, torch.Tensor]:
    """A stack's state dict from R single-run states (same keys): a tensor whose shape in the stack (``target``)
    differs from the run's is the runs concatenated along the first axis; one of equal shape is shared and must be
    equal in every run (in a stack of one, every tensor is the run's own)."""
    state = {}
    for name, value in target.items():
        values = [run_state[name] for run_state in run_states]
        if value.shape != values[0].shape:
            state[name] = torch.cat(values)
        elif all(torch.equal(other, values[0]) for other in values[1:]):
            state[name] = values[0]
        else:
            raise ValueError(f"{name} differs between runs; the stack shares it")
    return state


def select_runs(tensor: torch.Tensor, index: Sequence[int], runs: int) -> torch.Tensor:
    """Runs ``index`` (in that order, repeats allowed) of a tensor holding ``runs`` runs along its first axis."""
    per_run = tensor.reshape(runs, tensor.shape[0] // runs, *tensor.shape[1:])
    chosen = per_run[torch.as_tensor(list(index), dtype=torch.long, device=tensor.device)]
    return chosen.reshape(len(index) * per_run.shape[1], *tensor.shape[1:])


def select_state(state: State, index: Sequence[int], runs: int, stacked: frozenset[str]) -> dict[str, torch.Tensor]:
    """The state of runs ``index`` of a stack of ``runs``; shared tensors are copied as they are."""
    return {name: select_runs(value, index, runs) if name in stacked else value.clone()
            for name, value in state.items()}


def optimizer_parameter_names(optimizer: torch.optim.Optimizer, module: nn.Module) -> list[str]:
    """The state-dict name of every parameter of ``optimizer`` (one group), in the optimizer's order."""
    names = {id(parameter): name for name, parameter in module.named_parameters()}
    return [names[id(parameter)] for group in optimizer.param_groups for parameter in group["params"]]


def select_optimizer_state(state: dict, names: Sequence[str], index: Sequence[int], runs: int,
                           stacked: frozenset[str]) -> dict:
    """An optimizer state dict restricted to runs ``index``: per-parameter moments follow their parameter."""
    selected = {}
    for position, values in state["state"].items():
        name = names[position]
        selected[position] = {key: select_runs(value, index, runs) if name in stacked and value.dim() else value.clone()
                              for key, value in values.items()}
    return {"state": selected, "param_groups": state["param_groups"]}
