"""toy.selection: `grid` trains the final (seeds) runs at each configuration's grid optimum; `reported` skips the grid
search and trains them at the authors' fixed ablation betas (config/paper_table1.yaml). Dry runs only (plus one
few-second training check of the VAE's unused beta_neg), in a temporary working directory as tests/test_workflow.py.
"""

import shutil

import pytest
import torch
import yaml
from conftest import ROOT, dry_run_messages, snakemake, tiny_config
from test_workflow import job_counts, shell_commands

from vaepriors.studies.toy2d.config import RunSpec
from vaepriors.studies.toy2d.paper_values import TABLE1_CONFIGURATIONS
from vaepriors.studies.toy2d.trainer import ToyTrainer

PAPER_TABLE1 = ROOT / "config" / "paper_table1.yaml"
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())["toy"]


def layer(tmp_path, name, values):
    """A config layer file holding `values`."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def dry_run(workdir, *targets, layers=(), root=ROOT):
    """A dry run that prints the planned shell commands."""
    return snakemake(workdir, *targets, "--dry-run", "--printshellcmds", "--cores", "2", layers=layers, root=root)


def seed_command(commands, dataset, configuration):
    """The one planned toy_train_seeds command of (dataset, configuration)."""
    matches = [c for c in commands if f"--out results/toy/{dataset}/seeds/{configuration}/runs.pt " in c]
    assert len(matches) == 1, (dataset, configuration, commands)
    return matches[0]


def test_the_paper_table1_overlay_keeps_paper_scale_and_plans_no_grid(tmp_path):
    overlay = yaml.safe_load(PAPER_TABLE1.read_text())["toy"]
    assert overlay["selection"] == "reported"
    assert overlay["run_configurations"] == list(TABLE1_CONFIGURATIONS)
    assert overlay["training"]["iterations"] == 30000 and overlay["seeds"] == [0, 1, 2, 3, 4]

    result = dry_run(tmp_path, "results/tables/table1.tex", layers=[PAPER_TABLE1])
    assert result.returncode == 0, result.stdout
    # 4 datasets x 6 configurations, each job one stack of 5 seeds; no grid search behind them
    assert job_counts(result.stdout) == {"toy_train_seeds": 24, "table": 1}
    commands = shell_commands(result.stdout)
    assert not [c for c in commands if "--grid-beta" in c or "--optimum-from" in c]

    # the VAE at reported_vae_betas (beta_neg unused: beta_kl stands in), S-IntroVAEs at reported_betas
    for dataset, betas in CONFIG["reported_vae_betas"].items():
        vae = seed_command(commands, dataset, "vae_sg")
        assert f" --betas {betas['beta_rec']} {betas['beta_kl']} {betas['beta_kl']} --seeds 0 1 2 3 4 " in vae
    assert CONFIG["reported_vae_betas"]["spiral"] == {"beta_rec": 1.0, "beta_kl": 0.05}  # reference §5
    for dataset, betas in CONFIG["reported_betas"].items():
        for configuration in TABLE1_CONFIGURATIONS[1:]:
            sintro = seed_command(commands, dataset, configuration)
            assert " --model sintro " in sintro
            assert f" --betas {betas['beta_rec']} {betas['beta_kl']} {betas['beta_neg']} --seeds " in sintro
    checkerboard = seed_command(commands, "checkerboard", "sintro_mog_lc_ip")
    assert " --iterations 30000 " in checkerboard and " --betas 0.2 0.1 0.2 --seeds 0 1 2 3 4 " in checkerboard


def test_reported_selection_with_small_overrides(tmp_path):
    small = layer(tmp_path, "small", {"toy": {
        "selection": "reported", "datasets": ["rings"], "run_configurations": ["vae_sg", "sintro_sg", "sintro_mog"],
        "seeds": [3], "reported_vae_betas": {"rings": {"beta_rec": 0.7, "beta_kl": 0.4}}}})
    result = dry_run(tmp_path, "results/tables/table1.tex", layers=[small])
    assert result.returncode == 0, result.stdout
    assert job_counts(result.stdout) == {"toy_train_seeds": 3, "table": 1}
    commands = shell_commands(result.stdout)
    assert " --betas 0.7 0.4 0.4 --seeds 3 " in seed_command(commands, "rings", "vae_sg")
    assert " --betas 0.2 0.2 1.0 --seeds 3 " in seed_command(commands, "rings", "sintro_mog")

    # Table 3 is the SG grid search itself: it still plans the grid of sintro_sg (only).
    table3 = dry_run(tmp_path, "results/tables/table3.tex", layers=[small])
    assert table3.returncode == 0, table3.stdout
    assert job_counts(table3.stdout) == {"toy_train_grid": 1, "table": 1}
    assert "--out results/toy/rings/grid/sintro_sg/runs.pt " in table3.stdout


def test_grid_selection_is_the_default_and_plans_the_grid(tmp_path):
    assert CONFIG["selection"] == "grid"
    small = layer(tmp_path, "small", {"toy": {"datasets": ["rings"], "run_configurations": ["vae_sg", "sintro_mog"]}})
    result = dry_run(tmp_path, "results/tables/table1.tex", layers=[small])
    assert result.returncode == 0, result.stdout
    assert job_counts(result.stdout) == {"toy_train_grid": 2, "toy_train_seeds": 2, "table": 1}
    commands = shell_commands(result.stdout)
    for configuration in ["vae_sg", "sintro_mog"]:
        seeds = seed_command(commands, "rings", configuration)
        assert f" --optimum-from results/toy/rings/grid/{configuration}/metrics.csv --seeds 0 1 2 3 4 " in seeds
        assert "--betas" not in seeds


def test_a_dataset_missing_from_reported_vae_betas_is_rejected_naming_the_fix(tmp_path):
    # A layer cannot delete a key, so the checkout's config.yaml itself lacks rings here.
    checkout, work = tmp_path / "checkout", tmp_path / "work"
    checkout.mkdir()
    work.mkdir()
    for name in ["Snakefile", "config", "envs", "profiles", "workflow"]:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, checkout / name)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    del config["toy"]["reported_vae_betas"]["rings"]
    (checkout / "config.yaml").write_text(yaml.safe_dump(config))

    reported = layer(tmp_path, "reported", {"toy": {"selection": "reported"}})
    result = dry_run(work, "results/tables/table1.tex", layers=[reported], root=checkout)
    assert result.returncode != 0
    assert ("toy.selection is 'reported' but toy.reported_vae_betas lacks the datasets ['rings']" in result.stdout
            ), result.stdout
    assert "under toy.reported_vae_betas" in result.stdout and "or set toy.selection: grid" in result.stdout
    # With the grid selection the VAE betas are not needed.
    assert dry_run(work, "results/tables/table1.tex", root=checkout).returncode == 0


# An override of toy: -> what Snakemake's message for `snakemake results/tables/table1.tex --dry-run` must contain.
INVALID_SELECTIONS = {
    "unknown-selection": ({"selection": "best"}, "'best' is not one of ['grid', 'reported']"),
    "vae-has-no-beta-neg": ({"reported_vae_betas": {"rings": {"beta_neg": 0.5}}}, "('beta_neg' was unexpected)"),
    "non-positive-beta": ({"reported_vae_betas": {"spiral": {"beta_kl": 0}}},
                          "0 is less than or equal to the minimum of 0"),
}


@pytest.fixture(scope="module")
def invalid_selection_messages(tmp_path_factory):
    return dry_run_messages(tmp_path_factory.mktemp("invalid"),
                            {name: {"toy": override} for name, (override, _) in INVALID_SELECTIONS.items()},
                            targets=["results/tables/table1.tex"])


@pytest.mark.parametrize("case", INVALID_SELECTIONS)
def test_invalid_selection_config_is_rejected(invalid_selection_messages, case):
    printed = invalid_selection_messages[case]
    assert "### planned" not in printed, f"{case} was not rejected"
    assert INVALID_SELECTIONS[case][1] in printed, printed


def test_a_vaes_beta_neg_is_unused():
    """What the workflow's --betas BETA_REC BETA_KL BETA_KL for a VAE relies on: a VAE never takes the adversarial
    step, the only one that reads beta_neg, so its training does not depend on it (while an S-IntroVAE's does)."""

    def trained(model, beta_neg):
        values = dict(model="vae", prior="standard_gaussian", components=1, learnable_contributions=False,
                      intro_prior=False, convert_to_mog=False) if model == "vae" else {}
        config = tiny_config(runs=(RunSpec(0, 0.8, 0.05, beta_neg),), **values)
        return ToyTrainer(config).train(progress=False).model.state_dict()

    vae_a, vae_b = trained("vae", 0.05), trained("vae", 5.0)
    assert all(torch.equal(vae_a[name], vae_b[name]) for name in vae_a)
    sintro_a, sintro_b = trained("sintro", 0.05), trained("sintro", 5.0)
    assert not all(torch.equal(sintro_a[name], sintro_b[name]) for name in sintro_a)
