"""One picture from a batch of images, for the figures' sample panels (torchvision's ``make_grid``)."""

from __future__ import annotations

import numpy as np


def image_grid(images: np.ndarray, nrow: int) -> np.ndarray:
    """(n, C, H, W) floats in [0, 1], C in {1, 3} -> one (rows, cols, 3) array for imshow, ``nrow`` images per row,
    separated by white lines."""
    # torch and torchvision load here, not with the module: with torchvision's models and torch._dynamo that takes
    # seconds, which only the figures that draw image grids pay (every other table and figure job runs without torch)
    import torch
    from torchvision.utils import make_grid

    batch = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.float32)
    return make_grid(batch, nrow=nrow, padding=1, pad_value=1.0).permute(1, 2, 0).numpy()
