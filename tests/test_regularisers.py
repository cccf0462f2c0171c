import math

import pytest
import torch

from vaepriors.core.losses.kl import kl_entropy_form
from vaepriors.core.losses.regularisers import (REGULARISERS, SAMPLING, BetaTCVAE, BetaVAEB, BetaVAEH, FactorVAE,
                                           InfoVAE, discriminator_network, make_regulariser, mmd, permute_dims,
                                           prior_samples, rbf_kernel, tc_decomposition)
from vaepriors.core.losses.regularisers.base import LatentBatch
from vaepriors.core.priors import DecoupledPrior, DecoupledPriorConfig, MixtureParams, StandardGaussianPrior
from vaepriors.core.randomness import RunRandomness


def _batch(n=6, dim=3, seed=0, runs=1):
    """x, x_hat (R, N, 1, 2, 2) and mu, logvar, z (R, N, L): a batch of ``runs`` stacked runs."""
    g = torch.Generator().manual_seed(seed)
    x, x_hat = torch.rand(runs, n, 1, 2, 2, generator=g), torch.rand(runs, n, 1, 2, 2, generator=g)
    mu, logvar = torch.randn(runs, n, dim, generator=g), 0.3 * torch.randn(runs, n, dim, generator=g)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(runs, n, dim, generator=g)
    return x, x_hat, mu, logvar, z


def _sse(x, x_hat):
    return (x - x_hat).square().flatten(2).sum(-1)


def _textbook_kl(mu, logvar):
    return -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(-1)


def standard_normal_prior(dim):
    """N(0, I) of one run, as a dpVAE's standard prior."""
    return StandardGaussianPrior(1, dim).distribution(None)


def _flow_like(dim):
    """N(0, I) without a closed-form KL, as a decoupled prior is seen: an identity flow."""
    return DecoupledPrior(DecoupledPriorConfig(dim, identity_init=True)).distribution()


def _rnd(*seeds):
    """The runs' noise streams (one run, seed 0, by default)."""
    return RunRandomness(seeds or (0,))


def log_prior(prior, z):
    """log p(z) (R, N) of z (R, N, L) under a prior of R runs."""
    return prior.log_density(z)


def _kl_to_prior(mu, logvar, z, prior):
    """Eq. (24) per sample (N,) for one run."""
    return kl_entropy_form(mu.unsqueeze(0), logvar.unsqueeze(0), z.unsqueeze(0), prior).squeeze(0)


def _gaussian_posterior_batch(means, sigma):
    """A posterior batch with equal isotropic posteriors N(mean_n, sigma^2 I) and one sample each."""
    logvar = torch.full_like(means, 2 * math.log(sigma))
    z = means + sigma * torch.randn(means.shape, generator=torch.Generator().manual_seed(7))
    return LatentBatch(means, logvar, z, torch.zeros(len(means)))


# --- contract, registry, KL -----------------------------------------------------------------------------------

def test_registry_builds_every_regulariser_by_name_and_rejects_unknown_names():
    assert set(REGULARISERS) == {"vae", "beta_h", "beta_b", "beta_tc", "factor", "info"}
    needs = {"beta_tc": dict(dataset_size=100), "factor": dict(latent_dim=3, hidden=8)}
    x, x_hat, mu, logvar, z = _batch()
    for name, cls in REGULARISERS.items():
        regulariser = make_regulariser(name, **needs.get(name, {}))
        assert type(regulariser) is cls
        loss, terms = regulariser(x, x_hat, mu, logvar, z, 10, standard_normal_prior(3), _rnd())
        assert loss.shape == (1,) and torch.isfinite(loss).all() and {"rec", "kl"} <= set(terms)
        assert all(not value.requires_grad and value.shape == (1,) for value in terms.values())
    with pytest.raises(ValueError, match="beta_h"):
        make_regulariser("beta")
    with pytest.raises(ValueError, match="per_sample"):
        BetaVAEH(reduction="mean")
    with pytest.raises(ValueError, match="mss"):
        BetaTCVAE(dataset_size=10, sampling="stratified")


