"""The beta-TCVAE minibatch estimator against hand computations: ``mss_authors`` is exactly the authors' estimator
(their strided weight matrix and L log W in the joint), ``mss`` the corrected one (intended weights, log W once)."""

import math

import pytest
import torch

from vaepriors.core.losses.regularisers import SAMPLING, BetaTCVAE, tc_decomposition
from vaepriors.core.losses.regularisers.base import LatentBatch
from vaepriors.core.priors import StandardGaussianPrior
from vaepriors.core.randomness import RunRandomness

N_DATA = 10
MU = [[0.3, -0.5], [1.1, 0.4], [-0.7, 0.9]]
LOGVAR = [[-0.4, 0.2], [0.1, -0.6], [-0.2, 0.3]]
Z = [[0.5, -0.2], [0.8, 0.1], [-0.3, 1.4]]
B, L = len(Z), len(Z[0])


def _latent_batch():
    mu, logvar, z = (torch.tensor(v, dtype=torch.float64) for v in (MU, LOGVAR, Z))
    return LatentBatch(mu, logvar, z, torch.zeros(B, dtype=torch.float64))


def _log_normal(x, mean, logvar):
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / math.exp(logvar))


def _log_standard_prior(i):
    return sum(_log_normal(Z[i][l], 0.0, 0.0) for l in range(L))


def _authors_weights():
    """The authors' matrix from its explicit description: 1/M everywhere, column 0 = 1/N, column 1 = (N-M)/(N M),
    W[B-2, 0] = (N-M)/(N M), M = B - 1."""
    m = B - 1
    weights = [[1 / m] * B for _ in range(B)]
    for i in range(B):
        weights[i][0] = 1 / N_DATA
        weights[i][1] = (N_DATA - m) / (N_DATA * m)
    weights[B - 2][0] = (N_DATA - m) / (N_DATA * m)
    return weights


def _intended_weights():
    """Stratified sampling as intended: own posterior 1/N, the next one (N-M)/(N M), 1/M elsewhere."""
    m = B - 1
    weights = [[1 / m] * B for _ in range(B)]
    for i in range(B):
        weights[i][i] = 1 / N_DATA
        weights[i][(i + 1) % B] = (N_DATA - m) / (N_DATA * m)
    return weights


def _hand_terms(weights, joint_weight_power):
    """Per-sample MI, TC, DW lists; the joint uses W_ij ** joint_weight_power, the marginals W_ij."""
    mi, tc, dw = [], [], []
    for i in range(B):
        own = sum(_log_normal(Z[i][l], MU[i][l], LOGVAR[i][l]) for l in range(L))
        joint = math.log(sum(
            math.exp(joint_weight_power * math.log(weights[i][j])
                     + sum(_log_normal(Z[i][l], MU[j][l], LOGVAR[j][l]) for l in range(L)))
            for j in range(B)))
        marginals = sum(
            math.log(sum(math.exp(math.log(weights[i][j]) + _log_normal(Z[i][l], MU[j][l], LOGVAR[j][l]))
                         for j in range(B)))
            for l in range(L))
        mi.append(own - joint)
        tc.append(joint - marginals)
        dw.append(marginals - _log_standard_prior(i))
    return {"mi": mi, "tc": tc, "dw_kl": dw}


def _decompose(name, log_prior=None):
    if log_prior is None:
        log_prior = torch.tensor([_log_standard_prior(i) for i in range(B)], dtype=torch.float64)
    return SAMPLING[name].decompose(_latent_batch(), log_prior, N_DATA)


def _assert_terms(terms, expected):
    for key, values in expected.items():
        torch.testing.assert_close(terms[key], torch.tensor(values, dtype=torch.float64), rtol=0, atol=1e-10)


def test_mss_authors_is_the_authors_estimator_with_l_log_w_in_the_joint():
    expected = _hand_terms(_authors_weights(), joint_weight_power=L)
    _assert_terms(_decompose("mss_authors"), expected)
    mean = {key: sum(values) / B for key, values in expected.items()}
    assert mean["mi"] == pytest.approx(1.3419854, abs=1e-6)
    assert mean["tc"] == pytest.approx(-0.9060932, abs=1e-6)


