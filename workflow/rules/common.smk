# Python helpers of the workflow: configuration look-ups, CLI flag building and target lists.
# All Python functions of the workflow live in this file (snakemake --lint: no functions beside rules).
# Nothing here imports torch: parsing the workflow must stay fast. What the package already defines (which
# configurations fill Table 1 and Figure 3) comes from its torch-free modules, so it is written once.
import os
import re
import shlex
import sys

from snakemake.exceptions import WorkflowError

from vaepriors.core.command_line import render_flags

from vaepriors.studies.toy2d.schedule import mog_warmup_problem, warmup_problem
from vaepriors.studies.toy2d.paper_values import (FIGURE3_CONFIGURATIONS, SG_CONFIGURATION, TABLE1_BEYOND,
                                                  TABLE1_CONFIGURATIONS)

# Jobs call the `vaepriors` console script. Put the bin directory of the Python that runs Snakemake
# first on PATH, so `.venv/bin/snakemake ...` finds the venv's CLI without an activated venv. Under
# --sdm conda the activated job env is prepended after this, so its own CLI wins.
_PYTHON_BIN = os.path.dirname(sys.executable)
if _PYTHON_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ.update(PATH=os.pathsep.join([_PYTHON_BIN, os.environ.get("PATH", "")]))

TOY = config["toy"]
JOBS = config["jobs"]
# --capture for the training commands: CUDA-graph replay of each step on a GPU (jobs.cuda_graphs)
CAPTURE = "--capture" if JOBS.get("cuda_graphs") else ""
DATASETS = TOY["datasets"]

# Table 4 baselines: S-IntroVAE with a standard Gaussian prior at Daniel & Tamar's reported betas,
# trained with the closed-form and with the Monte-Carlo KL. Configuration names: baseline_<kl>.
KL_MODES = ["closed", "mc"]
BASELINE_CONFIGURATION = {"model": "sintro", "prior": "standard_gaussian"}
BASELINES = [f"baseline_{kl}" for kl in KL_MODES]


def _select_configurations():
    """The configurations to run: toy.run_configurations (all of toy.configurations when null)."""
    defined = TOY["configurations"]
    names = TOY["run_configurations"] or list(defined)
    unknown = [name for name in names if name not in defined]
    if unknown:
        raise WorkflowError(
            f"toy.run_configurations names undefined configurations {unknown}; "
            f"toy.configurations defines {list(defined)}"
        )
    return {name: defined[name] for name in names}


def _check_config():
    """Cross-field checks that the JSON schema cannot express."""
    training = TOY["training"]
    problems = [warmup_problem(training["iterations"], training["warmup"], "toy.training."),
                mog_warmup_problem(training["warmup"], training["mog_warmup"], "toy.training.")]
    if any(problems):
        raise WorkflowError("; ".join(filter(None, problems)))
    missing = [dataset for dataset in DATASETS if dataset not in TOY["reported_betas"]]
    if missing:
        raise WorkflowError(f"toy.reported_betas lacks the datasets {missing}")
    missing = [dataset for dataset in DATASETS if dataset not in TOY["reported_vae_betas"]]
    if TOY["selection"] == "reported" and missing:
        raise WorkflowError(
            f"toy.selection is 'reported' but toy.reported_vae_betas lacks the datasets {missing}, so their VAE "
            f"configurations have no betas; add `{missing[0]}: {{beta_rec: ..., beta_kl: ...}}` (each missing "
            f"dataset) under toy.reported_vae_betas (config.yaml holds the authors' values), or set "
            f"toy.selection: grid"
        )


CONFIGURATIONS = _select_configurations()
_check_config()


def alternatives(names):
    """A wildcard constraint that matches exactly one of `names`."""
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    dataset=alternatives(DATASETS),
    stage="grid|seeds|baseline",
    configuration=alternatives(list(CONFIGURATIONS) + BASELINES),
    kl=alternatives(KL_MODES),


# ---------------------------------------------------------------------------------------------
# CLI flags. A config key maps to `--key-with-dashes`; booleans become --x / --no-x; lists become several
# values. Keys are sorted so that reordering config.yaml does not change the params (Snakemake re-runs a job
# when its params change). The rendering is the package's (core/command_line.py: render_flags).


def cli_flags(options):
    """Render a mapping of option names to values as a shell-quoted flag string (the package's renderer, the inverse
    of its dataclass-generated parsers)."""
    return render_flags(options)


def space_separated(items):
    """Space-separated values for a multi-value flag."""
    return " ".join(shlex.quote(str(item)) for item in items)


def configuration_args(wildcards):
    """Model and prior flags of a configuration (--model, --prior, --components, booleans)."""
    return cli_flags(CONFIGURATIONS[wildcards.configuration])


def baseline_configuration_args(wildcards):
    """Model and prior flags of the Table 4 baselines (S-IntroVAE, standard Gaussian prior)."""
    return cli_flags(BASELINE_CONFIGURATION)


def training_args(wildcards):
    """Training flags from toy.training."""
    return cli_flags(TOY["training"])


def baseline_training_args(wildcards):
    """Training flags from toy.training with the baseline's KL mode (--kl closed / mc)."""
    return cli_flags({**TOY["training"], "kl": wildcards.kl})