def test_beta_vae_h_is_rec_plus_four_closed_form_kl():
    x, x_hat, mu, logvar, z = _batch()
    loss, terms = BetaVAEH()(x, x_hat, mu, logvar, z, 0, standard_normal_prior(3), _rnd())
    expected = _sse(x, x_hat).mean(-1) + 4.0 * _textbook_kl(mu, logvar).mean(-1)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(terms["kl"], _textbook_kl(mu, logvar).mean(-1))


def test_sampled_kl_for_a_prior_without_closed_form_is_unbiased_and_uses_the_given_z():
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[-0.7, 0.4]])
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 2, generator=torch.Generator().manual_seed(1))
    mus, logvars = mu.expand_as(z), logvar.expand_as(z)
    sampled = _kl_to_prior(mus, logvars, z, _flow_like(2))
    assert abs(sampled.mean().item() - _textbook_kl(mu, logvar).item()) < 0.01
    # the posterior itself as prior: -H - log q(z) has zero mean and is exactly zero at z = mu + sigma * eps with
    # ||eps||^2 = L (the entropy's L/2)
    own = MixtureParams(mu.unsqueeze(0), logvar.unsqueeze(0), torch.zeros(1, 1))
    at_unit_eps = mu + torch.exp(0.5 * logvar)
    torch.testing.assert_close(_kl_to_prior(mu, logvar, at_unit_eps, own), torch.zeros(1), atol=1e-6, rtol=0)


def test_authors_reduction_sums_rec_and_kl_so_the_elbo_scales_by_the_batch_size():
    x, x_hat, mu, logvar, z = _batch(n=6)
    prior = standard_normal_prior(3)
    per_sample = BetaVAEH()(x, x_hat, mu, logvar, z, 0, prior, _rnd())[0]
    authors = BetaVAEH(reduction="authors")(x, x_hat, mu, logvar, z, 0, prior, _rnd())[0]
    torch.testing.assert_close(authors, 6 * per_sample)
    # batch statistics are not summed: InfoVAE's rec and KL scale by B, its MMD does not
    info_mean = InfoVAE()(x, x_hat, mu, logvar, z, 0, prior, _rnd(3))[1]
    info_sum = InfoVAE(reduction="authors")(x, x_hat, mu, logvar, z, 0, prior, _rnd(3))[1]
    torch.testing.assert_close(info_sum["rec"], 6 * info_mean["rec"])
    torch.testing.assert_close(info_sum["kl"], 6 * info_mean["kl"])
    torch.testing.assert_close(info_sum["mmd"], info_mean["mmd"])


def stacked_priors(runs):
    """A prior of ``runs`` runs and its one-run prior of run 1, for every prior kind a dpVAE trains with."""
    flows = [DecoupledPrior(DecoupledPriorConfig(3, hidden=8), generators=[torch.Generator().manual_seed(s)
                                                                           for s in seeds])
             for seeds in ([4, 5, 6][:runs], [5])]
    return {"standard": (StandardGaussianPrior(runs, 3).distribution(None), standard_normal_prior(3)),
            "decoupled": (flows[0].distribution(), flows[1].distribution())}


@pytest.mark.parametrize("prior", ["standard", "decoupled"])
@pytest.mark.parametrize("name", sorted(REGULARISERS))
def test_a_run_of_a_stack_gets_the_loss_and_terms_it_gets_alone(name, prior):
    """Every penalty works per run on the last two axes: run 1 of a stack of three equals run 1 alone, with its own
    noise stream and (FactorVAE) its own discriminator and permutations."""
    x, x_hat, mu, logvar, z = _batch(n=8, dim=3, runs=3)
    stacked_prior, alone_prior = stacked_priors(3)[prior]
    needs = {"beta_tc": lambda seeds: dict(dataset_size=100),
             "factor": lambda seeds: dict(latent_dim=3, hidden=8, discriminator_seeds=seeds,
                                          permutations=RunRandomness(seeds))}
    make = needs.get(name, lambda seeds: {})
    stack = make_regulariser(name, **make((10, 11, 12)))
    alone = make_regulariser(name, **make((11,)))
    loss, terms = stack(x, x_hat, mu, logvar, z, 7, stacked_prior, _rnd(1, 2, 3))
    loss_1, terms_1 = alone(x[1:2], x_hat[1:2], mu[1:2], logvar[1:2], z[1:2], 7, alone_prior, _rnd(2))
    torch.testing.assert_close(loss[1:2], loss_1)
    for key, value in terms_1.items():
        torch.testing.assert_close(terms[key][1:2], value, msg=key)
    if name == "factor":
        d_stack, d_alone = stack.discriminator_step(z, z.flip(1)), alone.discriminator_step(z[1:2], z[1:2].flip(1))
        for key, value in d_alone.items():
            torch.testing.assert_close(d_stack[key][1:2], value, msg=key)
        torch.testing.assert_close(stack.discriminator(z)[1], alone.discriminator(z[1:2])[0])


