import json
import math

import numpy as np
import pytest
import torch

from vaepriors.core.data.images import ImageData
from vaepriors.core.evaluation.feature_classifier import train_feature_classifier
from vaepriors.core.losses.kl import kl_entropy_form
from vaepriors.studies.dpvae import evaluate as dpvae_evaluate
from vaepriors.studies.dpvae.config import DpVAEConfig, DpVAEStackConfig
from vaepriors.studies.dpvae.evaluate import DpVAEEvalConfig, authors_kl, evaluate_dpvae, write_dpvae_evaluation
from vaepriors.studies.dpvae.metrics import AggregatePosterior
from vaepriors.studies.dpvae.model import build_dpvae
from vaepriors.studies.dpvae.moons import two_moons
from vaepriors.studies.dpvae.trainer import run_dpvae

TINY = dict(skl_samples=60, reference_posteriors=24, leakage_samples=50, nll_samples=6, nll_examples=10,
            nll_batch_size=5, nll_chunk_size=4, fid_images=16, lp_candidate_factor=3, fid_batch_size=16,
            batch_size=32, figure_samples=40, top_samples=3, grid_images=6, traversal_dims=2, traversal_steps=5,
            interpolation_steps=4, density_grid=9)
RECORD_KEYS = {"dataset", "regulariser", "prior", "seed", "latent_dim", "iteration", "diverged", "skl",
               "skl_generation_space", "nll_is", "batch_nelbo_paper", "leakage", "fid", "fid_lp", "fid_extractor",
               "heldout_examples", "reference_posteriors", "eval_config"}
COMMON_ARRAYS = {
    "prior_z": (40, 2), "prior_z0": (40, 2), "prior_log_q": (40,), "prior_log_p": (40,), "prior_log_p0": (40,),
    "prior_lp_mask": (40,), "low_posterior_z": (3, 2), "posterior_z": (40, 2), "posterior_z0": (40, 2),
    "posterior_log_q": (40,), "high_posterior_z": (3, 2), "leakage_tau": (6,), "leakage_in_region_mean": (6,),
    "traversal_z": (2, 5, 2), "traversal_offsets": (5,), "interpolation_z": (4, 2), "interpolation_z0": (4, 2),
    "grid_axis": (9,), "grid_log_q": (9, 9), "grid_log_p": (9, 9), "grid0_log_q": (9, 9),
}


@pytest.fixture(scope="module")
def moons():
    return two_moons(seed=0, n_train=64, n_test=40)


@pytest.fixture(scope="module")
def moons_run(moons, tmp_path_factory):
    """A decoupled-prior beta-VAE-H trained for 2 iterations."""
    out = tmp_path_factory.mktemp("moons")
    config = DpVAEConfig(dataset="moons", regulariser="beta_h", prior="decoupled", flow_hidden=8, batch_size=16,
                         iterations=2, log_every=1, checkpoint_every=2)
    run_dpvae(config, moons.train, [out], out / "checkpoint.pt")
    return out / "final.pt"


@pytest.fixture(scope="module")
def moons_evaluated(moons, moons_run):
    return evaluate_dpvae(moons_run, moons, DpVAEEvalConfig(**TINY))


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def test_two_moons_record_has_finite_metrics_and_no_fid(moons_evaluated):
    record, _ = moons_evaluated
    assert RECORD_KEYS <= set(record)
    assert (record["dataset"], record["regulariser"], record["prior"]) == ("moons", "beta_h", "decoupled")
    for key in ("skl", "skl_generation_space", "nll_is", "batch_nelbo_paper"):
        assert _finite(record[key]), key
    assert record["fid"] is None and record["fid_lp"] is None  # FID only for image data sets
    assert record["skl"] != record["skl_generation_space"]  # a non-identity flow: two different estimates
    assert record["reference_posteriors"] == 24 and record["nll_examples"] == 10 and record["iteration"] == 2
    assert [row["tau"] for row in record["leakage"]] == [-90.0, -70.0, -50.0, -30.0, -10.0, -1.0]


