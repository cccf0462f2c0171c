"""Which image runs share one VAE warm-up (docs/images.md), written once for the package and the workflow: this
module imports no torch, so the rules read it at parse time.

Runs of one data set and seed share the warm-up when their configurations differ only in fields that act after it
(``ADVERSARIAL_ONLY_FIELDS``); ``ImageTrainConfig.warmup_config`` resets exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping

# Fields that act only after the warm-up: runs that differ only in these share one warm-up.
ADVERSARIAL_ONLY_FIELDS = ("configuration", "intro_prior", "r_entropy", "clip_logvar", "beta_neg", "alpha",
                           "gamma", "gamma_r", "epochs", "measure_epochs", "checkpoint_every")
# Short file names of the priors the paper's study uses; any other prior is named as registered.
SHORT_NAMES = {"standard_gaussian": "sg", "decoupled": "flow"}


def warmup_fields(configuration: Mapping) -> dict:
    """The fields of a configuration (a config.yaml entry) that decide its warm-up."""
    return {key: value for key, value in configuration.items() if key not in ADVERSARIAL_ONLY_FIELDS}


def warmup_key(configuration: Mapping) -> str:
    """The warm-up's file name: the prior's (short) name, then K and "_lc" where set (sg, flow, vamp10, vamp10_lc)."""
    name = SHORT_NAMES.get(configuration["prior"], configuration["prior"])
    components = configuration.get("components")
    return f"{name}{components or ''}" + ("_lc" if configuration.get("learnable_contributions") else "")


def warmup_groups(configurations: Mapping[str, Mapping]) -> dict[str, dict]:
    """{warm-up key: its fields} over named configurations; two configurations under one key must agree on every
    warm-up field (else they would silently share a warm-up that one of them did not ask for)."""
    groups: dict[str, dict] = {}
    for name, values in configurations.items():
        key, fields = warmup_key(values), warmup_fields(values)
        if groups.setdefault(key, fields) != fields:
            raise ValueError(f"images.configurations: {name!r} shares the warm-up {key!r} with another configuration "
                             f"but differs in its warm-up fields ({fields} vs {groups[key]}); only "
                             f"{list(ADVERSARIAL_ONLY_FIELDS)} may differ between configurations of one warm-up")
    return groups