# --- beta-VAE-B ---------------------------------------------------------------------------------------------------

def test_capacity_rises_linearly_to_c_max_at_c_stop_then_stays():
    regulariser = BetaVAEB()
    assert [regulariser.capacity(s) for s in (0, 25_000, 50_000, 100_000, 250_000)] == [0, 6.25, 12.5, 25, 25]


def test_beta_vae_b_penalises_the_distance_of_the_kl_from_the_capacity():
    x, x_hat, mu, logvar, z = _batch()
    kl = _textbook_kl(mu, logvar).mean(-1)
    for step in (0, 20_000, 100_000):
        capacity = 25.0 * min(step / 100_000, 1.0)
        loss, terms = BetaVAEB()(x, x_hat, mu, logvar, z, step, standard_normal_prior(3), _rnd())
        torch.testing.assert_close(loss, _sse(x, x_hat).mean(-1) + 15.0 * (kl - capacity).abs())
        assert terms["capacity"].item() == capacity


def test_authors_dp_kl_adds_half_the_latent_dim_per_sample_only_for_a_flow_prior():
    x, x_hat, mu, logvar, z = _batch(n=4, dim=3)
    standard, flow = standard_normal_prior(3), _flow_like(3)
    for prior, offset in ((standard, 0.0), (flow, 1.5 * 4)):
        exact = BetaVAEB(reduction="authors", c_max=1e6)(x, x_hat, mu, logvar, z, 0, prior, _rnd())[0]
        paper = BetaVAEB(reduction="authors", c_max=1e6, authors_dp_kl=True)(x, x_hat, mu, logvar, z, 0, prior,
                                                                            _rnd())[0]
        torch.testing.assert_close(paper - exact, torch.tensor([15.0 * offset]))  # KL > C = 0 at step 0


# --- beta-TCVAE ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mss", "mss_authors"])
def test_stratified_weight_rows_sum_to_one(name):
    weights = SAMPLING[name](5, 1000).exp()
    if name == "mss":
        torch.testing.assert_close(weights.sum(1), torch.ones(5))
        torch.testing.assert_close(weights.diagonal(), torch.full((5,), 1e-3))
        assert ((weights - 1 / 4).abs() > 1e-9).sum(1).tolist() == [2] * 5
    else:  # the authors' strided fill: 1/N sits in column 0, the own posterior of rows >= 2 keeps 1/M
        assert torch.allclose(weights[[0, 1, 2, 4], 0], torch.tensor(1e-3))
        assert torch.allclose(weights.diagonal()[2:], torch.tensor(1 / 4))


def test_tc_of_a_factorised_batch_is_zero_under_mss_and_the_known_log_n_offset_under_mws():
    g = torch.Generator().manual_seed(0)
    batch = _gaussian_posterior_batch(torch.randn(1500, 2, generator=g), sigma=0.3)
    dataset_size, log_p = 60_000, log_prior(standard_normal_prior(2), batch.z[None])[0]
    tc = {name: tc_decomposition(batch, log_p, SAMPLING[name](1500, dataset_size))["tc"].mean().item()
          for name in ("mss", "mws")}
    assert abs(tc["mss"]) < 0.02
    # MWS weights sum to 1/N: every log-density is low by log N, so TC = (L - 1) log N + ~0
    assert abs(tc["mws"] - math.log(dataset_size)) < 0.02