def test_two_moons_artifacts_have_the_figure_shapes(moons_evaluated):
    _, arrays = moons_evaluated
    for name, shape in COMMON_ARRAYS.items():
        assert arrays[name].shape == shape, name
    assert arrays["prior_x"].shape == (40, 2) and arrays["low_posterior_x"].shape == (3, 2)
    assert arrays["traversal_x"].shape == (2, 5, 2) and arrays["data_points"].shape == (64, 2)
    assert arrays["prior_lp_mask"].sum() == 40 // 3
    assert str(arrays["prior"]) == "decoupled"
    for name in ("prior_log_q", "prior_log_p", "posterior_log_q", "grid_log_q", "grid0_log_q", "traversal_x"):
        assert np.isfinite(arrays[name]).all(), name


def test_low_and_high_posterior_samples_are_the_extremes(moons_evaluated):
    _, arrays = moons_evaluated
    lowest_q = np.sort(arrays["prior_log_q"])[:3]
    masked = arrays["prior_log_q"][arrays["prior_lp_mask"]]
    assert masked.max() <= np.sort(arrays["prior_log_q"])[len(masked) - 1] + 1e-6  # the mask is the lowest-q set
    low = {tuple(z) for z in arrays["low_posterior_z"]}
    assert low == {tuple(z) for z in arrays["prior_z"][np.isin(arrays["prior_log_q"], lowest_q)]}
    log_p0 = -0.5 * (arrays["posterior_z0"] ** 2).sum(1)
    assert {tuple(z) for z in arrays["high_posterior_z"]} == {tuple(z) for z in arrays["posterior_z"][
        np.argsort(log_p0)[:3]]}


def test_traversal_varies_one_dimension_at_a_time_and_interpolation_is_straight_in_z0(moons_evaluated):
    _, arrays = moons_evaluated
    z = arrays["traversal_z"]
    for row, dim in enumerate(arrays["traversal_dims"]):
        others = np.delete(z[row], dim, axis=1)
        assert np.allclose(others, others[0]) and np.ptp(z[row, :, dim]) > 0
    z0 = arrays["interpolation_z0"]
    steps = np.diff(z0, axis=0)
    assert np.allclose(steps, steps[0], atol=1e-5)


def test_write_evaluation_round_trips_with_nan_as_null(moons_evaluated, tmp_path):
    record, arrays = moons_evaluated
    record = {**record, "skl": float("nan")}
    write_dpvae_evaluation(record, arrays, tmp_path / "e" / "eval.json", tmp_path / "e" / "eval.npz")
    loaded = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert loaded["skl"] is None and loaded["nll_is"] == pytest.approx(record["nll_is"])
    with np.load(tmp_path / "e" / "eval.npz") as stored:
        assert np.array_equal(stored["grid_log_q"], arrays["grid_log_q"]) and str(stored["dataset"]) == "moons"


@pytest.mark.parametrize("prior", ["standard", "decoupled"])
def test_a_run_diverged_by_a_huge_learning_rate_is_evaluated_and_recorded_as_diverged(moons, tmp_path, prior):
    """lr 1e10 crashed training and evaluation for both priors (issue 11, fault 1): the runs are recorded as diverged
    with their reason, and a model whose posterior is non-finite still gets a record (metrics null), not a
    ValueError from torch.distributions or the k-d tree."""
    config = DpVAEConfig(dataset="moons", regulariser="beta_h", prior=prior, flow_hidden=8, batch_size=16,
                         iterations=4, log_every=2, checkpoint_every=2, lr=1e10)
    run_dirs = [tmp_path / "seed0", tmp_path / "seed1"]
    statuses = run_dpvae(DpVAEStackConfig.product(config, [0, 1]), moons.train, run_dirs, tmp_path / "checkpoint.pt")
    assert [(s["diverged"], s["diverged_at_iteration"], s["model_iteration"]) for s in statuses] == [(True, 1, 0)] * 2
    reason = statuses[0]["reason"]
    assert reason.startswith("non-finite") and reason.endswith("at iteration 1") and "loss" in reason
    record, _ = evaluate_dpvae(run_dirs[0] / "final.pt", moons, DpVAEEvalConfig(**TINY))
    assert record["diverged"] and record["diverged_reason"] == reason and _finite(record["skl"])
    payload = torch.load(run_dirs[0] / "final.pt", weights_only=True)
    payload["model"]["encoder.4.bias"].fill_(1e30)  # finite weights, an infinite posterior on the held-out data
    torch.save(payload, run_dirs[0] / "final.pt")
    write_dpvae_evaluation(*evaluate_dpvae(run_dirs[0] / "final.pt", moons, DpVAEEvalConfig(**TINY)),
                           tmp_path / "eval.json", tmp_path / "eval.npz")
    written = json.loads((tmp_path / "eval.json").read_text())
    assert written["diverged"] and written["diverged_reason"] == f"{reason}; {dpvae_evaluate.NON_FINITE_POSTERIOR}"
    assert written["skl"] is None and written["nll_is"] is None and written["batch_nelbo_paper"] is None


