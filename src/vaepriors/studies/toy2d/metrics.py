"""2D density metrics (reference §6). Paper-compatible versions reproduce the authors' numbers; the corrected ones
are what their names say. All take numpy arrays.

- ``histogram_kl_paper``: KL(real || fake) of ``density=True`` 2D histograms divided by the number of rows, i.e. the
  probability-mass KL times 1/(bins * bin area) (x6.25 on [-2,2]^2, x1.5625 on [-4,4]^2), empty fake bins floored at
  1e-14.
- ``histogram_jsd_paper``: 0.5 [KL(M||P) + KL(M||Q)] in the same units: reversed, and not bounded by log 2.
- ``gnelbo_paper``: mean data NELBO over the sum of grid and data NELBOs; lower is better (tables show x1e7).
- corrected: ``histogram_kl_mass`` (probability masses, same floor), ``histogram_jsd`` (textbook, <= log 2),
  ``grid_log_likelihood`` (mean log of the density exp(-NELBO) normalised over the evaluation window).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

FLOOR = 1e-14


def density_histogram(samples: np.ndarray, half_width: float, bins: int) -> np.ndarray:
    window = [[-half_width, half_width], [-half_width, half_width]]
    return np.histogram2d(samples[:, 0], samples[:, 1], bins=bins, range=window, density=True)[0]


def _kl_terms(target: np.ndarray, log_source: np.ndarray) -> float:
    """sum target * (log target - log_source) with 0 log 0 = 0 (``F.kl_div`` semantics)."""
    positive = target > 0
    return float(np.sum(target[positive] * (np.log(target[positive]) - log_source[positive])))


def histogram_kl_paper(real: np.ndarray, fake: np.ndarray, half_width: float, bins: int = 100) -> float:
    p, q = density_histogram(real, half_width, bins), density_histogram(fake, half_width, bins)
    return _kl_terms(p, np.log(q + FLOOR)) / bins


def histogram_jsd_paper(real: np.ndarray, fake: np.ndarray, half_width: float, bins: int = 100) -> float:
    p, q = density_histogram(real, half_width, bins), density_histogram(fake, half_width, bins)
    m = 0.5 * (p + q)
    return 0.5 * (_kl_terms(m, np.log(p + FLOOR)) + _kl_terms(m, np.log(q + FLOOR))) / bins


def _masses(samples: np.ndarray, half_width: float, bins: int) -> np.ndarray:
    hist = density_histogram(samples, half_width, bins)
    return hist / hist.sum() if hist.sum() > 0 else hist


def histogram_kl_mass(real: np.ndarray, fake: np.ndarray, half_width: float, bins: int = 100) -> float:
    p, q = _masses(real, half_width, bins), _masses(fake, half_width, bins)
    return _kl_terms(p, np.log(q + FLOOR))


def histogram_jsd(real: np.ndarray, fake: np.ndarray, half_width: float, bins: int = 100) -> float:
    p, q = _masses(real, half_width, bins), _masses(fake, half_width, bins)
    m = 0.5 * (p + q)
    log_m = np.log(np.where(m > 0, m, 1.0))
    return 0.5 * (_kl_terms(p, log_m) + _kl_terms(q, log_m))


def gnelbo_paper(nelbo_grid: np.ndarray, nelbo_data: np.ndarray) -> float:
    return float(np.mean(nelbo_data) / (np.sum(nelbo_grid) + np.sum(nelbo_data)))


def grid_log_normaliser(nelbo_grid: np.ndarray, half_width: float) -> float:
    """log Z with Z = sum_grid exp(-NELBO) * cell area (the grid is linspace(-h, h, G) per axis)."""
    spacing = 2.0 * half_width / (np.sqrt(nelbo_grid.size) - 1)
    return float(logsumexp(-nelbo_grid) + 2.0 * np.log(spacing))


def grid_log_likelihood(nelbo_grid: np.ndarray, nelbo_data: np.ndarray, half_width: float) -> float:
    return float(np.mean(-nelbo_data) - grid_log_normaliser(nelbo_grid, half_width))
