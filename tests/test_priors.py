import math

import pytest
import torch

from vaepriors.core.nets.stacked import StackedMLP
from vaepriors.core.priors import MixtureOfGaussiansPrior, MixtureParams, VampPrior
from vaepriors.core.randomness import RunRandomness


def _encoder(runs=1):
    encoder = StackedMLP(runs, 2, 4, hidden=8, hidden_layers=2)
    encoder.reset_parameters([torch.Generator().manual_seed(r) for r in range(runs)])
    return encoder


def test_vamp_components_are_encoder_posteriors_of_the_pseudo_inputs():
    encoder, pseudo = _encoder(), torch.randn(1, 5, 2)
    prior = VampPrior(pseudo, learnable_contributions=False)
    params = prior.distribution(encoder)
    mu, logvar = encoder(pseudo).chunk(2, dim=-1)
    torch.testing.assert_close(params.mu, mu)
    torch.testing.assert_close(params.logvar, logvar)
    torch.testing.assert_close(params.log_weights.exp(), torch.full((1, 5), 0.2))
    assert prior.trainable_parameters() == [prior.pseudo_inputs]


def test_vamp_to_mog_weights_authors_quirk_and_preserved():
    encoder = _encoder()
    prior = VampPrior(torch.randn(1, 4, 2), learnable_contributions=True)
    with torch.no_grad():
        prior.logits.copy_(torch.tensor([[3.0, 0.0, -1.0, 0.5]]))
    learned = torch.softmax(prior.logits, -1)
    authors = prior.to_mixture(encoder, "authors").distribution(encoder).log_weights.exp()
    preserved = prior.to_mixture(encoder, "preserve").distribution(encoder).log_weights.exp()
    torch.testing.assert_close(authors, torch.softmax(learned, -1))  # softmax(softmax(w)): nearly uniform
    torch.testing.assert_close(preserved, learned)
    mog = prior.to_mixture(encoder, "preserve")
    torch.testing.assert_close(mog.mu, prior.distribution(encoder).mu)
    assert isinstance(mog.logits, torch.nn.Parameter)


def test_non_learnable_contributions_are_not_parameters():
    mog = MixtureOfGaussiansPrior(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2), torch.zeros(2, 3), False)
    assert {id(p) for p in mog.trainable_parameters()} == {id(mog.mu), id(mog.logvar)}


def test_prior_samples_match_mixture_moments_and_are_reparameterised():
    mu = torch.tensor([[[-2.0, 0.0], [3.0, 1.0]]], requires_grad=True)
    logvar = torch.tensor([[[-2.0, -2.0], [0.0, -1.0]]], requires_grad=True)
    logits = torch.log(torch.tensor([[0.25, 0.75]])).requires_grad_()
    params = MixtureParams(mu, logvar, logits)
    z = params.sample(200_000, RunRandomness([0]))
    weights = torch.tensor([0.25, 0.75])
    expected_mean = (weights[:, None] * mu[0]).sum(0)
    torch.testing.assert_close(z[0].mean(0), expected_mean.detach(), atol=0.02, rtol=0)
    z.sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0
    assert logits.grad is None  # the component choice is not differentiable, as the authors' multinomial


def test_samples_per_run_do_not_depend_on_the_other_runs():
    params = MixtureParams(torch.randn(3, 4, 2), torch.randn(3, 4, 2), torch.log_softmax(torch.randn(3, 4), -1))
    together = params.sample(10, RunRandomness([5, 6, 7]))
    alone = MixtureParams(params.mu[1:2], params.logvar[1:2], params.log_weights[1:2]).sample(10,
                         RunRandomness([6]))
    torch.testing.assert_close(together[1:2], alone)