def _evaluation(moons, **overrides) -> dpvae_evaluate.Evaluation:
    torch.manual_seed(0)
    model = build_dpvae("moons", 2, "decoupled", flow_hidden=8).eval()
    splits = dpvae_evaluate.EvalSplits("moons", moons.train, moons.test, False, moons.train_labels)
    device = torch.device("cpu")
    return dpvae_evaluate.Evaluation(model, splits, DpVAEEvalConfig(**dict(TINY, **overrides)), device,
                                     dpvae_evaluate._generators(0, device))


def test_low_posterior_samples_are_the_prior_candidates_farthest_from_the_reference(moons):
    """A one-component reference q(z) = N((3, 3), I): the lowest-q candidates are those farthest from (3, 3)."""
    ev = _evaluation(moons)
    reference = AggregatePosterior(torch.tensor([[3.0, 3.0]]), torch.zeros(1, 2))
    arrays = dpvae_evaluate.prior_artifacts(ev, reference)
    distance = np.linalg.norm(arrays["prior_z"] - 3.0, axis=1)
    assert set(np.flatnonzero(arrays["prior_lp_mask"])) == set(np.argsort(-distance)[:40 // 3])
    assert np.allclose(np.sort(np.linalg.norm(arrays["low_posterior_z"] - 3.0, axis=1)), np.sort(distance)[-3:])
    selected = dpvae_evaluate.low_posterior_selection(ev, reference, 5, "fid_lp")
    assert selected.shape == (5, 2) and (selected - 3.0).norm(dim=1).min() > 2.0


def test_density_grid_is_indexed_row_y_column_x_and_maps_q_to_the_generation_space(moons):
    ev = _evaluation(moons, density_grid=80)
    reference = AggregatePosterior(torch.tensor([[2.0, -1.0]]), torch.zeros(1, 2))
    samples = {"prior_z": np.array([[4.0, 4.0]]), "prior_z0": np.array([[6.0, 0.0]])}
    grid = dpvae_evaluate.density_grid_artifacts(ev, reference, samples,
                                                 {"posterior_z": np.zeros((1, 2)), "posterior_z0": np.zeros((1, 2))})
    axis, log_q = grid["grid_axis"], grid["grid_log_q"]
    assert axis[0] == pytest.approx(-4.2) and axis[-1] == pytest.approx(4.2)  # holds every sample
    row, column = np.unravel_index(np.argmax(log_q), log_q.shape)
    assert axis[column] == pytest.approx(2.0, abs=0.5) and axis[row] == pytest.approx(-1.0, abs=0.5)
    # q(z0) is a density: it integrates to ~1 over its window, as q(z) does
    cell, cell0 = (axis[1] - axis[0]) ** 2, (grid["grid0_axis"][1] - grid["grid0_axis"][0]) ** 2
    assert np.exp(log_q).sum() * cell == pytest.approx(0.985, abs=0.02)  # N((2, -1), I) inside [-4.2, 4.2]^2
    assert np.exp(grid["grid0_log_q"]).sum() * cell0 == pytest.approx(1.0, abs=0.05)


def test_evaluate_uses_the_first_heldout_examples_as_reference(moons, moons_run, monkeypatch):
    references = []
    original = dpvae_evaluate.leakage_metric
    monkeypatch.setattr(dpvae_evaluate, "leakage_metric",
                        lambda ev, sampler, reference: references.append((ev, reference)) or original(ev, sampler,
                                                                                                     reference))
    monkeypatch.setattr(dpvae_evaluate, "_artifacts", lambda *args: {})
    evaluate_dpvae(moons_run, moons, DpVAEEvalConfig(**TINY))
    ev, reference = references[0]
    assert torch.allclose(reference.mu, ev.encode(moons.test[:24])[0])  # not a training batch:
    assert not torch.allclose(reference.mu, ev.encode(moons.train[:24])[0])


def test_authors_kl_lacks_the_constant_of_the_exact_kl_for_the_decoupled_prior():
    torch.manual_seed(0)
    model = build_dpvae("moons", 2, "decoupled", flow_hidden=8)
    mu, logvar, eps = torch.randn(5, 2), torch.randn(5, 2) * 0.1, torch.randn(5, 2)
    z = (mu + torch.exp(0.5 * logvar) * eps).unsqueeze(0)
    exact = kl_entropy_form(mu.unsqueeze(0), logvar.unsqueeze(0), z, model.prior_distribution()).squeeze(0)
    assert torch.allclose(authors_kl(model, mu, logvar, eps), exact + 1.0)  # + L/2, L = 2
    standard = build_dpvae("moons", 2, "standard")
    closed = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(authors_kl(standard, mu, logvar, eps), closed)


def test_config_rejects_bad_counts_and_extractors():
    with pytest.raises(ValueError, match="skl_samples"):
        DpVAEEvalConfig(skl_samples=1)
    with pytest.raises(ValueError, match="fid_extractor"):
        DpVAEEvalConfig(fid_extractor="pixels")


def test_data_set_must_match_the_run(moons_run):
    images = ImageData(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
                       torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long),
                       dataset="mnist", source="test", subset=None, sha256={})
    with pytest.raises(ValueError, match="trained on 'moons'"):
        evaluate_dpvae(moons_run, images, DpVAEEvalConfig(**TINY))


# -- a tiny image run: FID and uint8 artifacts ------------------------------------------------------------------

@pytest.fixture(scope="module")
def image_data():
    generator = torch.Generator().manual_seed(2)
    labels = torch.arange(40) % 2
    images = torch.randint(0, 60, (40, 1, 28, 28), generator=generator)
    images[labels == 0, :, :14] += 150
    images[labels == 1, :, 14:] += 150
    images = images.to(torch.uint8)
    return ImageData(images[:24], labels[:24], images[24:], labels[24:], dataset="mnist", source="test", subset=None,
                     sha256={})


def test_image_run_reports_both_fids_and_uint8_grids(image_data, tmp_path):
    config = DpVAEConfig(dataset="mnist", prior="standard", batch_size=8, iterations=2, log_every=1,
                         checkpoint_every=2)
    run_dpvae(config, image_data.train_images, [tmp_path / "run"], tmp_path / "checkpoint.pt")
    classifier = train_feature_classifier(image_data.train_images, image_data.train_labels, tmp_path / "c.pt",
                                          dataset="mnist", epochs=1)
    tiny = dict(TINY, fid_extractor="classifier", fid_weights=str(classifier), reference_posteriors=10)
    record, arrays = evaluate_dpvae(tmp_path / "run" / "final.pt", image_data, DpVAEEvalConfig(**tiny))
    assert _finite(record["fid"]) and _finite(record["fid_lp"]) and record["fid"] >= 0
    assert record["fid_extractor"] == "classifier:mnist" and record["fid_real_images"] == 16
    assert record["skl"] == record["skl_generation_space"]  # N(0, I): g is the identity
    assert _finite(record["nll_is"]) and _finite(record["batch_nelbo_paper"])
    assert arrays["prior_x"].shape == (6, 1, 28, 28) and arrays["prior_x"].dtype == np.uint8
    assert arrays["lp_x"].shape == (6, 1, 28, 28) and arrays["traversal_x"].shape == (2, 5, 1, 28, 28)
    assert arrays["traversal_reconstruction"].shape == (1, 1, 28, 28)
    assert "data_points" not in arrays and arrays["grid_log_q"].shape == (9, 9)  # MNIST: L = 2
