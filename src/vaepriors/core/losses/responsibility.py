"""Responsibility-entropy regulariser of the encoder (paper Eq. 11, normalised as the authors' code does)."""

import math

import torch


def normalised_negative_entropy(mean_responsibility: torch.Tensor) -> torch.Tensor:
    """sum_k c_k log(c_k + 1e-8), divided by log K only when log K > 1 (K >= 3), as in the authors' code.

    ``mean_responsibility`` (R, K) holds the batch-aggregated responsibilities c_k; returns (R,). Adding this with a
    positive weight to the encoder loss maximises the entropy, i.e. keeps all prior modes in use.
    """
    negative_entropy = (mean_responsibility * torch.log(mean_responsibility + 1e-8)).sum(-1)
    log_k = math.log(mean_responsibility.shape[-1])
    return negative_entropy / log_k if log_k > 1 else negative_entropy