def test_tc_of_a_correlated_gaussian_batch_matches_the_analytic_value():
    rho, sigma = 0.8, 0.3
    cholesky = torch.linalg.cholesky(torch.tensor([[1.0, rho], [rho, 1.0]]))
    means = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2)) @ cholesky.T
    batch = _gaussian_posterior_batch(means, sigma)
    tc = tc_decomposition(batch, torch.zeros(2000), SAMPLING["mss"](2000, 60_000))["tc"].mean().item()
    aggregate_rho = rho / (1 + sigma ** 2)  # q(z) = N(0, C + sigma^2 I): TC = 0.387
    assert abs(tc - (-0.5 * math.log(1 - aggregate_rho ** 2))) < 0.06  # sampling noise of the estimate ~0.03


@pytest.mark.parametrize("sampling", sorted(SAMPLING))
def test_mi_tc_and_dimension_wise_kl_add_up_to_the_sampled_kl(sampling):
    x, x_hat, mu, logvar, z = _batch(n=8, dim=3)
    prior = _flow_like(3)
    loss, terms = BetaTCVAE(dataset_size=500, alpha=1, beta=1, gamma=1, sampling=sampling)(
        x, x_hat, mu, logvar, z, 0, prior, _rnd())
    log_q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    sampled_kl = (log_q - log_prior(prior, z)).mean(-1)
    torch.testing.assert_close(terms["mi"] + terms["tc"] + terms["dw_kl"], sampled_kl)
    torch.testing.assert_close(loss, _sse(x, x_hat).mean(-1) + sampled_kl)


def test_table_2_weights_map_to_mi_tc_and_dimension_wise_kl_and_log_p_comes_from_the_prior():
    x, x_hat, mu, logvar, z = _batch(n=8, dim=3)
    prior = standard_normal_prior(3)
    regulariser = BetaTCVAE(dataset_size=500, sampling="mss")
    loss, terms = regulariser(x, x_hat, mu, logvar, z, 0, prior, _rnd())
    torch.testing.assert_close(loss, terms["rec"] + terms["mi"] + 4 * terms["tc"] + 15 * terms["dw_kl"])
    shifted = MixtureParams(prior.mu, prior.logvar, torch.full((1, 1), 2.0))  # e.g. a flow's log-det Jacobian
    terms_shifted = regulariser(x, x_hat, mu, logvar, z, 0, shifted, _rnd())[1]
    torch.testing.assert_close(terms_shifted["dw_kl"], terms["dw_kl"] - 2.0)
    torch.testing.assert_close(terms_shifted["tc"], terms["tc"])


# --- FactorVAE ----------------------------------------------------------------------------------------------------

def test_permutation_keeps_each_column_marginal_and_breaks_the_rows():
    z = (torch.arange(40.0).view(20, 2) * torch.tensor([1.0, -1.0])).expand(2, 20, 2)
    permuted = permute_dims(z, _rnd(0, 1))
    torch.testing.assert_close(permuted.sort(1).values, z.sort(1).values)
    assert not torch.equal(permuted, z) and not torch.equal(permuted[0], permuted[1])  # each run its own
    assert (permuted[..., 0] != -permuted[..., 1]).any(1).all()  # rows are no longer pairs (k, -k)
    torch.testing.assert_close(permute_dims(z[1:], _rnd(1)), permuted[1:])


def test_discriminator_is_five_hidden_layers_of_1000_leaky_relu_02_with_two_logits():
    net = discriminator_network(4)
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(4, 1000)] + [(1000, 1000)] * 4 + [(1000, 2)]
    slopes = [m.negative_slope for m in net if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.2] * 5


