"""Settings and output keys of the overfitting-encoder study (``vaepriors overfit-encoder``, paper App. B.3, Fig. 5),
apart from the study itself.

The command-line parser is generated from ``OverfitEncoderConfig`` and Figure 5 reads the study's files by
``panel_key``: neither needs torch, so they do not import the study (torch, pandas), which every training job's parser
and the Figure 5 job would otherwise pay for at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

# The synthetic real / generated distributions of the study (overfit_encoder.CONFIGURATIONS builds them).
CONFIGURATION_NAMES: tuple[str, ...] = ("i", "ii", "iii")
PANEL_KINDS = ("real", "real_rec", "fake", "fake_rec")


def panel_key(configuration: str, beta_neg: float, kind: str) -> str:
    """The name of one run's image panel (a ``PANEL_KINDS`` entry) in the study's .npz file."""
    return f"{configuration}_beta{beta_neg:g}_{kind}"


@dataclass(frozen=True)
class OverfitEncoderConfig:
    """``iterations`` encoder steps (batch 1) per (configuration, beta_neg), evaluated every ``eval_every`` steps."""

    iterations: int = 2000
    eval_every: int = 20
    lr: float = 2e-4                  # the authors' Adam learning rate
    beta_negs: tuple[float, ...] = (1.0, 256.0)  # theoretically faithful, and CIFAR-10/FMNIST practice
    configurations: tuple[str, ...] = CONFIGURATION_NAMES
    single_image: int = 0             # the image k of configurations (ii) and (iii)
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.configurations) - set(CONFIGURATION_NAMES)
        if unknown or self.iterations < 1 or self.eval_every < 1 or self.lr <= 0 or not self.beta_negs:
            raise ValueError(f"invalid overfit-encoder configuration {self}: configurations must be in "
                             f"{list(CONFIGURATION_NAMES)}, iterations, eval_every >= 1, lr > 0, beta_negs not empty")
