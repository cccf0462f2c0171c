import math

import pytest
import torch

from vaepriors.core.losses.kl import (ClosedFormKL, MonteCarloKL, has_closed_form_kl, kl_closed_form, kl_entropy_form,
                                 kl_monte_carlo, kl_single_sample)
from vaepriors.core.priors import DecoupledPrior, DecoupledPriorConfig, MixtureParams, StandardGaussianPrior
from vaepriors.core.priors.base import NoGenerationSpace
from vaepriors.core.randomness import RunRandomness


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


# -- dpVAE's KL (Eq. 24 and its dispatch) and the one-Gaussian generation space ------------------------------------

def test_single_sample_kl_is_closed_form_for_a_gaussian_and_eq_24_for_a_flow():
    mu, logvar = _posterior()
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(2))
    standard = StandardGaussianPrior(1, 2).distribution(None)
    flow = DecoupledPrior(DecoupledPriorConfig(2, identity_init=True)).distribution()  # N(0, I) as a flow
    assert has_closed_form_kl(standard) and not has_closed_form_kl(flow)
    assert torch.equal(kl_single_sample(mu, logvar, z, standard), kl_closed_form(mu, logvar, standard))
    assert torch.equal(kl_single_sample(mu, logvar, z, flow), kl_entropy_form(mu, logvar, z, flow))
    # Eq. (24) = -H[q] - log p(z): its mean over z ~ q is the closed form; here by hand for one z
    by_hand = 0.5 * (z.square() - 1 - logvar).sum(-1)
    torch.testing.assert_close(kl_entropy_form(mu, logvar, z, standard), by_hand)


def test_a_gaussian_is_the_affine_image_of_n01_and_the_standard_one_the_identity():
    z = torch.randn(1, 5, 2, generator=torch.Generator().manual_seed(3))
    standard = MixtureParams(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), torch.zeros(1, 1))
    z0, log_det = standard.to_generation_space(z)
    assert torch.equal(z0, z) and torch.equal(standard.from_generation_space(z), z) and not log_det.any()
    gaussian = MixtureParams(torch.tensor([[[1.0, -2.0]]]), torch.tensor([[[0.5, -1.0]]]), torch.zeros(1, 1))
    z0, log_det = gaussian.to_generation_space(z)
    torch.testing.assert_close(gaussian.from_generation_space(z0), z)
    normal = torch.distributions.Normal(0.0, 1.0)
    torch.testing.assert_close(normal.log_prob(z0).sum(-1) + log_det, gaussian.log_density(z))
    mixture = MixtureParams(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2))
    with pytest.raises(NoGenerationSpace, match="2 Gaussians"):
        mixture.to_generation_space(z)