def grid_args(wildcards):
    """Grid-search flags: VAEs search beta_rec x beta_kl, S-IntroVAEs also beta_neg multipliers."""
    grid = TOY["grid"]
    if CONFIGURATIONS[wildcards.configuration]["model"] == "vae":
        search = {
            "grid_beta_rec": grid["vae_beta_rec"],
            "grid_beta_kl": grid["vae_beta_kl"],
        }
    else:
        search = {
            "grid_beta_rec": grid["sintro_beta_rec"],
            "grid_beta_kl": grid["sintro_beta_kl"],
            "grid_neg_multipliers": grid["sintro_neg_multipliers"],
        }
    return cli_flags(search)


def grid_seed_args(wildcards):
    """The single seed of the grid search."""
    return space_separated([TOY["grid"]["seed"]])


def seed_args(wildcards):
    """The seeds of the final runs (Tables 1 and 4)."""
    return space_separated(TOY["seeds"])


def reported_betas_args(wildcards):
    """BETA_REC BETA_KL BETA_NEG reported by Daniel & Tamar (2021) for the dataset."""
    betas = TOY["reported_betas"][wildcards.dataset]
    return space_separated([betas["beta_rec"], betas["beta_kl"], betas["beta_neg"]])


def reported_vae_betas_args(wildcards):
    """BETA_REC BETA_KL BETA_NEG of a VAE configuration in the authors' ablation (toy.reported_vae_betas).

    `vaepriors toy-train --betas` takes three positive numbers for every model, but a VAE has no beta_neg: it never
    takes an adversarial step (ToyTrainConfig.adversarial_start = iterations, so every step is the ELBO step), and
    beta_neg weights only the encoder's exp-ELBO of generated samples in that step (SoftIntroObjective.exp_elbo).
    beta_kl stands in for it, the value the grid search records for a VAE (--grid-neg-multipliers defaults to 1),
    so metrics.csv reads the same as on the grid path; tests/test_toy_reported_selection.py checks it is unused.
    """
    betas = TOY["reported_vae_betas"][wildcards.dataset]
    return space_separated([betas["beta_rec"], betas["beta_kl"], betas["beta_kl"]])


def grid_metrics(wildcards):
    """The grid-search metrics of a (dataset, configuration), whose optimum the seed runs train at."""
    return f"results/toy/{wildcards.dataset}/grid/{wildcards.configuration}/metrics.csv"


def seed_training_input(wildcards):
    """Inputs of toy_train_seeds: the grid's metrics with toy.selection grid, none with reported."""
    return {} if TOY["selection"] == "reported" else {"grid_metrics": grid_metrics(wildcards)}


def seed_betas_args(wildcards):
    """How toy_train_seeds picks its betas: --optimum-from the grid's metrics (toy.selection grid), or --betas at
    the reported values (reported): reported_betas for an S-IntroVAE, reported_vae_betas for a VAE."""
    if TOY["selection"] == "grid":
        return f"--optimum-from {shlex.quote(grid_metrics(wildcards))}"
    if CONFIGURATIONS[wildcards.configuration]["model"] == "vae":
        return f"--betas {reported_vae_betas_args(wildcards)}"
    return f"--betas {reported_betas_args(wildcards)}"


def evaluation_args(wildcards):
    """Evaluation flags from toy.evaluation (``--eval-*`` of toy-train)."""
    return render_flags(TOY["evaluation"], prefix="eval")


# ---------------------------------------------------------------------------------------------
# Inputs of the tables and figures, and the default targets.


def toy_files(stage, configurations, filename):
    """results/toy/<dataset>/<stage>/<configuration>/<filename> for all datasets (dataset-major)."""
    return expand(
        "results/toy/{dataset}/{stage}/{configuration}/{filename}",
        dataset=DATASETS,
        stage=stage,
        configuration=configurations,
        filename=filename,
    )


def present(names):
    """The configurations among `names` that this run trains, in the given order."""
    return [name for name in names if name in CONFIGURATIONS]


TABLE_METRICS = {
    "table1": toy_files("seeds", present([*TABLE1_CONFIGURATIONS, *TABLE1_BEYOND]), "metrics.csv"),
    "table3": toy_files("grid", present([SG_CONFIGURATION]), "metrics.csv"),
    "table4": toy_files("baseline", BASELINES, "metrics.csv")
    + toy_files("seeds", present([SG_CONFIGURATION]), "metrics.csv"),
}
FIGURE3_SAMPLES = toy_files("seeds", present(FIGURE3_CONFIGURATIONS), "samples.npz")


def table_metrics(wildcards):
    """metrics.csv files that a table reads."""
    return TABLE_METRICS[wildcards.table]


def all_targets():
    """Tables 1, 3, 4 (.tex and .csv) and Figures 3, 6 (those whose runs are configured), plus the
    final (seeds) metrics of every configuration, also those that no table shows (vae_vamp, ...).
    """
    tables = [name for name, metrics in TABLE_METRICS.items() if metrics]
    figures = ["figure3"] * bool(FIGURE3_SAMPLES) + ["figure6"]
    return (
        expand("results/tables/{table}.{ext}", table=tables, ext=["tex", "csv"])
        + expand("results/figures/{figure}.png", figure=figures)
        + toy_files("seeds", list(CONFIGURATIONS), "metrics.csv")
    )
