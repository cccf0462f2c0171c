"""The decoupled (RealNVP) prior: bijection, log-determinant, density, KL of Eq. (24), sampling."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vaepriors.core.losses.kl import kl_entropy_form
from vaepriors.core.priors.flow import AffineCoupling, DecoupledPrior, DecoupledPriorConfig, coupling_masks
from vaepriors.core.randomness import RunRandomness


def random_flow(z_dim: int, seed: int = 0) -> DecoupledPrior:
    """Default (authors') init in float64, last layers x4 so s and t reach well into tanh's range."""
    torch.manual_seed(seed)
    flow = DecoupledPrior(DecoupledPriorConfig(z_dim)).double()
    with torch.no_grad():
        for block in flow.blocks:
            block.scale[-2].weight.mul_(4.0)
            block.shift[-2].weight.mul_(4.0)
    return flow


def eq24_kl(flow: DecoupledPrior, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """KL of Eq. (24) (``losses.kl.kl_entropy_form``) per sample (N,) for mu, logvar (N, L) at z = mu + sigma * eps,
    eps (N, L) for one sample or (N, S, L) for S."""
    eps = eps.unsqueeze(-2) if eps.dim() == mu.dim() else eps
    z = mu.unsqueeze(-2) + torch.exp(0.5 * logvar).unsqueeze(-2) * eps
    return kl_entropy_form(mu.unsqueeze(0), logvar.unsqueeze(0), z.unsqueeze(0), flow.distribution()).squeeze(0)


def cubature_eps(z_dim: int) -> torch.Tensor:
    """(1, 2L, L) points +-sqrt(L) e_l: their mean is 0 and their second moments are I, so averages of quadratics
    in eps over them are exact expectations under N(0, I)."""
    axes = math.sqrt(z_dim) * torch.eye(z_dim, dtype=torch.float64)
    return torch.cat([axes, -axes]).unsqueeze(0)


@pytest.fixture(scope="module")
def grid_2d():
    """A random 2D flow, a 201^2 grid on [-7, 7]^2 (points (G, 2), cell area) and log p on it (G,)."""
    flow = random_flow(2, seed=3)
    xs = torch.linspace(-7.0, 7.0, 201, dtype=torch.float64)
    points = torch.stack(torch.meshgrid(xs, xs, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        log_p = flow.log_prob(points)
    return flow, points, (xs[1] - xs[0]) ** 2, log_p


def test_masks_alternate_between_a_half_and_its_complement():
    assert coupling_masks(2, 6).tolist() == [[1, 0], [0, 1]] * 3
    assert coupling_masks(5, 6).tolist() == [[1, 1, 0, 0, 0], [0, 0, 1, 1, 1]] * 3


def test_scale_and_shift_are_tanh_bounded_and_vanish_on_kept_coordinates():
    torch.manual_seed(0)
    block = AffineCoupling(torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0]), hidden=64)
    for network in (block.scale, block.shift):
        network[-2].weight.data.mul_(100.0)
    s, t = block.scale_shift(50.0 * torch.randn(64, 5))
    assert torch.all(s[:, :2] == 0) and torch.all(t[:, :2] == 0)
    assert s.abs().max() <= 1.0 and t.abs().max() <= 1.0 and s.abs().max() > 0.99


@pytest.mark.parametrize("z_dim", [2, 5])
def test_to_and_from_generation_space_are_inverse(z_dim):
    flow = random_flow(z_dim)
    points = 2.0 * torch.randn(32, z_dim, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(flow.to_generation_space(flow.from_generation_space(points))[0], points,
                                   rtol=0, atol=1e-12)
        torch.testing.assert_close(flow.from_generation_space(flow.to_generation_space(points)[0]), points,
                                   rtol=0, atol=1e-12)
        assert (flow.from_generation_space(points) - points).abs().max() > 0.1  # the flow is far from the identity


@pytest.mark.parametrize("z_dim", [2, 5])
def test_log_det_matches_autograd_jacobian(z_dim):
    flow = random_flow(z_dim)
    points = torch.randn(4, z_dim, dtype=torch.float64)
    log_det = flow.to_generation_space(points)[1]
    for point, value in zip(points, log_det):
        jacobian = torch.autograd.functional.jacobian(lambda z: flow.to_generation_space(z)[0], point)
        torch.testing.assert_close(value, torch.linalg.slogdet(jacobian).logabsdet, rtol=0, atol=1e-10)
    assert log_det.abs().max() > 0.1


def test_identity_init_gives_the_identity_flow_and_standard_normal_density():
    flow = DecoupledPrior(DecoupledPriorConfig(5, identity_init=True))
    points = torch.randn(16, 5)
    z0, log_det = flow.to_generation_space(points)
    assert torch.equal(z0, points) and torch.equal(log_det, torch.zeros(16))
    assert torch.equal(flow.from_generation_space(points), points)
    torch.testing.assert_close(flow.log_prob(points), Normal(0.0, 1.0).log_prob(points).sum(-1))


def test_log_prob_integrates_to_one(grid_2d):
    _, _, cell, log_p = grid_2d
    assert log_p.exp().sum() * cell == pytest.approx(1.0, abs=1e-3)


def test_kl_matches_quadrature_for_a_random_flow(grid_2d):
    flow, points, cell, log_p = grid_2d
    mu, logvar = torch.tensor([[0.5, -0.3]], dtype=torch.float64), torch.tensor([[-1.5, -2.0]], dtype=torch.float64)
    log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(points).sum(-1)
    exact = (log_q.exp() * (log_q - log_p)).sum() * cell
    eps = torch.randn(1, 20000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert eq24_kl(flow, mu, logvar, eps).item() == pytest.approx(exact.item(), abs=0.02)


def test_kl_differs_from_the_sampled_log_ratio_only_by_the_entropy_noise():
    """Eq. (24) uses the closed-form entropy; with log q(z_s|x) sampled instead the estimates differ by exactly
    (1/S) sum_s ||eps_s||^2 / 2 - L/2, whatever the flow."""
    flow = random_flow(5)
    mu, logvar = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    eps = torch.randn(3, 7, 5, dtype=torch.float64)
    z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps
    log_q = Normal(mu.unsqueeze(1), torch.exp(0.5 * logvar).unsqueeze(1)).log_prob(z).sum(-1)
    sampled = (log_q - flow.log_prob(z)).mean(-1)
    noise = 0.5 * eps.square().sum(-1).mean(-1) - 2.5
    torch.testing.assert_close(eq24_kl(flow, mu, logvar, eps), sampled + noise, rtol=0, atol=1e-10)


def test_kl_of_identity_flow_equals_closed_form_gaussian_kl():
    flow = DecoupledPrior(DecoupledPriorConfig(4, identity_init=True)).double()
    mu, logvar = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    closed = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(eq24_kl(flow, mu, logvar, cubature_eps(4)), closed, rtol=0, atol=1e-12)
    standard = eq24_kl(flow, torch.zeros(1, 4, dtype=torch.float64), torch.zeros(1, 4, dtype=torch.float64),
                                   torch.randn(1, 20000, 4, dtype=torch.float64))
    assert standard.abs().item() < 0.05  # MC standard error sqrt(L/2 / S) = 0.01


def test_single_sample_eps_and_leading_batch_shapes():
    flow = random_flow(3)
    mu, logvar, eps = torch.randn(3, 5, 3, dtype=torch.float64).unbind(0)
    assert eq24_kl(flow, mu, logvar, eps).shape == (5,)
    torch.testing.assert_close(eq24_kl(flow, mu, logvar, eps), eq24_kl(flow, mu, logvar, eps[:, None]))
    batch = torch.randn(2, 4, 3, dtype=torch.float64)
    z0, log_det = flow.to_generation_space(batch)
    assert z0.shape == (2, 4, 3) and log_det.shape == (2, 4)
    torch.testing.assert_close(log_det[1], flow.to_generation_space(batch[1])[1])


def test_sampling_is_reproducible_and_differentiable_in_the_flow():
    flow = random_flow(2).float()
    first = flow.distribution().sample(8, RunRandomness([7])).squeeze(0)
    assert first.shape == (8, 2) and first.dtype == torch.float32
    again = flow.distribution().sample(8, RunRandomness([7])).squeeze(0)
    assert torch.equal(first, again)
    first.square().sum().backward()
    grads = [p.grad for p in flow.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_kl_gradient_reaches_flow_and_posterior():
    flow = random_flow(2)
    mu = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    logvar = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    eq24_kl(flow, mu, logvar, torch.randn(3, 2, dtype=torch.float64)).sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0
    assert all(p.grad is not None for p in flow.parameters())


@pytest.mark.parametrize("overrides", [dict(z_dim=1), dict(z_dim=2, blocks=0), dict(z_dim=2, hidden=0)])
def test_config_rejects_degenerate_flows(overrides):
    with pytest.raises(ValueError):
        DecoupledPriorConfig(**overrides)


def test_the_distribution_exposes_the_bijection_and_its_detached_view_trains_only_the_input():
    flow = random_flow(2)
    distribution = flow.distribution()
    z = torch.randn(1, 6, 2, dtype=torch.float64, requires_grad=True)
    z0, log_det = distribution.detach().to_generation_space(z)
    expected_z0, expected_log_det = flow.to_generation_space(z.detach())
    assert torch.equal(z0, expected_z0) and torch.equal(log_det, expected_log_det)
    torch.testing.assert_close(distribution.from_generation_space(z0.detach()), z.detach(), rtol=0, atol=1e-12)
    (z0.sum() + log_det.sum()).backward()
    assert z.grad.abs().sum() > 0 and all(p.grad is None for p in flow.parameters())
    torch.testing.assert_close(distribution.without_log_det().log_density(z.detach()),
                               Normal(0.0, 1.0).log_prob(expected_z0).sum(-1))
