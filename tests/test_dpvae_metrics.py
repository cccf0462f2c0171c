import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2, multivariate_normal

from vaepriors.studies.dpvae import metrics as m
from vaepriors.studies.dpvae.evaluation_config import SKL_SAMPLES


def gaussian_kl(mean_a, var_a, mean_b, var_b) -> float:
    """KL(N(a) || N(b)) for diagonal Gaussians given per-dimension means and variances."""
    return 0.5 * sum(math.log(vb / va) + (va + (ma - mb) ** 2) / vb - 1.0
                     for ma, va, mb, vb in zip(mean_a, var_a, mean_b, var_b))


def gaussian_samples(mean, var, n: int, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(n, len(mean), generator=generator, dtype=torch.float64)
    return torch.tensor(mean, dtype=torch.float64) + torch.tensor(var, dtype=torch.float64).sqrt() * noise


# ------------------------------------------------------------------------------------------------ sKL (1-NN)

def test_kl_1nn_hand_computed():
    # P = {0, 1}, Q = {3}: rho = (1, 1), nu = (3, 2); D = (1/2) (log 3 + log 2) + log(1 / (2 - 1)).
    p, q = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0]])
    assert m.kl_1nn(p, q) == pytest.approx(0.5 * math.log(6.0))


def test_kl_1nn_rejects_duplicate_points():
    with pytest.raises(ValueError, match="duplicate"):
        m.kl_1nn(torch.tensor([[0.0], [0.0], [1.0]]), torch.tensor([[2.0]]))


@pytest.mark.parametrize("mean_q, var_q, tolerance", [
    ((1.0,), (1.0,), 0.2),                # 1D shift: sKL = 1
    ((0.5,), (1.44,), 0.15),              # 1D shift and scale: sKL = 0.279
    ((1.0, -0.5), (0.64, 1.44), 0.25),    # 2D: sKL = 1.662
])
def test_symmetric_kl_1nn_matches_gaussian_closed_form(mean_q, var_q, tolerance):
    generator = torch.Generator().manual_seed(0)
    dim = len(mean_q)
    mean_p, var_p = (0.0,) * dim, (1.0,) * dim
    p = gaussian_samples(mean_p, var_p, SKL_SAMPLES, generator)
    q = gaussian_samples(mean_q, var_q, SKL_SAMPLES, generator)
    exact = gaussian_kl(mean_p, var_p, mean_q, var_q) + gaussian_kl(mean_q, var_q, mean_p, var_p)
    estimate = m.symmetric_kl_1nn(p, q)
    assert estimate == pytest.approx(exact, abs=tolerance)
    assert estimate == pytest.approx(m.symmetric_kl_1nn(q, p))


@pytest.mark.parametrize("dim", [1, 2])
def test_symmetric_kl_1nn_is_near_zero_for_the_same_distribution(dim):
    generator = torch.Generator().manual_seed(1)
    p = gaussian_samples((0.3,) * dim, (2.0,) * dim, SKL_SAMPLES, generator)
    q = gaussian_samples((0.3,) * dim, (2.0,) * dim, SKL_SAMPLES, generator)
    assert abs(m.symmetric_kl_1nn(p, q)) < 0.15


# ----------------------------------------------------------------------------------------- aggregate posterior

def test_mixture_of_one_posterior_is_its_gaussian_log_density():
    mu, logvar = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[0.2, -1.5, 1.0]])
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(2))
    expected = multivariate_normal(mu[0].numpy(), np.diag(logvar[0].exp().numpy())).logpdf(z.numpy())
    np.testing.assert_allclose(m.AggregatePosterior(mu, logvar).log_prob(z).numpy(), expected, rtol=1e-5)


def test_mixture_log_density_is_a_uniform_average_and_chunking_does_not_change_it():
    generator = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(5, 2, generator=generator), 0.3 * torch.randn(5, 2, generator=generator)
    z = 2 * torch.randn(11, 2, generator=generator)
    per_component = [multivariate_normal(mu[k].numpy(), np.diag(logvar[k].exp().numpy())).pdf(z.numpy())
                     for k in range(5)]
    expected = np.log(np.mean(per_component, axis=0))
    whole = m.AggregatePosterior(mu, logvar).log_prob(z)
    chunked = m.AggregatePosterior(mu, logvar, max_elements=10).log_prob(z)  # one row per chunk
    np.testing.assert_allclose(whole.numpy(), expected, rtol=1e-5)
    torch.testing.assert_close(chunked, whole)


