import json

import numpy as np
import pandas as pd
import pytest
import torch

from vaepriors.core.evaluation.feature_classifier import train_feature_classifier
from vaepriors.core.randomness import RunRandomness
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.images.evaluate import ImageEvalConfig, ImageEvaluator, responsibility_entropy, \
    write_evaluation
from vaepriors.studies.images.stages import run_warmup

from test_image_training import tiny_image_config, train_one


@pytest.fixture(scope="module")
def dataset():
    """Two classes of 8x8 images (bright upper or lower half) that a classifier and the probes can tell apart."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(72) % 2
    images = torch.randint(0, 60, (72, 1, 8, 8), generator=generator)
    images[labels == 0, :, :4] += 150
    images[labels == 1, :, 4:] += 150
    return images.to(torch.uint8), labels


@pytest.fixture(scope="module")
def evaluated_run(dataset, tmp_path_factory):
    images, labels = dataset
    root = tmp_path_factory.mktemp("run")
    config = tiny_image_config(epochs=6, measure_epochs=(2, 4, 5))
    run_warmup(config, images, root / "warmup.pt", progress=False)
    train_one(config, images, root / "warmup.pt", root / "run")
    classifier = train_feature_classifier(images, labels, root / "classifier.pt", dataset="fmnist", epochs=2)
    return root, classifier


def _evaluate(dataset, root, classifier, **overrides):
    images, labels = dataset
    config = ImageEvalConfig(fid_extractor="classifier", fid_weights=str(classifier), fid_images=48,
                             entropy_mc_samples=4, latent_points=20, figure_samples=6, **overrides)
    return ImageEvaluator(config, (images, labels), (images[:24], labels[:24])).evaluate(root / "run")


def test_best_fid_policy_picks_the_lowest_snapshot_and_reports_every_metric(dataset, evaluated_run, tmp_path):
    record, history, latents = _evaluate(dataset, *evaluated_run)
    assert list(history["file"]) == ["snapshots/epoch002.pt", "snapshots/epoch004.pt", "snapshots/epoch005.pt",
                                     "final.pt"]
    snapshots = history[history["file"] != "final.pt"]
    best = snapshots.loc[snapshots["fid_gen_paper"].idxmin()]
    assert record["selected_file"] == best["file"] and record["fid_gen_paper"] == best["fid_gen_paper"]
    assert record["fid_extractor"] == "classifier:fmnist"
    for key in ("fid_gen_standard", "fid_rec_standard", "fid_rec_paper"):
        assert np.isfinite(record[key]) and record[key] >= 0
    assert record["fid_gen_standard"] != record["fid_gen_paper"]  # the two FID modes are different quantities
    assert 0 <= record["precision"] <= 1 and 0 <= record["recall"] <= 1
    assert 0 < record["entropy"] <= 1  # a 4-mode MoG with r_entropy = 10
    for key in ("svm_few", "svm_many", "knn_few", "knn_many", "svm_few_mean", "knn_many_mean"):
        assert 0 <= record[key] <= 1
    assert latents["mu"].shape == (20, 4) and latents["prior_mu"].shape == (4, 4)
    assert latents["samples"].shape == (6, 1, 8, 8) and latents["sample_component"].max() < 4
    np.testing.assert_allclose(latents["mean_responsibility"].sum(), 1.0, rtol=1e-5)
    write_evaluation(record, history, latents, tmp_path / "e.json", tmp_path / "h.csv", tmp_path / "l.npz")
    assert json.loads((tmp_path / "e.json").read_text())["selected_epoch"] == int(best["epoch"])
    assert len(pd.read_csv(tmp_path / "h.csv")) == 4


def test_final_policy_evaluates_the_last_model(dataset, evaluated_run):
    record, history, _ = _evaluate(dataset, *evaluated_run, checkpoint_policy="final")
    assert record["selected_file"] == "final.pt" and record["selected_epoch"] == 6


def test_standard_gaussian_has_zero_responsibility_entropy(dataset, tmp_path):
    images, _ = dataset
    config = tiny_image_config(prior="standard_gaussian", components=1, learnable_contributions=False,
                               intro_prior=False, r_entropy=0.0, configuration="sg")
    run_warmup(config, images, tmp_path / "warmup.pt", progress=False)
    train_one(config, images, tmp_path / "warmup.pt", tmp_path / "run")
    model = load_snapshot(tmp_path / "run" / "final.pt").model.eval()
    entropy, mean_resp = responsibility_entropy(model, images, 16, 4, RunRandomness([0]))
    assert entropy == 0.0 and mean_resp.tolist() == [1.0]


def test_only_this_runs_snapshots_are_evaluated_and_a_foreign_one_is_named(dataset, evaluated_run, tmp_path):
    """A snapshot left by an earlier configuration in the run directory is never evaluated or selected (issue 11,
    fault 3): the status lists the snapshots this run wrote, and each is checked against the run's configuration."""
    import shutil

    root, classifier = evaluated_run
    copy = tmp_path / "copy"
    shutil.copytree(root / "run", copy / "run")
    status = json.loads((copy / "run" / "status.json").read_text())
    assert status["snapshots"] == [2, 4, 5]
    foreign = torch.load(copy / "run" / "snapshots" / "epoch002.pt", weights_only=True)
    foreign["config"]["measure_epochs"] = [2, 3]
    torch.save(foreign, copy / "run" / "snapshots" / "epoch003.pt")  # stale: not in the status, never read
    _, history, _ = _evaluate(dataset, copy, classifier)
    assert history["epoch"].tolist() == [2, 4, 5, 6]
    torch.save(foreign, copy / "run" / "snapshots" / "epoch004.pt")  # listed, but of another configuration
    with pytest.raises(ValueError, match=r"epoch004\.pt was written by another configuration"):
        _evaluate(dataset, copy, classifier)