def _float64_log_joint(params: MixtureParams, z: torch.Tensor) -> torch.Tensor:
    """The direct formula, sum_j ((z_j - mu_kj) / sigma_kj)^2, in float64 on the same (float32) inputs."""
    mu, logvar, log_weights, z = (t.double() for t in (params.mu, params.logvar, params.log_weights, z))
    quadratic = ((z.unsqueeze(-2) - mu.unsqueeze(1)) * torch.exp(-0.5 * logvar).unsqueeze(1)).square().sum(-1)
    return log_weights.unsqueeze(1) - 0.5 * (quadratic + logvar.sum(-1).unsqueeze(1)
                                             + z.shape[-1] * math.log(2 * math.pi))


def _sharp_mixture_and_points(dim, components, log_variance, n, seed):
    generator = torch.Generator().manual_seed(seed)
    params = MixtureParams(torch.randn(1, components, dim, generator=generator),
                           torch.full((1, components, dim), log_variance),
                           torch.log_softmax(torch.randn(1, components, generator=generator), -1))
    near, _ = params.sample_with_components(n, RunRandomness([seed]))  # z ~ p: around the means
    far = torch.randn(1, n, dim, generator=generator)  # N(0, 1), away from every sharp component
    return params, near, far


@pytest.mark.parametrize("dim, components, log_variance", [(128, 100, -10.0), (2, 64, -18.0)])
def test_log_joint_of_sharp_components_is_as_exact_as_float32_allows(dim, components, log_variance):
    # The expanded float32 matmul was off by 2 nats (d = 128, log-variance -10) and 50 nats (2D, -18) near the means.
    params, near, far = _sharp_mixture_and_points(dim, components, log_variance, 500, seed=3)
    spread = MixtureParams(3 * params.mu, params.logvar, params.log_weights)  # means and z 3x farther from 0
    for prior, z in ((params, near), (params, far), (spread, 3 * near)):
        joint = prior.log_joint(z)
        assert joint.dtype == torch.float32
        reference = _float64_log_joint(prior, z)
        # 0.01 nats, plus one float32 ulp of the result where log p itself is ~ -1e6 (far from every component)
        tolerance = 0.01 + 1.2e-7 * reference.abs()
        assert ((joint.double() - reference).abs() <= tolerance).all()
        log_p, reference_log_p = torch.logsumexp(joint, -1).double(), torch.logsumexp(reference, -1)
        assert ((log_p - reference_log_p).abs() <= 0.01 + 1.2e-7 * reference_log_p.abs()).all()
    near_error = (params.log_density(near).double() - torch.logsumexp(_float64_log_joint(params, near), -1)).abs()
    assert near_error.max() < 1e-3


def test_log_joint_gradients_flow_to_z_and_every_prior_parameter():
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(2, 3, 2, generator=generator, dtype=torch.float64),
              torch.randn(2, 4, 2, generator=generator, dtype=torch.float64),
              torch.randn(2, 4, 2, generator=generator, dtype=torch.float64) - 1,
              torch.log_softmax(torch.randn(2, 4, generator=generator, dtype=torch.float64), -1)]
    inputs = [t.requires_grad_() for t in inputs]

    def log_joint(z, mu, logvar, log_weights):
        return MixtureParams(mu, logvar, log_weights).log_joint(z)

    assert torch.autograd.gradcheck(log_joint, inputs)
    torch.testing.assert_close(log_joint(*inputs), _float64_log_joint(MixtureParams(*inputs[1:]), inputs[0]))


def test_log_joint_in_chunks_of_n_equals_one_block(monkeypatch):
    from vaepriors.core.priors import base

    params = MixtureParams(torch.randn(2, 5, 3, requires_grad=True), torch.randn(2, 5, 3),
                           torch.log_softmax(torch.randn(2, 5), -1))
    z = torch.randn(2, 37, 3)
    whole = params.log_joint(z)
    monkeypatch.setattr(base, "LOG_JOINT_CHUNK_BYTES", 8 * 2 * 5 * 4)  # 4 points per chunk
    chunked = params.log_joint(z)
    torch.testing.assert_close(chunked, whole, atol=0, rtol=0)
    chunked.sum().backward()
    assert params.mu.grad.abs().sum() > 0
    assert params.log_joint(z[:, :0]).shape == (2, 0, 5)
