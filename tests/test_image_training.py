import json

import pandas as pd
import pytest
import torch

from vaepriors.core.nets.conv import ConvDecoder, ConvEncoder
from vaepriors.core.priors import MixtureOfGaussiansPrior
from vaepriors.studies.images import trainer as image_trainer
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.images.config import ImageStackConfig, ImageTrainConfig
from vaepriors.studies.images.stages import run_adversarial, run_warmup
from vaepriors.studies.images.trainer import ImageTrainer


def tiny_image_config(**overrides) -> ImageTrainConfig:
    values = dict(dataset="fmnist", configuration="mog4_lc_ip", prior="vamp", components=4,
                  learnable_contributions=True, intro_prior=True, r_entropy=10.0, channels=(4, 8), z_dim=4,
                  batch_size=16, epochs=5, warmup_epochs=2, mog_warmup_epochs=1, mc_samples=4, measure_epochs=(2, 4))
    values.update(overrides)
    return ImageTrainConfig(**values)


def train_one(config, images, warmup, run_dir):
    """The adversarial stage of a stack of one, its checkpoint in its run directory."""
    run_adversarial(config, images, warmup, [run_dir], run_dir / "checkpoint.pt", progress=False)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (40, 1, 8, 8), generator=generator, dtype=torch.uint8)


@pytest.mark.parametrize("shape, channels", [((1, 28, 28), (64, 128)), ((3, 32, 32), (64, 128, 256))])
def test_conv_networks_match_the_authors_shapes(shape, channels):
    encoder, decoder = ConvEncoder(shape[0], channels, shape[1], 32), ConvDecoder(shape[0], channels, shape[1], 32)
    assert encoder.head.in_features == {28: 6272, 32: 4096}[shape[1]]  # reference §8.2 table
    assert encoder(torch.zeros(2, *shape)).shape == (2, 64)
    assert decoder(torch.zeros(2, 32)).shape == (2, *shape)


def test_resumed_training_equals_uninterrupted(images):
    config = tiny_image_config()
    straight = ImageTrainer(config, images)
    straight.train(config.epochs, progress=False)
    first = ImageTrainer(config, images)
    first.train(3, progress=False)  # past the VAMP->MoG conversion and the clip fit
    state = first.state_dict()
    resumed = ImageTrainer(config, images)
    resumed.load_state_dict(state)
    resumed.train(config.epochs, progress=False)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert resumed.history == straight.history
    assert isinstance(resumed.model.prior, MixtureOfGaussiansPrior) and bool(resumed.model.clip.active)


def test_one_warmup_serves_ip_and_non_ip_runs(images, tmp_path):
    ip, fixed = tiny_image_config(), tiny_image_config(configuration="mog4_lc", intro_prior=False, r_entropy=0.0)
    assert ip.warmup_config() == fixed.warmup_config()
    run_warmup(ip, images, tmp_path / "warmup.pt", progress=False)
    for config in (ip, fixed):
        run_dir = tmp_path / config.configuration
        train_one(config, images, tmp_path / "warmup.pt", run_dir)
        status = json.loads((run_dir / "status.json").read_text())
        assert status == {"completed_epochs": 5, "diverged": False, "diverged_at_epoch": None, "reason": None,
                          "snapshots": [2, 4]}
        assert not (run_dir / "checkpoint.pt").exists()
    # the non-IP prior is fitted during the warm-up only, so it stays at its warm-up value; the IP prior moves
    warm = torch.load(tmp_path / "warmup.pt", weights_only=True)["study"]["model"]
    moved = {name: not torch.equal(load_snapshot(tmp_path / name / "final.pt").model.prior.mu, warm["prior.mu"])
             for name in ("mog4_lc_ip", "mog4_lc")}
    assert moved == {"mog4_lc_ip": True, "mog4_lc": False}
    other = tiny_image_config(learnable_contributions=False, configuration="mog4_ip")
    with pytest.raises(ValueError, match="does not match this stack's warm-up"):
        train_one(other, images, tmp_path / "warmup.pt", tmp_path / "other")


def test_snapshot_reloads_the_same_model(images, tmp_path):
    config = tiny_image_config()
    run_warmup(config, images, tmp_path / "warmup.pt", progress=False)
    train_one(config, images, tmp_path / "warmup.pt", tmp_path / "run")
    snapshot = load_snapshot(tmp_path / "run" / "final.pt")
    assert snapshot.epoch == config.epochs and snapshot.image_shape == (1, 8, 8)
    trainer = ImageTrainer(config, images)
    trainer.load_warmup(torch.load(tmp_path / "warmup.pt", weights_only=True))
    assert not torch.equal(trainer.model.prior.mu, snapshot.model.prior.mu)
    snapshot.model.eval()
    z = torch.zeros(1, 3, config.z_dim)
    assert torch.isfinite(snapshot.model.decode(z)).all()


