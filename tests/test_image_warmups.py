"""Which image runs share a warm-up: one torch-free module for the package and the workflow."""

import dataclasses

import pytest

from vaepriors.studies.images.config import ImageTrainConfig
from vaepriors.studies.images.warmups import ADVERSARIAL_ONLY_FIELDS, warmup_groups, warmup_key


def test_warmup_keys_name_the_prior_its_components_and_lc():
    assert warmup_key({"prior": "standard_gaussian", "intro_prior": True}) == "sg"
    assert warmup_key({"prior": "decoupled"}) == "flow"
    assert warmup_key({"prior": "vamp", "components": 10, "learnable_contributions": True}) == "vamp10_lc"
    assert warmup_key({"prior": "my_prior"}) == "my_prior"  # a registered prior outside the paper keeps its name


def test_configurations_of_one_warmup_may_differ_only_after_it():
    groups = warmup_groups({"mog10": {"prior": "vamp", "components": 10},
                            "mog10_ip": {"prior": "vamp", "components": 10, "intro_prior": True, "epochs": 120}})
    assert groups == {"vamp10": {"prior": "vamp", "components": 10}}
    with pytest.raises(ValueError, match="'wide' shares the warm-up 'vamp10'.*differs in its warm-up fields"):
        warmup_groups({"mog10": {"prior": "vamp", "components": 10},
                       "wide": {"prior": "vamp", "components": 10, "z_dim": 64}})


def test_the_warmup_config_resets_exactly_the_adversarial_only_fields():
    config = ImageTrainConfig(dataset="fmnist", configuration="mog10_ip", prior="vamp", components=10,
                              intro_prior=True, r_entropy=10.0, z_dim=8)
    warm = config.warmup_config()
    changed = {f.name for f in dataclasses.fields(config) if getattr(config, f.name) != getattr(warm, f.name)}
    assert changed == {"configuration", "intro_prior", "r_entropy"} and changed <= set(ADVERSARIAL_ONLY_FIELDS)
    assert warm.z_dim == 8 and warm.components == 10
