import math

import numpy as np
import pytest

from vaepriors.studies.toy2d import metrics as m
from vaepriors.studies.toy2d.selection import GridOptimum, grid_optimum

# Two bins per axis on [-1, 1]^2: every bin has area 1, so densities equal probability masses.
LOW, HIGH = (-0.5, -0.5), (0.5, 0.5)


def test_paper_kl_is_mass_kl_divided_by_rows_for_unit_bins():
    real, fake = np.array([LOW, HIGH]), np.array([LOW, LOW])
    mass = 0.5 * math.log(0.5 / 1.0) + 0.5 * (math.log(0.5) - math.log(1e-14))
    assert m.histogram_kl_mass(real, fake, 1.0, bins=2) == pytest.approx(mass)
    assert m.histogram_kl_paper(real, fake, 1.0, bins=2) == pytest.approx(mass / 2)


def test_paper_kl_scales_with_one_over_bins_times_bin_area():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(20000, 2)), rng.normal(0.3, 1.2, size=(20000, 2))
    paper, mass = m.histogram_kl_paper(real, fake, 4.0, 10), m.histogram_kl_mass(real, fake, 4.0, 10)
    assert paper == pytest.approx(mass / (10 * 0.8**2), rel=1e-6)  # no empty fake bins here: exact ratio


def test_jsd_textbook_is_log2_for_disjoint_supports_and_paper_jsd_is_not_bounded():
    real, fake = np.array([LOW, LOW]), np.array([HIGH, HIGH])
    assert m.histogram_jsd(real, fake, 1.0, bins=2) == pytest.approx(math.log(2))
    kl_m_p = 0.5 * math.log(0.5) + 0.5 * (math.log(0.5) - math.log(1e-14))  # KL(M||P), P floored at 1e-14
    paper = 0.5 * (kl_m_p + kl_m_p) / 2  # divided by the 2 rows
    assert m.histogram_jsd_paper(real, fake, 1.0, bins=2) == pytest.approx(paper)
    assert paper > math.log(2)


def test_identical_histograms_score_zero():
    samples = np.array([LOW, HIGH, HIGH])
    assert m.histogram_kl_paper(samples, samples, 1.0, 2) == pytest.approx(0.0, abs=1e-12)
    assert m.histogram_jsd(samples, samples, 1.0, 2) == pytest.approx(0.0, abs=1e-12)


def test_gnelbo_paper_hand_computed():
    assert m.gnelbo_paper(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 1.5])) == pytest.approx(1.0 / 12.0)


def test_grid_log_likelihood_of_a_constant_nelbo_is_minus_log_window_area():
    grid_size, half_width, constant = 101, 2.0, 3.7
    grid = np.full(grid_size**2, constant)
    spacing = 2 * half_width / (grid_size - 1)
    expected = -math.log(grid_size**2 * spacing**2)  # ~ -log(16) (Riemann sum over the window)
    assert m.grid_log_likelihood(grid, np.full(5, constant), half_width) == pytest.approx(expected)


def test_grid_optimum_reads_the_grid_csv_and_marks_a_fully_diverged_grid(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("run,beta_rec,beta_kl,beta_neg,diverged_at,kl_paper\n0,0.2,0.3,0.9,,nan\n"
                    "1,0.4,0.3,0.6,,2.0\n2,0.8,0.1,0.1,,1.0\n3,1.0,0.1,0.2,,1.0\n4,1.0,1.0,1.0,7,0.5\n")
    assert grid_optimum(path) == GridOptimum((0.8, 0.1, 0.1))
    path.write_text("run,beta_rec,beta_kl,beta_neg,diverged_at,kl_paper\n0,0.2,0.3,0.9,12,nan\n1,0.4,0.3,0.6,3,nan\n")
    optimum = grid_optimum(path)  # the first point, deterministically, marked for the seed job and the tables
    assert optimum.betas == (0.2, 0.3, 0.9) and "2 of 2 diverged" in optimum.unselectable
