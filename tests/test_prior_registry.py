"""A new prior is one class and one registered builder: the test adds one here, in the test itself, and the 2D
trainer, the image trainer and both checkpoint loaders use it without any other file knowing it."""

import pytest
import torch
from torch import nn

from conftest import tiny_config
from test_image_training import tiny_image_config
from vaepriors.core.priors import MixtureParams, Prior, register_prior
from vaepriors.core.priors.registry import PRIORS, UnknownPrior, prior_kind
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.images.stages import run_adversarial, run_warmup
from vaepriors.studies.toy2d.trainer import ToyTrainer, load_runs, save_runs


class ShiftedGaussianPrior(Prior):
    """N(m, I) with a learnable mean m per run: the smallest prior the prior player (IP) can train."""

    def __init__(self, runs: int, z_dim: int):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(runs, 1, z_dim))
        self.register_buffer("logvar", torch.zeros(runs, 1, z_dim))
        self.register_buffer("logits", torch.zeros(runs, 1))

    def distribution(self, encoder: nn.Module) -> MixtureParams:
        return MixtureParams(self.mu, self.logvar, self.logits)


@pytest.fixture
def shifted():
    register_prior("shifted_gaussian")(lambda request: ShiftedGaussianPrior(request.runs, request.z_dim))
    yield "shifted_gaussian"
    del PRIORS["shifted_gaussian"]


def test_the_2d_trainer_trains_a_registered_prior_and_its_runs_reload(shifted, tmp_path):
    config = tiny_config(prior=shifted, components=1, learnable_contributions=False, convert_to_mog=False,
                         intro_prior=True)
    runs = ToyTrainer(config).train(progress=False)
    assert runs.diverged_at == [None]
    assert runs.model.prior.mu.abs().sum() > 0  # the prior player moved it
    save_runs(runs, tmp_path / "runs.pt")
    loaded = load_runs(tmp_path / "runs.pt")
    assert isinstance(loaded.model.prior, ShiftedGaussianPrior)
    torch.testing.assert_close(loaded.model.prior.mu, runs.model.prior.mu, rtol=0, atol=0)


def test_the_image_trainer_trains_a_registered_prior_and_its_snapshot_reloads(shifted, tmp_path):
    config = tiny_image_config(configuration="shifted_ip", prior=shifted, components=1,
                               learnable_contributions=False, epochs=3, measure_epochs=(2,))
    images = torch.randint(0, 256, (40, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    run_warmup(config, images, tmp_path / "warmup.pt", progress=False)
    run_adversarial(config, images, tmp_path / "warmup.pt", [tmp_path / "run"], tmp_path / "checkpoint.pt",
                    progress=False)
    snapshot = load_snapshot(tmp_path / "run" / "final.pt")
    assert isinstance(snapshot.model.prior, ShiftedGaussianPrior)
    assert snapshot.model.prior.mu.abs().sum() > 0


def test_configurations_check_what_the_registered_prior_can_do(shifted):
    with pytest.raises(ValueError, match="shifted_gaussian prior has one component"):
        tiny_config(prior=shifted, components=3, convert_to_mog=False)
    with pytest.raises(ValueError, match="IP needs a learnable prior; standard_gaussian has no parameters"):
        tiny_image_config(prior="standard_gaussian", components=1, learnable_contributions=False)


def test_an_unknown_prior_lists_the_registered_ones():
    with pytest.raises(UnknownPrior, match=r"unknown prior 'lapalce'; the registered priors are \['decoupled', "
                                           r"'standard_gaussian', 'vamp'\]"):
        prior_kind("lapalce")
    with pytest.raises(ValueError, match="not one of the registered priors"):
        tiny_config(prior="lapalce")


def test_the_priors_of_the_studies_are_registered():
    assert {"standard_gaussian", "vamp", "decoupled"} <= set(PRIORS)
    assert prior_kind("vamp").converts_to_mog and prior_kind("vamp").mixture
    assert not prior_kind("standard_gaussian").learnable and prior_kind("decoupled").min_z_dim == 2


def test_the_workflow_schema_offers_exactly_the_registered_priors():
    import yaml

    from conftest import ROOT

    schema = (ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text()
    enums = [line for line in schema.splitlines() if line.strip().startswith("prior: {type: string, enum:")]
    assert len(enums) == 2  # the 2D and the image configurations
    for line in enums:
        assert set(yaml.safe_load(line.strip())["prior"]["enum"]) == set(PRIORS)
