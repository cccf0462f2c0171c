"""The 2D model: MLP encoder 2 -> 256 x4 -> 2 z and decoder z -> 256 x4 -> 2 (reference §2), stacked over runs."""

from __future__ import annotations

from vaepriors.core.nets.stacked import StackedMLP
from vaepriors.core.priors import LogVarSoftClip, Prior
from vaepriors.core.vae import StackedVAE


def build_toy_vae(runs: int, prior: Prior, z_dim: int, hidden: int, hidden_layers: int, clip_k: float,
                  generators) -> StackedVAE:
    """Encoder then decoder are initialised from each run's generator (PyTorch's default Linear init)."""
    encoder = StackedMLP(runs, 2, 2 * z_dim, hidden, hidden_layers)
    decoder = StackedMLP(runs, z_dim, 2, hidden, hidden_layers)
    encoder.reset_parameters(generators)
    decoder.reset_parameters(generators)
    return StackedVAE(encoder, decoder, prior, LogVarSoftClip(runs, z_dim, clip_k))