def test_factor_vae_adds_gamma_times_the_mean_logit_difference_and_trains_z_not_the_discriminator():
    x, x_hat, mu, logvar, z = _batch(n=6, dim=3)
    z = z.requires_grad_()
    regulariser = FactorVAE(latent_dim=3, hidden=16)
    loss, terms = regulariser(x, x_hat, mu, logvar, z, 0, standard_normal_prior(3), _rnd())
    with torch.no_grad():
        logits = regulariser.discriminator(z)
    tc = (logits[..., 0] - logits[..., 1]).mean(-1)
    torch.testing.assert_close(loss, _sse(x, x_hat).mean(-1) + _textbook_kl(mu, logvar).mean(-1) + 1000 * tc)
    before = [p.clone() for p in regulariser.discriminator.parameters()]
    loss.sum().backward()
    assert z.grad.abs().sum() > 0
    assert all(torch.equal(b, p) for b, p in zip(before, regulariser.discriminator.parameters()))


def test_discriminator_step_decreases_its_loss_on_separable_inputs_and_sends_no_gradient_to_z():
    torch.manual_seed(0)
    regulariser = FactorVAE(latent_dim=2, hidden=64, lr=1e-3, permutations=_rnd(1))
    u = torch.randn(1, 128, 1)
    z = torch.cat([u, u], -1).requires_grad_()  # on the diagonal; permuted copies are not
    losses = [regulariser.discriminator_step(z, z)["d_loss"].item() for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert regulariser.discriminator_step(z, z)["d_accuracy"] > 0.9
    assert z.grad is None


def test_factor_state_dict_round_trip_restores_discriminator_and_optimiser():
    source = FactorVAE(latent_dim=2, hidden=8, permutations=_rnd())
    source.discriminator_step(torch.randn(1, 16, 2), torch.randn(1, 16, 2))
    target = FactorVAE(latent_dim=2, hidden=8)
    target.load_state_dict(source.state_dict())
    probe = torch.randn(1, 5, 2)
    torch.testing.assert_close(target.discriminator(probe), source.discriminator(probe))
    assert target.optimizer.state_dict()["state"][0]["step"] == 1


# --- InfoVAE ------------------------------------------------------------------------------------------------------

def test_mmd_is_zero_for_identical_samples_and_grows_with_a_mean_shift():
    samples = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    assert mmd(samples, samples).item() == 0.0
    values = [mmd(samples, samples + shift).item() for shift in (0.25, 0.5, 1.0, 2.0)]
    assert 0 < values[0] < values[1] < values[2] < values[3]


def test_default_kernel_is_exp_of_minus_squared_distance_over_l_squared():
    a, b = torch.zeros(1, 4), torch.tensor([[4.0, 0.0, 0.0, 0.0]])  # ||a - b|| = L = 4
    torch.testing.assert_close(rbf_kernel(a, b, 16.0), torch.tensor([[math.exp(-1.0)]]))
    reference = 2 * (1 - math.exp(-1.0))  # V-statistic of the singletons {a}, {b}
    torch.testing.assert_close(mmd(a, b), torch.tensor(reference))


def test_info_vae_weights_and_prior_samples_keep_their_gradient():
    x, x_hat, mu, logvar, z = _batch(n=6, dim=3)
    offset = torch.zeros(3, requires_grad=True)  # a learnable prior: z = z0 + offset
    prior = MixtureParams(offset.view(1, 1, 3), torch.zeros(1, 1, 3), torch.zeros(1, 1))
    loss, terms = InfoVAE()(x, x_hat, mu, logvar, z, 0, prior, _rnd(5))
    expected_mmd = mmd(z, prior_samples(prior, 6, _rnd(5)))
    torch.testing.assert_close(terms["mmd"], expected_mmd.detach())
    torch.testing.assert_close(loss, terms["rec"] + terms["kl"] + 999 * expected_mmd)
    loss.sum().backward()
    assert offset.grad.abs().sum() > 0


def test_only_factorvae_trains_a_network_of_its_own():
    """The trainer encodes a second batch for the auxiliary step only where a regulariser declares one."""
    assert {name for name, cls in REGULARISERS.items() if cls.has_auxiliary_step} == {"factor"}
    beta = make_regulariser("beta_h")
    assert beta.auxiliary_step(torch.zeros(1, 4, 2), torch.zeros(1, 4, 2)) == {}
