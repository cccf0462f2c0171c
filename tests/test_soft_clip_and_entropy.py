import math

import pytest
import torch

from vaepriors.core.losses.responsibility import normalised_negative_entropy
from vaepriors.core.priors import LogVarSoftClip, soft_clip


def test_soft_clip_values_inside_outside_and_degenerate_range():
    lower, upper = torch.tensor(-2.0), torch.tensor(3.0)
    x = torch.tensor([0.5, -50.0, 50.0])
    y = soft_clip(x, lower, upper, k=10.0)
    assert y[0] == pytest.approx(0.5, abs=1e-3)
    assert y[1] == pytest.approx(-2.0, abs=1e-6) and y[2] == pytest.approx(3.0, abs=1e-6)
    assert soft_clip(torch.tensor([7.0]), torch.tensor(1.0), torch.tensor(1.0), 10.0).item() == pytest.approx(1.0)


def test_soft_clip_keeps_85_percent_of_the_range_with_k10():
    for lower, upper in [(-1.0, 1.0), (-20.0, 5.0), (0.0, 0.3)]:
        a, b = torch.tensor(lower), torch.tensor(upper)
        kept = soft_clip(b, a, b, 10.0) - soft_clip(a, a, b, 10.0)
        assert kept >= 0.85 * (upper - lower)


def test_soft_clip_gradient_matches_the_analytic_derivative():
    a, b, k = torch.tensor(-1.0), torch.tensor(2.0), 5.0
    x = torch.linspace(-4, 5, 50, requires_grad=True)
    soft_clip(x, a, b, k).sum().backward()
    beta = k / 3.0
    expected = 1 - torch.sigmoid(beta * (x - b)) - torch.sigmoid(beta * (a - x))
    torch.testing.assert_close(x.grad, expected.detach())


def test_clip_module_fits_per_dimension_bounds_and_is_off_before():
    clip = LogVarSoftClip(runs=1, z_dim=2, k=10.0)
    logvar = torch.tensor([[[-1.0, 0.0], [2.0, 0.5], [0.0, 4.0]]])
    assert torch.equal(clip(logvar + 100), logvar + 100)
    clip.fit(logvar)
    torch.testing.assert_close(clip.lower, torch.tensor([[-1.0, 0.0]]))
    torch.testing.assert_close(clip.upper, torch.tensor([[2.0, 4.0]]))
    assert clip(torch.full((1, 1, 2), 100.0)).squeeze().tolist() == pytest.approx([2.0, 4.0], abs=1e-4)


def test_clip_of_a_single_component_holds_its_fitted_log_variance():
    """One mixture component (Figure 2a's MoG(1)): Eq. 10's range [min, max] over components is a single point, so
    the clip is a hard clamp at the fitted value with no gradient to the parameter: a flat clipped curve is by
    construction, not a fitting bug."""
    clip = LogVarSoftClip(runs=1, z_dim=2, k=10.0)
    fitted = torch.tensor([[[0.3, -1.2]]])
    clip.fit(fitted)
    moved = torch.tensor([[[2.0, -5.0]]], requires_grad=True)
    held = clip(moved)
    torch.testing.assert_close(held, fitted)
    held.sum().backward()
    assert moved.grad.abs().max() < 1e-6


def test_normalised_negative_entropy():
    uniform4 = torch.full((1, 4), 0.25)
    assert normalised_negative_entropy(uniform4).item() == pytest.approx(-1.0, abs=1e-6)
    uniform2 = torch.full((1, 2), 0.5)  # log 2 < 1: not normalised, as in the authors' code
    assert normalised_negative_entropy(uniform2).item() == pytest.approx(-math.log(2), abs=1e-6)
    one_hot = torch.tensor([[1.0, 0.0, 0.0]])
    assert normalised_negative_entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)


def test_retained_fraction_depends_on_k_only_and_k10_keeps_85_percent():
    from vaepriors.core.priors.soft_clip import retained_fraction

    expected = 1 - 0.2 * math.log(2) + 0.2 * math.log(1 + math.exp(-10))  # Eq. 49 with beta (b - a) = 10
    assert retained_fraction(10.0) == pytest.approx(expected)
    assert retained_fraction(10.0) >= 0.85 > retained_fraction(2.0)