def test_mss_authors_matches_a_transcription_of_the_authors_vectorised_code():
    """YannDubs/disentangling-vae: strided fill of W, log W added to the (B, B, L) matrix before summing over l."""
    g = torch.Generator().manual_seed(3)
    batch_size, dim, n_data = 6, 4, 1000
    mu, logvar = torch.randn(batch_size, dim, generator=g, dtype=torch.float64), \
        0.5 * torch.randn(batch_size, dim, generator=g, dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(batch_size, dim, generator=g, dtype=torch.float64)

    def log_density_gaussian(x, mean, log_var):
        return -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 * torch.exp(-log_var))

    m = batch_size - 1
    strat_weight = (n_data - m) / (n_data * m)
    w = torch.full((batch_size, batch_size), 1 / m, dtype=torch.float64)
    w.view(-1)[::m + 1] = 1 / n_data
    w.view(-1)[1::m + 1] = strat_weight
    w[m - 1, 0] = strat_weight
    log_q_zcx = log_density_gaussian(z, mu, logvar).sum(1)
    log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    mat_log_qz = log_density_gaussian(z.view(batch_size, 1, dim), mu.view(1, batch_size, dim),
                                      logvar.view(1, batch_size, dim))
    mat_log_qz = mat_log_qz + w.log().view(batch_size, batch_size, 1)
    log_qz = torch.logsumexp(mat_log_qz.sum(2), dim=1)
    log_prod_qzi = torch.logsumexp(mat_log_qz, dim=1).sum(1)

    terms = SAMPLING["mss_authors"].decompose(LatentBatch(mu, logvar, z, torch.zeros(batch_size)), log_pz, n_data)
    torch.testing.assert_close(terms["mi"], log_q_zcx - log_qz, rtol=0, atol=1e-10)
    torch.testing.assert_close(terms["tc"], log_qz - log_prod_qzi, rtol=0, atol=1e-10)
    torch.testing.assert_close(terms["dw_kl"], log_prod_qzi - log_pz, rtol=0, atol=1e-10)


def test_corrected_mss_adds_log_w_once_and_differs_from_the_authors():
    expected = _hand_terms(_intended_weights(), joint_weight_power=1)
    terms = _decompose("mss")
    _assert_terms(terms, expected)
    assert terms["mi"].mean().item() == pytest.approx(0.8013498, abs=1e-6)
    assert terms["tc"].mean().item() == pytest.approx(0.0077544, abs=1e-6)
    authors = _decompose("mss_authors")
    assert (terms["mi"] - authors["mi"]).abs().min() > 0.1 and (terms["tc"] - authors["tc"]).abs().min() > 0.1
    # the authors' matrix with log W once in the joint: at B = 3 its row 0 equals the intended row (1/N, stratum,
    # 1/M), so there the whole difference to the authors' estimator is the joint's L log W
    log_w = SAMPLING["mss_authors"](B, N_DATA, torch.float64)
    once = tc_decomposition(_latent_batch(), torch.zeros(B, dtype=torch.float64), log_w)
    _assert_terms(once, {key: _hand_terms(_authors_weights(), 1)[key] for key in ("mi", "tc")})
    torch.testing.assert_close(once["mi"][0], terms["mi"][0], rtol=0, atol=1e-12)
    assert (authors["mi"][0] - terms["mi"][0]).item() == pytest.approx(1.0047003, abs=1e-6)


@pytest.mark.parametrize("name", sorted(SAMPLING))
def test_mi_tc_and_dw_add_up_to_the_single_sample_kl_per_sample(name):
    log_prior = torch.tensor([-1.3, -2.9, 0.4], dtype=torch.float64)  # any log p(z), e.g. a flow's
    terms = _decompose(name, log_prior)
    log_q_own = torch.tensor([sum(_log_normal(Z[i][l], MU[i][l], LOGVAR[i][l]) for l in range(L))
                              for i in range(B)], dtype=torch.float64)
    torch.testing.assert_close(terms["mi"] + terms["tc"] + terms["dw_kl"], log_q_own - log_prior, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["mss", "mss_authors"])
def test_beta_tcvae_penalty_uses_the_scheme_of_its_sampling_name(name):
    batch = _latent_batch()
    prior = StandardGaussianPrior(1, L).distribution(None)
    stacked = LatentBatch(*(v.float().unsqueeze(0) for v in (batch.mu, batch.logvar, batch.z, batch.kl)))
    loss, terms = BetaTCVAE(dataset_size=N_DATA, sampling=name, alpha=1.0, beta=2.0, gamma=3.0).penalty(
        stacked, 0, prior, RunRandomness((0,)))
    expected = _hand_terms(_authors_weights() if name == "mss_authors" else _intended_weights(),
                           L if name == "mss_authors" else 1)
    for key, values in expected.items():
        assert terms[key].item() == pytest.approx(sum(values) / B, abs=1e-5)
    torch.testing.assert_close(loss, terms["mi"] + 2 * terms["tc"] + 3 * terms["dw_kl"])


def test_unknown_sampling_name_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="mss_typo") as error:
        BetaTCVAE(dataset_size=N_DATA, sampling="mss_typo")
    assert all(name in str(error.value) for name in ("mws", "mss", "mss_authors"))
