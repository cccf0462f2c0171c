"""The registry of priors: every study builds its prior by name through it, and checks its configuration against
what the named prior can do. A new prior is one class plus one ``@register_prior`` builder (docs/architecture.md,
"Add a prior"); the 2D and image trainers, their configuration checks, the CLI choices, the workflow schema test and
checkpoint loading (which rebuilds the prior from the saved configuration) then know it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from vaepriors.core.priors.base import Prior


@dataclass(frozen=True)
class PriorRequest:
    """What a study knows when it builds the prior of R runs (R = len(generators)).

    ``pseudo_inputs(K)`` returns K data points per run, (R, K, *data shape), for a prior made from data (VampPrior);
    ``input_range`` bounds such inputs (images: [0, 1]); the ``flow_*`` fields shape a flow prior."""

    z_dim: int
    generators: Sequence[torch.Generator]
    components: int = 1
    learnable_contributions: bool = False
    pseudo_inputs: Callable[[int], torch.Tensor] | None = None
    input_range: tuple[float, float] | None = None
    flow_blocks: int = 6
    flow_hidden: int = 64
    flow_log_scale_bound: float = 1.0

    @property
    def runs(self) -> int:
        return len(self.generators)


@dataclass(frozen=True)
class PriorKind:
    """A registered prior and what it can do (the configuration checks of every study read these).

    ``mixture``: several components and learnable contributions (LC) are possible; ``learnable``: has parameters the
    prior player (IP) can train; ``converts_to_mog``: becomes a MoG of its current components before the adversarial
    phase (the VampPrior, paper Sec. 3); ``closed_form_kl``: the posterior's KL to it has a closed form
(``core.losses.kl``; otherwise Monte Carlo); ``min_z_dim``: smallest latent size it is defined for."""

    name: str
    build: Callable[[PriorRequest], Prior]
    mixture: bool = False
    learnable: bool = True
    converts_to_mog: bool = False
    closed_form_kl: bool = False
    min_z_dim: int = 1


PRIORS: dict[str, PriorKind] = {}


class UnknownPrior(ValueError):
    """A prior name that no ``@register_prior`` builder registered."""


def register_prior(name: str, **abilities) -> Callable[[Callable[[PriorRequest], Prior]], Callable]:
    """Register ``build(request) -> Prior`` under ``name``; ``abilities`` are ``PriorKind``'s fields."""
    def decorator(build: Callable[[PriorRequest], Prior]) -> Callable[[PriorRequest], Prior]:
        if name in PRIORS:
            raise ValueError(f"prior {name!r} is registered twice")
        PRIORS[name] = PriorKind(name, build, **abilities)
        return build
    return decorator


def prior_kind(name: str) -> PriorKind:
    try:
        return PRIORS[name]
    except KeyError:
        raise UnknownPrior(f"unknown prior {name!r}; the registered priors are {sorted(PRIORS)}") from None


def build_prior(name: str, request: PriorRequest) -> Prior:
    return prior_kind(name).build(request)


def prior_problems(name: str, z_dim: int, components: int, learnable_contributions: bool,
                   intro_prior: bool) -> list[str]:
    """What a configuration asks of prior ``name`` that it cannot do (empty: nothing)."""
    if name not in PRIORS:
        return [f"prior {name!r} is not one of the registered priors {sorted(PRIORS)}"]
    kind = PRIORS[name]
    checks = [
        (kind.mixture or components == 1, f"a {name} prior has one component"),
        (kind.mixture or not learnable_contributions, f"learnable contributions need a mixture prior, not {name}"),
        (kind.learnable or not intro_prior, f"IP needs a learnable prior; {name} has no parameters"),
        (z_dim >= kind.min_z_dim, f"a {name} prior needs z_dim >= {kind.min_z_dim}"),
    ]
    return [message for ok, message in checks if not ok]
