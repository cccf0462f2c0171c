"""The two moons data set of the dpVAE paper (Figs. 1 and 3), drawn as the authors' code draws it (reference §4).

scikit-learn's ``make_moons``: the upper moon is (cos t, sin t), the lower one (1 - cos t, 1/2 - sin t), t on an even
grid over [0, pi], plus N(0, noise^2) in each coordinate. The authors' settings: 2,000 training points, noise 0.05,
and a validation set of 2,000 // 10 = 200 points, drawn separately. No rescaling ("no other pre-processing").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import make_moons

MOONS_TRAIN = 2_000
MOONS_NOISE = 0.05


@dataclass(frozen=True)
class MoonsData:
    """Points (N, 2) float32 and moon labels (N,) int64 (0 = upper moon, 1 = lower moon) of both splits."""

    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor


def _draw(n: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    points, labels = make_moons(n_samples=n, shuffle=True, noise=noise, random_state=seed)
    return torch.from_numpy(points).float(), torch.from_numpy(labels).long()


def two_moons(seed: int = 0, n_train: int = MOONS_TRAIN, n_test: int | None = None,
              noise: float = MOONS_NOISE) -> MoonsData:
    """Independent seeded draws of the training set (``n_train``) and the test set (``n_test``, default
    ``n_train // 10`` as the authors' validation set); both depend on ``seed`` only."""
    n_test = n_train // 10 if n_test is None else n_test
    if n_train < 1 or n_test < 1 or noise < 0:
        raise ValueError(f"need n_train, n_test >= 1 and noise >= 0; got {n_train}, {n_test}, {noise}")
    train_seed, test_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    return MoonsData(*_draw(n_train, noise, train_seed), *_draw(n_test, noise, test_seed))
