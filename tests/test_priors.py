import pytest
import torch

from vaepriors.models.stacked import StackedMLP
from vaepriors.priors import MixtureOfGaussiansPrior, MixtureParams, VampPrior
from vaepriors.training.randomness import RunRandomness


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


def test_random_mog_init_follows_the_authors_scaling():
    generators = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]
    mog = MixtureOfGaussiansPrior.random(2, 400, 2, learnable_contributions=True, generators=generators)
    assert mog.mu.shape == (2, 400, 2) and isinstance(mog.logits, torch.nn.Parameter)
    assert mog.mu.std().item() == pytest.approx(1 / (400 * 2) ** 0.5, rel=0.1)  # N(0, 1) / sqrt(K d)
    assert mog.logvar.std().item() == pytest.approx(1.0, rel=0.1)
    assert not torch.equal(mog.mu[0], mog.mu[1])