def test_aggregate_posterior_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(M, L\)"):
        m.AggregatePosterior(torch.zeros(3, 2), torch.zeros(3, 4))


def test_aggregate_posterior_samples_have_the_mixture_moments():
    mu, logvar = torch.tensor([[-2.0, 0.0], [2.0, 1.0]]), torch.log(torch.tensor([[0.25, 1.0], [0.25, 4.0]]))
    z = m.AggregatePosterior(mu, logvar).sample(40_000, torch.Generator().manual_seed(4))
    # mean = average of means; variance = average variance + variance of the means
    torch.testing.assert_close(z.mean(0), torch.tensor([0.0, 0.5]), atol=0.04, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([0.25 + 4.0, 2.5 + 0.25]), atol=0.1, rtol=0)


def test_lowest_posterior_indices_pick_the_candidates_far_from_every_posterior():
    mu = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    aggregate = m.AggregatePosterior(mu, torch.full_like(mu, math.log(0.3)))
    near = mu.repeat(3, 1) + 0.1 * torch.randn(9, 2, generator=torch.Generator().manual_seed(5))
    far = torch.tensor([[0.0, -3.0], [-9.0, 0.0], [8.0, 8.0]])  # increasingly far: lowest q last -> first
    candidates = torch.cat([near[:4], far, near[4:]])
    chosen = m.lowest_posterior_indices(aggregate, candidates, 3)
    assert chosen.tolist() == [6, 5, 4]


# ----------------------------------------------------------------------------------------------- leakage score

def analytic_leakage(tau: float, dim: int, scale: float) -> tuple[float, float]:
    """q = N(0, s^2 I), p = h = N(0, I): log p(z) < tau  <=>  |z|^2 > r^2 = -2 tau - d log(2 pi), |z|^2 / s^2 ~ chi2_d,
    S = -d log s + |z|^2 (1 - 1/s^2) / 2 and E[X 1{X > c}] = d P(chi2_{d+2} > c). Returns (fraction, E_q[S_tau])."""
    c = max(-2.0 * tau - dim * math.log(2 * math.pi), 0.0) / scale**2
    fraction = chi2.sf(c, dim)
    tail_moment = scale**2 * dim * chi2.sf(c, dim + 2)
    return fraction, -dim * math.log(scale) * fraction + 0.5 * (1 - 1 / scale**2) * tail_moment


def test_leakage_curve_matches_chi_square_closed_form():
    dim, scale = 4, 3.0
    aggregate = m.AggregatePosterior(torch.zeros(1, dim, dtype=torch.float64),
                                     torch.full((1, dim), 2 * math.log(scale), dtype=torch.float64))
    z = aggregate.sample(200_000, torch.Generator().manual_seed(6))
    curve = m.leakage_curve(z, aggregate)
    for row in curve.rows():
        fraction, score = analytic_leakage(row["tau"], dim, scale)
        assert row["fraction_in_region"] == pytest.approx(fraction, abs=0.005)
        assert row["score"] == pytest.approx(score, abs=0.02 + 0.01 * abs(score))
        if fraction > 0.01:
            assert row["in_region_mean"] == pytest.approx(score / fraction, rel=0.03)
    assert curve.fraction_in_region[0] < 1e-3 < curve.fraction_in_region[3] < 0.99 < curve.fraction_in_region[-1]


def test_leakage_in_region_mean_is_nan_without_in_region_samples():
    curve = m.leakage_curve_from_log_densities(torch.tensor([-3.0, -4.0]), torch.tensor([-5.0, -20.0]),
                                               taus=(-30.0, -10.0, -1.0))
    assert curve.fraction_in_region.tolist() == [0.0, 0.5, 1.0]
    assert curve.score.tolist() == [0.0, 8.0, 9.0]  # S = (0 + 16) / 2, then (2 + 16) / 2
    assert math.isnan(curve.in_region_mean[0]) and curve.in_region_mean[1:].tolist() == [16.0, 9.0]


def test_leakage_uses_the_generation_space_density_without_jacobian():
    # q = N(0, s^2 I) and h(z) = z / s: log N(h(z); 0, I) = log q(z) + d log s, so S = -d log s in the region
    # (a Jacobian term would cancel it to 0), and the region is {|z / s|^2 > -2 tau - d log 2 pi}.
    dim, scale, tau = 2, 2.0, -4.0
    aggregate = m.AggregatePosterior(torch.zeros(1, dim, dtype=torch.float64),
                                     torch.full((1, dim), 2 * math.log(scale), dtype=torch.float64))
    z = aggregate.sample(50_000, torch.Generator().manual_seed(7))
    curve = m.leakage_curve(z, aggregate, to_generation_space=lambda v: v / scale, taus=(tau,))
    fraction = chi2.sf(-2 * tau - dim * math.log(2 * math.pi), dim)
    assert curve.in_region_mean.item() == pytest.approx(-dim * math.log(scale), rel=1e-9)
    assert curve.fraction_in_region.item() == pytest.approx(fraction, abs=0.01)


