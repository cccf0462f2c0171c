"""Reconstruction error as the authors define it: squared error summed over the data dimensions."""

import torch


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors per sample: (R, B, ...) -> (R, B). No 1/2 and no log(2 pi) (reference §4.1)."""
    return (x - x_hat).square().flatten(2).sum(-1)
