"""The overfitting-encoder study of Proposition 2 (paper App. B.3, Fig. 5) on a tiny MoG snapshot."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from vaepriors.core.atomic import save_atomic
from vaepriors.studies.images.checkpoint import load_snapshot, snapshot_payload
from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.figure5 import plot_figure5
from vaepriors.studies.images.overfit_encoder import (COLUMNS, one_image_per_class, overfit_encoder, predicted_nelbo,
                                                  run_overfit_encoder_study, study_objective, synthetic_distributions)
from vaepriors.studies.images.overfit_encoder_config import PANEL_KINDS, OverfitEncoderConfig, panel_key
from vaepriors.studies.images.trainer import ImageTrainer

N_IMAGES = 4


def study_images() -> torch.Tensor:
    """Four 1x8x8 images of distinct grey levels plus noise: distinct enough for the encoder to tell apart."""
    generator = torch.Generator().manual_seed(0)
    levels = torch.linspace(0, 255, N_IMAGES).view(N_IMAGES, 1, 1, 1).expand(N_IMAGES, 1, 8, 8)
    return (levels + torch.randint(-30, 30, (N_IMAGES, 1, 8, 8), generator=generator)).clamp(0, 255).to(torch.uint8)


def tiny_config() -> ImageTrainConfig:
    return ImageTrainConfig(dataset="fmnist", configuration="mog3", prior="vamp", components=3, channels=(4,),
                            z_dim=4, batch_size=4, epochs=3, warmup_epochs=2, mog_warmup_epochs=1, mc_samples=4,
                            measure_epochs=(2,))


@pytest.fixture(scope="module")
def snapshot_path(tmp_path_factory):
    """A freshly initialised trainer whose VampPrior was converted to a MoG, saved as a run snapshot."""
    config, images = tiny_config(), study_images()
    trainer = ImageTrainer(config, images)
    trainer.model.convert_vamp_to_mog(config.vamp_to_mog_weights)
    path = tmp_path_factory.mktemp("snapshot") / "epoch002.pt"
    payload = snapshot_payload(config, trainer.model.state_dict(), "MixtureOfGaussiansPrior", 2, images.shape[1:])
    save_atomic(payload, path)
    return path


def test_configurations_follow_the_paper():
    both = synthetic_distributions("i", 10, 3)
    assert torch.equal(both.real, both.fake) and torch.allclose(both.real.sum(), torch.tensor(1.0))
    one_real = synthetic_distributions("ii", 10, 3)
    assert one_real.support("real").tolist() == [3] and one_real.support("fake").tolist() == list(range(10))
    assert one_real.real[3] / one_real.fake[3] == pytest.approx(10.0)  # 10x likelier under the real distribution
    swapped = synthetic_distributions("iii", 10, 3)
    assert torch.equal(swapped.real, one_real.fake) and torch.equal(swapped.fake, one_real.real)
    for bad in (("iv", 10, 3), ("ii", 10, 10)):
        with pytest.raises(ValueError):
            synthetic_distributions(*bad)
    with pytest.raises(ValueError):
        OverfitEncoderConfig(configurations=("i", "iv"))


def test_predicted_nelbo_is_eq_43_in_the_scaled_objective():
    weights = study_objective(tiny_config(), (1, 28, 28), 1.0, "cpu").w  # s = 1/784, alpha = 2
    assert predicted_nelbo(0.1, 1.0, weights) == pytest.approx(784 / 2 * math.log(10))  # -s N* = ln(0.1) / alpha
    assert predicted_nelbo(0.0, 0.1, weights) == math.inf  # outside the real support
    assert math.isnan(predicted_nelbo(1.0, 0.1, weights))  # VAE-like: the optimum depends on the decoder
    assert math.isnan(predicted_nelbo(0.1, 1.0, study_objective(tiny_config(), (1, 28, 28), 256.0, "cpu").w))


def test_one_image_per_class_takes_the_first_of_each_class():
    assert one_image_per_class(torch.tensor([3, 1, 3, 0, 1, 2])).tolist() == [3, 1, 5, 0]  # classes 0, 1, 2, 3


def test_only_the_encoder_changes(snapshot_path):
    snapshot = load_snapshot(snapshot_path)
    model = snapshot.model
    before = copy.deepcopy(model.state_dict())
    objective = study_objective(snapshot.config, snapshot.image_shape, 256.0, "cpu")
    overfit_encoder(model, objective, study_images().float() / 255, synthetic_distributions("ii", N_IMAGES, 0),
                    OverfitEncoderConfig(iterations=3, eval_every=3, lr=1e-3))
    after = model.state_dict()
    frozen = [k for k in before if not k.startswith("encoder.")]
    assert any(k.startswith("decoder.") and "running_mean" in k for k in frozen)  # BN buffers are checked too
    assert any(k.startswith("prior.") for k in frozen)
    for key in frozen:
        assert torch.equal(before[key], after[key]), key
    encoder_weights = [k for k, _ in model.encoder.named_parameters()]
    assert all(not torch.equal(before[f"encoder.{k}"], after[f"encoder.{k}"]) for k in encoder_weights)


def test_a_vamp_prior_is_refused():
    trainer = ImageTrainer(tiny_config(), study_images())
    objective = study_objective(trainer.config.base, (1, 8, 8), 1.0, "cpu")
    with pytest.raises(ValueError, match="VampPrior"):
        overfit_encoder(trainer.model, objective, study_images().float() / 255,
                        synthetic_distributions("i", N_IMAGES, 0), OverfitEncoderConfig(iterations=1))


def test_study_frame_panels_and_figure(snapshot_path, tmp_path):
    config = OverfitEncoderConfig(iterations=4, eval_every=3, beta_negs=(1.0, 256.0))
    study = run_overfit_encoder_study(snapshot_path, study_images(), config)
    frame = study.frame
    assert tuple(frame.columns) == COLUMNS
    assert sorted(frame["iteration"].unique()) == [0, 3, 4]  # start, every eval_every, last
    rows_per_evaluation = {"i": 2 * N_IMAGES, "ii": 1 + N_IMAGES, "iii": N_IMAGES + 1}
    counts = frame.groupby(["configuration", "beta_neg"]).size()
    for (name, _), count in counts.items():
        assert count == 3 * rows_per_evaluation[name]
    np.testing.assert_allclose(frame["nelbo"], frame["rec"] + frame["kl"], rtol=1e-6)
    outside = frame[frame["p_real"] == 0]
    assert len(outside) and np.isinf(outside["nelbo_prediction"]).all()
    assert frame.loc[frame["configuration"] == "i", "nelbo_prediction"].isna().all()
    start = frame[frame["iteration"] == 0]
    assert start.groupby("image")["nelbo"].nunique().eq(1).all()  # every run starts from the same snapshot
    assert set(study.panels) == {panel_key(c, b, k) for c in ("i", "ii", "iii") for b in (1.0, 256.0)
                                 for k in PANEL_KINDS}
    assert study.panels[panel_key("ii", 1.0, "real")].shape == (1, 1, 8, 8)
    assert study.panels[panel_key("ii", 1.0, "fake_rec")].shape == (N_IMAGES, 1, 8, 8)
    study.save(tmp_path / "figure5.csv", tmp_path / "figure5.npz")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "figure5.csv"), frame, check_dtype=False)
    plot_figure5(tmp_path / "figure5.csv", tmp_path / "figure5.npz", tmp_path / "figure5.png")
    assert (tmp_path / "figure5.png").stat().st_size > 0 and (tmp_path / "figure5.pdf").stat().st_size > 0


def nelbo_change(frame: pd.DataFrame) -> pd.Series:
    """NELBO after the last step minus before the first, per image."""
    per_image = frame.drop_duplicates(["iteration", "image"]).pivot(index="image", columns="iteration",
                                                                    values="nelbo")
    return per_image[per_image.columns.max()] - per_image[0]


def test_proposition_2_the_larger_the_fake_to_real_mismatch_the_higher_the_nelbo(snapshot_path):
    """beta_neg = 1: in (ii) the images outside the real support are pushed to a higher NELBO than the one real image;
    in (iii) the generated image (4x likelier under the generated distribution) more than the real-only images, and
    it settles around the predicted finite level ln(4) / (alpha s) = 44.4."""
    config = OverfitEncoderConfig(iterations=600, eval_every=50, lr=3e-3, beta_negs=(1.0,),
                                  configurations=("ii", "iii"))
    frame = run_overfit_encoder_study(snapshot_path, study_images(), config).frame
    one_real = nelbo_change(frame[frame["configuration"] == "ii"])
    assert one_real.drop(0).min() > one_real[0] + 5.0
    swapped = frame[frame["configuration"] == "iii"]
    one_fake = nelbo_change(swapped)
    assert one_fake[0] > one_fake.drop(0).max() + 5.0
    repelled = swapped[(swapped["set"] == "fake") & (swapped["iteration"] > 200)]
    prediction = math.log(4) / (2.0 / 64)
    assert repelled["nelbo_prediction"].to_numpy() == pytest.approx(prediction)
    assert repelled["nelbo"].mean() == pytest.approx(prediction, rel=0.25)
