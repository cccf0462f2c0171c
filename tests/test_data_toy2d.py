import math

import pytest
import torch

from vaepriors.core.randomness import RunRandomness
from vaepriors.studies.toy2d.data import SAMPLERS, get_sampler


def _draw(name, n=4096, seed=0):
    return get_sampler(name)(n, RunRandomness([seed]))[0]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_shape_and_seed_reproducibility(name):
    a, b, c = _draw(name, 513), _draw(name, 513), _draw(name, 513, seed=1)
    assert a.shape == (513, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_run_draws_the_same_batch_alone_and_in_a_stack(name):
    stacked = get_sampler(name)(257, RunRandomness([5, 0, 9]))
    assert stacked.shape == (3, 257, 2)
    assert torch.equal(stacked[1], _draw(name, 257, seed=0))
    assert torch.equal(stacked[2], _draw(name, 257, seed=9))


def test_eight_gaussians_is_a_sharp_ring_of_radius_1414():
    x = _draw("8Gaussian")
    radius = x.norm(dim=1)
    assert radius.mean() == pytest.approx(2 / 1.414, abs=2e-3)
    angles = torch.atan2(x[:, 1], x[:, 0]) / (math.pi / 4)
    assert (angles - angles.round()).abs().max() < 0.1  # 8 modes at multiples of 45 degrees
    mode0 = x[(angles.round() % 8) == 0]
    assert mode0.std(0).mean() == pytest.approx(0.02 / 1.414, rel=0.15)


def test_rings_radii_and_checkerboard_support():
    radius = _draw("rings").norm(dim=1)
    nearest = torch.stack([(radius - r).abs() for r in (3.0, 2.25, 1.5, 0.75)]).min(0).values
    assert nearest.mean() < 0.1
    board = _draw("checkerboard")
    assert board.abs().max() <= 4.0
    occupied = ((torch.floor(board[:, 0] / 2) + torch.floor(board[:, 1] / 2)) % 2).unique()
    assert occupied.tolist() == [0.0] or occupied.tolist() == [1.0]  # only one colour of the board


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="8Gaussian"):
        get_sampler("8gaussians")