# --------------------------------------------------------------------------------------------------------- NLL

NOISE_VAR = 0.5  # p(x|z) = N(x; z, s^2 I), p(z) = N(0, I)  =>  p(x) = N(0, (1 + s^2) I)


def linear_gaussian_log_likelihood(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return m.gaussian_log_likelihood(x, z, NOISE_VAR)


def exact_log_marginal(x: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(0.0, math.sqrt(1 + NOISE_VAR)).log_prob(x).sum(-1)


def negative_elbo(x, mu, logvar) -> torch.Tensor:
    """-E_q[log N(x; z, s^2)] + KL(N(mu, var) || N(0, 1)), closed form per image."""
    var = logvar.exp()
    expected_nll = 0.5 * (((x - mu).square() + var) / NOISE_VAR + math.log(2 * math.pi * NOISE_VAR)).sum(-1)
    return expected_nll + 0.5 * (var + mu.square() - 1 - logvar).sum(-1)


X = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-2.5, 1.0]], dtype=torch.float64)


def test_is_nll_with_the_exact_posterior_is_exact_for_any_k():
    def exact_posterior(x):  # q(z|x) = p(z|x): every importance weight equals p(x)
        return x / (1 + NOISE_VAR), torch.full_like(x, math.log(NOISE_VAR / (1 + NOISE_VAR)))

    nll = m.importance_sampled_nll(X, linear_gaussian_log_likelihood, m.standard_normal_log_prob, exact_posterior,
                                   num_samples=3, chunk_size=2, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(nll, -exact_log_marginal(X))


def test_is_nll_with_a_poor_posterior_converges_to_the_marginal_and_beats_the_elbo():
    def poor_posterior(x):  # shrunk, shifted mean and too-wide variance
        return 0.5 * x + 0.2, torch.full_like(x, math.log(0.6))

    nll = m.importance_sampled_nll(X, linear_gaussian_log_likelihood, m.standard_normal_log_prob, poor_posterior,
                                   num_samples=4_000, chunk_size=1_000, generator=torch.Generator().manual_seed(9))
    mu, logvar = poor_posterior(X)
    gap = negative_elbo(X, mu, logvar) + exact_log_marginal(X)  # KL(q || p(z|x)) > 0.25 nats here
    assert torch.all(gap > 0.25)
    torch.testing.assert_close(nll, -exact_log_marginal(X), atol=0.03, rtol=0)
    assert torch.all(nll < negative_elbo(X, mu, logvar))


def test_decoupled_prior_log_prob_adds_the_log_determinant():
    # g(z) = 2z + 1 in 2D: p(z) = N(2z + 1; 0, I) * 4 = N(z; -1/2, I/4)
    z = torch.tensor([[0.1, -0.3], [1.0, 2.0]], dtype=torch.float64)
    log_p = m.decoupled_prior_log_prob(z, lambda v: (2 * v + 1, torch.full((v.shape[0],), 2 * math.log(2.0),
                                                                          dtype=v.dtype)))
    expected = torch.distributions.Normal(-0.5, 0.5).log_prob(z).sum(-1)
    torch.testing.assert_close(log_p, expected)


def test_gaussian_log_likelihood_with_half_variance_is_sse_plus_constant():
    x, mean = torch.rand(2, 1, 3, 3, generator=torch.Generator().manual_seed(10)), torch.zeros(2, 1, 3, 3)
    sse = x.square().flatten(1).sum(1)
    torch.testing.assert_close(m.gaussian_log_likelihood(x, mean), -sse - 4.5 * math.log(math.pi))


def test_batch_negative_elbo_paper_hand_computed():
    # batches: (10 * 30 + 5) / 10 = 30.5 and (10 * 40 + 15) / 10 = 41.5; mean 36.0; / 1000
    value = m.batch_negative_elbo_paper(torch.tensor([30.0, 40.0]), torch.tensor([5.0, 15.0]), mse_weight=10.0)
    assert value == pytest.approx(0.036)