def test_a_flow_ip_run_that_goes_nan_in_its_stack_is_recorded_and_evaluated(dataset, evaluated_run, tmp_path,
                                                                               monkeypatch):
    """A NaN flow weight of one flow_ip run (its log-density then sees NaN, which torch.distributions' validation
    raised on, killing the stack without a status.json; issue 11, fault 1): the run is recorded as diverged with its
    epoch and reason, its stack-mate finishes, and the evaluation writes a record that says so."""
    from vaepriors.studies.images.config import ImageStackConfig
    from vaepriors.studies.images.stages import run_adversarial
    from vaepriors.studies.images.trainer import ImageTrainer

    images, _ = dataset
    _, classifier = evaluated_run
    config = tiny_image_config(configuration="flow_ip", prior="decoupled", components=1,
                               learnable_contributions=False, flow_blocks=2, flow_hidden=8, epochs=4,
                               measure_epochs=(2, 3))
    stack = ImageStackConfig.product(config, seeds=[0, 1], r_values=[10.0])
    real_unit = ImageTrainer.train_unit

    def nan_flow_weight_of_run_1_in_epoch_3(self, epoch):
        if epoch == 3:
            with torch.no_grad():
                self.model.prior.blocks[0].scale[0].weight[1].fill_(float("nan"))
        return real_unit(self, epoch)

    monkeypatch.setattr(ImageTrainer, "train_unit", nan_flow_weight_of_run_1_in_epoch_3)
    run_warmup(stack, images[:40], tmp_path / "warmup.pt", progress=False)
    dirs = [tmp_path / "healthy" / "run", tmp_path / "diverged" / "run"]
    run_adversarial(stack, images[:40], tmp_path / "warmup.pt", dirs, tmp_path / "checkpoint.pt", progress=False)
    healthy, diverged = (json.loads((d / "status.json").read_text()) for d in dirs)
    assert not healthy["diverged"] and healthy["completed_epochs"] == 4
    assert diverged["diverged"] and diverged["diverged_at_epoch"] == 3 and diverged["completed_epochs"] == 4
    assert diverged["reason"].startswith("non-finite") and diverged["reason"].endswith("at epoch 3")
    assert "loss_encoder" in diverged["reason"] and "d_kl_prior" in diverged["reason"]
    record, history, _ = _evaluate(dataset, tmp_path / "diverged", classifier)
    write_evaluation(record, history, {}, tmp_path / "eval.json", tmp_path / "history.csv", tmp_path / "latents.npz")
    written = json.loads((tmp_path / "eval.json").read_text())
    assert written["diverged"] and written["diverged_at_epoch"] == 3 and written["diverged_reason"] == diverged["reason"]
    assert written["configuration"] == "flow_ip" and history["epoch"].tolist() == [2, 3, 3]