def test_divergence_is_recorded_and_keeps_the_last_finite_model(images, tmp_path, monkeypatch):
    config = tiny_image_config()
    run_warmup(config, images, tmp_path / "warmup.pt", progress=False)
    current = {"epoch": None}
    real_step, real_epoch = image_trainer.soft_intro_step, ImageTrainer.train_unit

    def tracking_epoch(self, epoch):
        current["epoch"] = epoch
        return real_epoch(self, epoch)

    def step_that_explodes_in_epoch_3(*args):
        terms = real_step(*args)
        if current["epoch"] == 3:
            terms["loss_encoder"] = terms["loss_encoder"] * float("nan")
        return terms

    monkeypatch.setattr(ImageTrainer, "train_unit", tracking_epoch)
    monkeypatch.setattr(image_trainer, "soft_intro_step", step_that_explodes_in_epoch_3)
    train_one(config, images, tmp_path / "warmup.pt", tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["diverged"] and status["diverged_at_epoch"] == 3 and "loss_encoder" in status["reason"]
    assert status["completed_epochs"] == 4
    final = load_snapshot(tmp_path / "run" / "final.pt")
    assert final.epoch == 3 and all(torch.isfinite(p).all() for p in final.model.parameters())


def test_invalid_configuration_names_the_problem():
    with pytest.raises(ValueError, match="measure_epochs"):
        tiny_image_config(measure_epochs=(1,))
    with pytest.raises(ValueError, match="mixture"):
        tiny_image_config(prior="standard_gaussian", components=1)


def _train_stack(stack, images, root):
    """Warm-up and adversarial stages of ``stack``; run j's directory is root/run{j}."""
    run_warmup(stack, images, root / "warmup.pt", progress=False)
    run_dirs = [root / f"run{j}" for j in range(len(stack.runs))]
    run_adversarial(stack, images, root / "warmup.pt", run_dirs, root / "checkpoint.pt", progress=False)
    return run_dirs


def test_a_run_trained_in_a_stack_equals_the_run_trained_alone(images, tmp_path):
    """Seeds x r_entropy runs of a MoG(4)+LC+IP configuration (BatchNorm, VAMP -> MoG, clipping, IP) in one stack
    and one warm-up per seed: run (seed 1, r 10) ends as it ends when trained alone."""
    config = tiny_image_config(measure_epochs=(2, 3))
    stack = ImageStackConfig.product(config, seeds=[0, 1], r_values=[0.0, 10.0])
    stacked_dirs = _train_stack(stack, images, tmp_path / "stack")
    alone_dirs = _train_stack(ImageStackConfig.product(config, seeds=[1], r_values=[10.0]), images, tmp_path / "alone")
    index = [(run.seed, run.r_entropy) for run in stack.runs].index((1, 10.0))
    for name in ("final.pt", "snapshots/epoch002.pt", "snapshots/epoch003.pt"):
        stacked = torch.load(stacked_dirs[index] / name, weights_only=True)
        alone = torch.load(alone_dirs[0] / name, weights_only=True)
        assert stacked["config"] == alone["config"] and stacked["prior"] == alone["prior"] == "MixtureOfGaussiansPrior"
        for key, value in alone["model"].items():
            torch.testing.assert_close(stacked["model"][key], value, rtol=1e-4, atol=1e-5, msg=f"{name}: {key}")
    stacked_history, alone_history = (pd.read_csv(d / "history.csv") for d in (stacked_dirs[index], alone_dirs[0]))
    pd.testing.assert_frame_equal(stacked_history, alone_history, rtol=1e-4)
    # the other runs of the stack are other runs: other seeds, other entropy weights
    other, alone = (torch.load(d / "final.pt", weights_only=True)["model"]
                    for d in (stacked_dirs[index - 1], alone_dirs[0]))
    assert not torch.equal(other["prior.mu"], alone["prior.mu"])


def test_a_diverged_run_keeps_its_last_finite_weights_while_its_stack_trains_on(images, tmp_path, monkeypatch):
    config = tiny_image_config(measure_epochs=(2, 3))
    stack = ImageStackConfig.product(config, seeds=[0, 1], r_values=[10.0])
    real_step, real_unit, current = image_trainer.soft_intro_step, ImageTrainer.train_unit, {"epoch": None}

    def tracking(self, epoch):
        current["epoch"] = epoch
        return real_unit(self, epoch)

    def run_1_explodes_in_epoch_3(*args):
        terms = real_step(*args)
        if current["epoch"] == 3:
            terms["loss_encoder"] = terms["loss_encoder"] * torch.tensor([1.0, float("nan")])
        return terms

    monkeypatch.setattr(ImageTrainer, "train_unit", tracking)
    monkeypatch.setattr(image_trainer, "soft_intro_step", run_1_explodes_in_epoch_3)
    dirs = _train_stack(stack, images, tmp_path)
    healthy, diverged = (json.loads((d / "status.json").read_text()) for d in dirs)
    assert not healthy["diverged"] and healthy["completed_epochs"] == 5 and healthy["snapshots"] == [2, 3]
    assert diverged["diverged"] and diverged["diverged_at_epoch"] == 3 and "loss_encoder" in diverged["reason"]
    assert diverged["completed_epochs"] == 4 and diverged["snapshots"] == [2, 3]
    assert pd.read_csv(dirs[1] / "history.csv")["epoch"].max() == 3
    final = load_snapshot(dirs[1] / "final.pt")
    assert final.epoch == 3 and all(torch.isfinite(p).all() for p in final.model.parameters())
    # its final weights are those of its snapshot at the start of epoch 3
    snapshot = torch.load(dirs[1] / "snapshots" / "epoch003.pt", weights_only=True)["model"]
    assert all(torch.equal(final.model.state_dict()[k].cpu(), v) for k, v in snapshot.items())
