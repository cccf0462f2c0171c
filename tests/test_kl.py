import math

import torch

from vaepriors.losses.kl import ClosedFormKL, MonteCarloKL, kl_monte_carlo
from vaepriors.priors import MixtureParams
from vaepriors.training.randomness import RunRandomness


def _posterior():
    mu = torch.tensor([[[0.5, -1.0], [2.0, 0.3]]])
    logvar = torch.tensor([[[-1.0, 0.2], [0.5, -2.0]]])
    return mu, logvar


def test_closed_form_matches_textbook_and_monte_carlo_for_a_gaussian_prior():
    mu, logvar = _posterior()
    prior = MixtureParams(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), torch.zeros(1, 1))
    closed = ClosedFormKL()(mu, logvar, prior, None).per_sample
    textbook = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(-1)
    torch.testing.assert_close(closed, textbook)
    mc = MonteCarloKL(200_000)(mu, logvar, prior, RunRandomness([0])).per_sample
    torch.testing.assert_close(mc, closed, atol=0.02, rtol=0.01)


def test_monte_carlo_mog_kl_matches_grid_quadrature():
    mu_q, logvar_q = torch.tensor([[[0.3, -0.2]]]), torch.tensor([[[-1.5, -0.5]]])
    prior = MixtureParams(torch.tensor([[[-1.0, 0.0], [1.0, 0.5], [0.0, -1.5]]]),
                          torch.tensor([[[-0.5, 0.0], [0.3, -1.0], [0.0, 0.0]]]),
                          torch.log(torch.tensor([[0.2, 0.5, 0.3]])))
    axis = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    z = torch.stack([xs.flatten(), ys.flatten()], dim=1)[None]
    q = MixtureParams(mu_q.double(), logvar_q.double(), torch.zeros(1, 1, dtype=torch.float64))
    log_q = q.log_density(z)
    log_p = MixtureParams(*(t.double() for t in (prior.mu, prior.logvar, prior.log_weights))).log_density(z)
    cell = (axis[1] - axis[0]) ** 2
    brute_force = (log_q.exp() * (log_q - log_p)).sum() * cell
    mc = MonteCarloKL(200_000)(mu_q, logvar_q, prior, RunRandomness([1])).per_sample
    assert abs(mc.item() - brute_force.item()) < 0.02


def test_monte_carlo_kl_is_zero_when_posterior_equals_one_component_prior():
    mu, logvar = torch.tensor([[[0.4, 0.1]]]), torch.tensor([[[-0.3, 0.2]]])
    prior = MixtureParams(mu.clone(), logvar.clone(), torch.zeros(1, 1))
    eps = torch.randn(1, 1, 64, 2)
    assert kl_monte_carlo(mu, logvar, prior, eps).per_sample.abs().max() < 1e-5


def test_responsibilities_follow_the_nearest_component():
    prior = MixtureParams(torch.tensor([[[-10.0, 0.0], [10.0, 0.0]]]), torch.zeros(1, 2, 2),
                          torch.full((1, 2), math.log(0.5)))
    mu, logvar = torch.tensor([[[10.0, 0.0], [10.0, 0.0], [-10.0, 0.0]]]), torch.full((1, 3, 2), -4.0)
    result = kl_monte_carlo(mu, logvar, prior, torch.randn(1, 3, 16, 2), responsibilities=True)
    torch.testing.assert_close(result.mean_responsibility, torch.tensor([[1 / 3, 2 / 3]]), atol=1e-4, rtol=0)


def test_expanded_quadratic_form_matches_the_direct_float64_density():
    generator = torch.Generator().manual_seed(0)
    z = 5 * torch.rand(2, 300, 2, generator=generator) - 2.5
    prior = MixtureParams(3 * torch.rand(2, 16, 2, generator=generator) - 1.5,
                          8 * torch.rand(2, 16, 2, generator=generator) - 6.0,
                          torch.log_softmax(torch.randn(2, 16, generator=generator), -1))
    direct = (prior.log_weights.double().unsqueeze(1)
              - 0.5 * (((z.double().unsqueeze(-2) - prior.mu.double().unsqueeze(1)).square()
                        * torch.exp(-prior.logvar.double()).unsqueeze(1)).sum(-1)
                       + prior.logvar.double().sum(-1).unsqueeze(1) + 2 * math.log(2 * math.pi)))
    torch.testing.assert_close(prior.log_joint(z).double(), direct, atol=2e-3, rtol=1e-5)
