"""Workflow tests: DAG planning (dry runs), lint, config validation and the CLI flags the rules build.

They run Snakemake in a subprocess, in a temporary working directory with the repository's Snakefile (never in the
checkout, whose results/ would change what a dry run plans), and need no trained model and no `vaepriors` CLI: a dry
run only plans the jobs.
"""

import re
import resource
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from conftest import ROOT, dry_run_messages, snakemake, snakemake_args

REDUCED = ROOT / "config" / "reduced.yaml"


def job_counts(output):
    """Jobs per rule from the first 'Job stats' table of a dry run."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def shell_commands(output):
    """The `vaepriors ...` command lines that `snakemake -n -p` prints."""
    return [m.group(0) for m in re.finditer(r"vaepriors \S+ .*", output)]


def merged_config(*layers):
    """Layer config files the way Snakemake does: nested mappings merge, everything else is replaced."""

    def merge(base, update):
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    config = {}
    for layer in layers:
        merge(config, yaml.safe_load(layer.read_text()))
    return config


# Jobs per rule of the target `all`, written out by hand from the configurations (not rebuilt from them, so a
# change in what the workflow plans shows here). Figures: one job each.
FIGURES = {"figure2a": 1, "figure2b": 1, "figure3": 1, "figure4": 1, "figure5": 1, "figure6": 1, "figure7": 1,
           "figure8": 1, "figure9": 1, "dpvae_figure": 4, "dpvae_pair_figure": 2, "image_samples": 1,
           "overfit_encoder": 1, "table": 3, "image_table": 2, "dpvae_table1": 1, "reproduction_scorecard": 1,
           "report_page": 1, "all": 1}
PAPER_COUNTS = {
    **FIGURES,
    # 2D: 4 data sets x 10 configurations (the paper's 8 + 2 decoupled-prior ones), a grid and a seed stack each;
    # Table 4's baselines (closed-form and MC KL) per data set; each job evaluates its own runs
    "toy_train_grid": 40, "toy_train_seeds": 40, "toy_train_baseline": 8,
    # images: 3 data sets x 11 study configurations + Figure 2a's 2 stacks; warm-ups per (data set, prior, K, LC);
    # t-SNE per run of the figure seed: 3 x (SG + 2 flow + 8 MoG configurations x 4 r_entropy values)
    "fetch_images": 5, "image_warmup": 19, "image_train": 35, "image_evaluate": 35, "image_tsne": 105,
    # dpVAE: 2 variants x 4 data sets x 5 regularisers x 2 priors stacks, one seed each
    "dpvae_train": 80,
}
REDUCED_COUNTS = {
    **FIGURES,
    # 2D: the grid search only for Table 3 (S-IntroVAE + SG; Table 1 at the reported betas), 4 x 6 seed stacks
    "toy_train_grid": 4, "toy_train_seeds": 24, "toy_train_baseline": 8,
    "fetch_images": 1, "train_fid_classifier": 1, "image_warmup": 4, "image_train": 7, "image_evaluate": 7,
    "image_tsne": 9,
    # the authors' objective variant x {two moons, Fashion-MNIST} x 5 regularisers x 2 priors
    "dpvae_train": 20,
}


@pytest.fixture(scope="module")
def reduced_commands(tmp_path_factory):
    """Shell commands of one job of each kind, planned with the reduced configuration."""
    targets = [
        "results/toy/8Gaussian/grid/vae_sg/runs.pt",
        "results/toy/spiral/grid/sintro_sg/runs.pt",
        "results/toy/rings/seeds/sintro_mog_lc_ip/metrics.csv",
        "results/toy/rings/baseline/baseline_closed/runs.pt",
        "results/tables/table1.tex",
        "results/tables/table3.tex",
        "results/tables/table4.tex",
        "results/figures/figure3.png",
        "results/figures/figure6.png",
    ]
    # config/reduced.yaml trains Table 1 at the authors' reported betas; these commands check the grid-search path
    grid_selection = tmp_path_factory.mktemp("layer") / "grid_selection.yaml"
    grid_selection.write_text("toy:\n  selection: grid\n")
    result = snakemake(tmp_path_factory.mktemp("work"), *targets, "--dry-run", "--printshellcmds", "--cores", "2",
                       layers=[REDUCED, grid_selection])
    assert result.returncode == 0, result.stdout
    commands = shell_commands(result.stdout)

    def find(*fragments):
        matches = [c for c in commands if all(f in c for f in fragments)]
        assert len(matches) == 1, (fragments, matches)
        return matches[0]

    return find


def _plan(workdir, layers):
    """`snakemake all --dry-run --printshellcmds` under `python -X importtime`: (CPU seconds it took, stdout, stderr).
    CPU time, not wall time: the test machine runs other tests beside it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake",
                             *snakemake_args(workdir, "all", "--dry-run", "--printshellcmds", layers=layers)],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stdout + result.stderr
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, result.stdout, result.stderr


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """The whole DAG planned at paper scale and at reduced scale, once for the tests below."""
    return {"paper": _plan(tmp_path_factory.mktemp("paper"), []),
            "reduced": _plan(tmp_path_factory.mktemp("reduced"), [REDUCED])}


def test_paper_scale_dag_plans_every_run_quickly(plans):
    seconds, stdout, _ = plans["paper"]
    assert job_counts(stdout) == PAPER_COUNTS
    assert seconds < 10, f"the paper-scale dry run took {seconds:.1f} s of CPU"


def test_reduced_dag(plans):
    assert job_counts(plans["reduced"][1]) == REDUCED_COUNTS


def test_the_default_profile_prints_a_failed_jobs_log(tmp_path):
    """profiles/default applies whenever no workflow profile is given: a failed job shows its log on the console (the
    error naming the file or key and the fix), not only the log's path. The SLURM profile, which replaces it, too."""
    for name in ("default", "slurm"):
        assert yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())["show-failed-logs"] is True, name
    result = snakemake(tmp_path, "results/figures/figure6.png", "--dry-run", "--quiet")
    assert result.returncode == 0, result.stdout
    assert "Using workflow specific profile" in result.stdout and "profiles/default" in result.stdout


def test_parsing_the_workflow_does_not_import_torch(plans):
    imported = re.findall(r"\|\s*(\S+)\s*$", plans["paper"][2], re.M)
    assert imported, "no -X importtime output"
    assert not [m for m in imported if m.split(".")[0] == "torch"]
    # the rules read what the package defines once (Table 1's columns, ...) from its torch-free modules only
    assert "vaepriors.studies.toy2d.paper_values" in imported


def test_lint(tmp_path):
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout


# An override layered on config.yaml -> what Snakemake's message for `snakemake all --dry-run` must contain.
INVALID_CONFIGS = {
    "unknown-dataset": ({"toy": {"datasets": ["8Gaussian", "moons"]}}, "'moons' is not one of"),
    "negative-iterations": ({"toy": {"training": {"iterations": -5}}}, "-5 is less than the minimum of 1"),
    "unknown-kl": ({"toy": {"training": {"kl": "analytic"}}}, "'analytic' is not one of ['mc', 'closed']"),
    "vamp-without-components": ({"toy": {"configurations": {"sintro_k": {"model": "sintro", "prior": "vamp"}}}},
        "'components' is a required property"),
    "reserved-configuration-name": (
        {"toy": {"configurations": {"baseline_x": {"model": "vae", "prior": "standard_gaussian"}}}},
        "'baseline_x' should not be valid"),
    "no-seeds": ({"toy": {"seeds": []}}, "[] should be non-empty"),
    "unknown-run-configuration": ({"toy": {"run_configurations": ["sintro_sg", "nope"]}},
        "toy.run_configurations names undefined configurations ['nope']"),
    "warmup-after-end": ({"toy": {"training": {"warmup": 40000}}},
        "toy.training.warmup (40000) must lie in (0, toy.training.iterations (30000)]"),
    "missing-betas": ({"toy": {"reported_betas": {"rings": None}}}, "None is not of type 'object'"),
    "runtime-unit": ({"jobs": {"train": {"runtime": 30}}}, "30 is not of type 'string'"),
    "dpvae-typo": ({"dpvae": {"training": {"iterationz": 5}}}, "('iterationz' was unexpected)"),
    "dpvae-string-for-int": ({"dpvae": {"per_dataset": {"moons": {"iterations": "3000"}}}},
        "On instance['dpvae']['per_dataset']['moons']['iterations']"),
    "dpvae-regulariser-param-typo": ({"dpvae": {"regularisers": {"beta_h": {"regulariser_params": {"betaa": 4.0}}}}},
        "('betaa' was unexpected)"),
    "dpvae-regulariser-param-type": ({"dpvae": {"regularisers": {"factor": {"regulariser_params": {"hidden": "128"}}}}},
        "On instance['dpvae']['regularisers']['factor']['regulariser_params']['hidden']"),
    "figure-configuration-typo": ({"images": {"figures": {"figure2b": {"configuration": "mog10_ipp"}}}},
        "images.figures.figure2b.configuration 'mog10_ipp' is not defined in images.configurations, so figure2b "
        "could not be drawn; use one of the study configurations ['sg', 'mog10', "),
    "dpvae-figure-regulariser-typo": ({"dpvae": {"figures": {"regulariser": "beta_hh"}}},
        "dpvae.figures.regulariser names ['beta_hh'], which are not keys of dpvae.regularisers; use one of "
        "['beta_b', "),
    "dpvae-variant-regulariser-typo": (
        {"dpvae": {"variants": {"authors": {"regulariser_params": {"beta_tcc": {"sampling": "mss"}}}}}},
        "dpvae.variants.authors.regulariser_params names ['beta_tcc'], which are not keys of dpvae.regularisers"),
}


@pytest.fixture(scope="module")
def invalid_config_messages(tmp_path_factory):
    """What Snakemake prints for each of INVALID_CONFIGS, planned in one process (conftest.dry_run_messages), and for
    a valid override (the control: the same process plans it)."""
    return dry_run_messages(tmp_path_factory.mktemp("invalid"),
                            {"valid": {"toy": {"seeds": [3]}},
                             **{name: override for name, (override, _) in INVALID_CONFIGS.items()}})


def test_the_batched_dry_run_plans_a_valid_config(invalid_config_messages):
    assert "### planned" in invalid_config_messages["valid"], invalid_config_messages["valid"]


@pytest.mark.parametrize("case", INVALID_CONFIGS)
def test_invalid_config_is_rejected_with_a_clear_message(invalid_config_messages, case):
    printed = invalid_config_messages[case]
    assert "### planned" not in printed, f"{case} was not rejected"
    assert INVALID_CONFIGS[case][1] in printed, printed


def test_dpvae_schema_matches_the_package_registries():
    """The schema's dpVAE keys and enums are the configuration dataclasses' fields and the registries' names, so a
    key the code accepts is never rejected, and one it would reject fails the dry run."""
    from dataclasses import fields

    from vaepriors.studies.dpvae.evaluate import DpVAEEvalConfig
    from vaepriors.core.evaluation.fid import FID_EXTRACTORS
    from vaepriors.core.losses.regularisers import REDUCTIONS, REGULARISERS, SAMPLING
    from vaepriors.studies.dpvae.model import ARCHITECTURES, PRIORS
    from vaepriors.studies.dpvae.config import TRAINER_SUPPLIED, DpVAEConfig

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    defs, dpvae = schema["$defs"], schema["properties"]["dpvae"]
    per_run = {"dataset", "regulariser", "regulariser_params", "prior", "seed", "variant"}  # set per job
    assert set(defs["dpvae_training"]["properties"]) == {f.name for f in fields(DpVAEConfig)} - per_run
    assert set(defs["dpvae_evaluation"]["properties"]) == {f.name for f in fields(DpVAEEvalConfig)} - {"fid_weights"}
    assert defs["dpvae_dataset"]["enum"] == list(ARCHITECTURES)
    assert dpvae["properties"]["priors"]["items"]["enum"] == list(PRIORS)
    assert set(defs["dpvae_training"]["properties"]["reduction"]["enum"]) == set(REDUCTIONS)
    assert set(defs["dpvae_evaluation"]["properties"]["fid_extractor"]["enum"]) == set(FID_EXTRACTORS)
    regulariser = defs["dpvae_regulariser"]
    assert set(regulariser["properties"]["regulariser"]["enum"]) == set(REGULARISERS)
    params = {case["if"]["properties"]["regulariser"]["const"]: case["then"]["properties"]["regulariser_params"]
              for case in regulariser["allOf"]}
    for name, cls in REGULARISERS.items():
        settable = {f.name for f in fields(cls) if f.init} - set(TRAINER_SUPPLIED)
        assert set(params[name]["properties"]) == settable, name
    assert set(params["beta_tc"]["properties"]["sampling"]["enum"]) == set(SAMPLING)


@pytest.mark.parametrize("scale", ["paper", "reduced"])
def test_every_planned_command_parses_with_the_package_cli(plans, scale):
    """The rules render flags with the package's render_flags and the package parses them with the parsers generated
    from its dataclasses: every planned `vaepriors` command of the whole DAG must parse (booleans as --x / --no-x)."""
    import shlex

    from vaepriors.cli import build_parser

    commands = shell_commands(plans[scale][1])
    assert len(commands) > 100
    parser = build_parser()
    for command in commands:
        tokens = shlex.split(command.split(" > ")[0])[1:]  # without the redirect to the log
        parser.parse_args(tokens)  # argparse exits on an unknown or malformed flag


def test_unconfigured_wildcards_are_not_planned(tmp_path):
    reduced = yaml.safe_load(REDUCED.read_text())
    targets = {"moons": ["results/toy/moons/grid/sintro_sg/runs.pt"],
               "unknown-configuration": ["results/toy/rings/grid/unknown/runs.pt"],
               # vae_vamp is defined in config.yaml but not run at reduced scale
               "not-run-at-reduced-scale": ["results/toy/rings/grid/vae_vamp/runs.pt"],
               "control": ["results/toy/rings/grid/vae_vamp/runs.pt"]}
    printed = dry_run_messages(tmp_path, {"moons": {}, "unknown-configuration": {},
                                          "not-run-at-reduced-scale": reduced, "control": {}}, targets)
    assert "### planned" in printed.pop("control")
    for case, text in printed.items():
        assert "### planned" not in text and "MissingRuleException" in text, (case, text)


def test_grid_commands(reduced_commands):
    vae = reduced_commands("toy-train", "--out results/toy/8Gaussian/grid/vae_sg/runs.pt")
    assert ("--dataset 8Gaussian --configuration vae_sg --no-convert-to-mog --no-intro-prior "
            "--no-learnable-contributions --model vae --prior standard_gaussian ") in vae  # schema defaults: false
    assert "--grid-beta-kl 0.1 0.5 --grid-beta-rec 0.2 0.5 --seeds 0 " in vae
    assert "--grid-neg-multipliers" not in vae and "--components" not in vae
    assert "--device auto --threads 1 " in vae

    sg = reduced_commands("toy-train", "--out results/toy/spiral/grid/sintro_sg/runs.pt")
    assert ("--configuration sintro_sg --no-convert-to-mog --no-intro-prior --no-learnable-contributions "
            "--model sintro --prior standard_gaussian ") in sg
    assert "--grid-beta-kl 0.1 0.3 --grid-beta-rec 0.2 0.4 --grid-neg-multipliers 3 --seeds 0 " in sg
    for flag in ["--components", "--intro-prior", "--learnable-contributions", "--convert-to-mog"]:
        assert flag not in sg

    lc_ip = reduced_commands("toy-train", "--out results/toy/rings/grid/sintro_mog_lc_ip/runs.pt")
    flags = "--components 16 --convert-to-mog --intro-prior --learnable-contributions --model sintro --prior vamp "
    assert flags in lc_ip


def test_training_flags_come_from_config(reduced_commands):
    command = reduced_commands("toy-train", "--out results/toy/spiral/grid/sintro_sg/runs.pt")
    config = merged_config(ROOT / "config.yaml", REDUCED)["toy"]["training"]
    expected = {key: " ".join(map(str, value)) if isinstance(value, list) else str(value)
                for key, value in config.items()}
    paper = merged_config(ROOT / "config.yaml")["toy"]["training"]
    assert config["iterations"] != paper["iterations"]  # the reduced layer is applied
    assert set(expected) == set(config)
    for key, value in expected.items():
        assert f" --{key.replace('_', '-')} {value} " in command, key
    assert command.count(" --kl ") == 1


def test_final_and_baseline_commands(reduced_commands):
    seeds = reduced_commands("toy-train", "--out results/toy/rings/seeds/sintro_mog_lc_ip/runs.pt")
    assert "--optimum-from results/toy/rings/grid/sintro_mog_lc_ip/metrics.csv --seeds 0 1 " in seeds
    assert "--grid-beta" not in seeds

    baseline = reduced_commands("toy-train", "--out results/toy/rings/baseline/baseline_closed/runs.pt")
    assert "--dataset rings --configuration baseline_closed --model sintro --prior standard_gaussian " in baseline
    assert " --kl closed " in baseline and " --kl mc " not in baseline
    assert "--betas 0.2 0.2 1.0 --seeds 0 1 " in baseline
    baseline_mc = reduced_commands("toy-train", "--out results/toy/8Gaussian/baseline/baseline_mc/runs.pt")
    assert " --kl mc " in baseline_mc and "--betas 0.2 0.3 0.9 " in baseline_mc

    # the training job evaluates its runs (toy.evaluation as --eval-* flags)
    for flag in ["--eval-bins 100 ", "--eval-figure-grid 96 ", "--eval-gnelbo-batches 5 ", "--eval-grid-size 128 ",
                 "--eval-hist-samples 2000 ", "--eval-mc-samples 10 ", "--device auto "]:  # fmt: skip
        assert flag in seeds
    assert "--metrics results/toy/rings/seeds/sintro_mog_lc_ip/metrics.csv " in seeds
    assert "--samples results/toy/rings/seeds/sintro_mog_lc_ip/samples.npz " in seeds


def test_report_commands(reduced_commands):
    datasets = ["8Gaussian", "spiral", "checkerboard", "rings"]

    def files(command, flag):
        return re.search(rf"{flag} (.*?) --", command).group(1).split()

    table1 = files(reduced_commands("vaepriors table1 "), "--metrics")
    # Table 1's six configurations (the reduced run leaves out the decoupled priors beyond the paper)
    configurations = ["vae_sg", "sintro_sg", "sintro_mog", "sintro_mog_ip", "sintro_mog_lc", "sintro_mog_lc_ip"]
    assert table1 == [f"results/toy/{d}/seeds/{c}/metrics.csv" for d in datasets for c in configurations]
    table3 = files(reduced_commands("vaepriors table3 "), "--metrics")
    assert table3 == [f"results/toy/{d}/grid/sintro_sg/metrics.csv" for d in datasets]
    table4 = files(reduced_commands("vaepriors table4 "), "--metrics")
    assert sorted(table4) == sorted(
        f"results/toy/{d}/{run}/metrics.csv"
        for d in datasets
        for run in ["baseline/baseline_closed", "baseline/baseline_mc", "seeds/sintro_sg"]
    )
    figure3 = files(reduced_commands("vaepriors figure3 "), "--samples")
    panels = ["sintro_sg", "sintro_mog_lc", "sintro_mog_lc_ip"]
    assert figure3 == [f"results/toy/{d}/seeds/{c}/samples.npz" for d in datasets for c in panels]
    assert "--out results/figures/figure6.png " in reduced_commands("vaepriors figure6 ")


def tree(root):
    """Every path under `root` with its size and modification time."""
    return {path.relative_to(root): (path.stat().st_size, path.stat().st_mtime_ns) for path in root.rglob("*")}


def test_dry_runs_neither_depend_on_nor_change_the_checkouts_results(tmp_path):
    """`make test` after `make reduced` in the same clone: a test still plans a job whose output the checkout's
    results/ already holds, and leaves the checkout as it was."""
    checkout, work, trained = tmp_path / "checkout", tmp_path / "work", "results/toy/8Gaussian/grid/vae_sg/runs.pt"
    checkout.mkdir()
    for name in ["Snakefile", "config.yaml", "config", "envs", "profiles", "workflow"]:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, checkout / name)
    (checkout / trained).parent.mkdir(parents=True)
    (checkout / trained).write_bytes(b"a finished run")
    work.mkdir()
    before = tree(checkout)

    planned = snakemake(work, trained, "--dry-run", root=checkout)
    assert planned.returncode == 0 and job_counts(planned.stdout) == {"toy_train_grid": 1}, planned.stdout
    assert tree(checkout) == before  # results/ untouched, and no .snakemake/ beside it
    # What the tests did before: a dry run in the checkout skips the job, since results/ holds its output.
    in_checkout = subprocess.run([sys.executable, "-m", "snakemake", trained, "--dry-run"], cwd=checkout,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Nothing to be done" in in_checkout.stdout + in_checkout.stderr, in_checkout.stdout


def test_conda_env_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs" / "vaepriors.yaml").read_text())
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    assert sorted(pip) == sorted(project["dependencies"])
    assert "python=3.11" in env["dependencies"]


def test_the_scorecard_scale_is_derived_from_the_differences_to_the_paper_config(tmp_path):
    """A study is "paper" unless a key that changes what its runs compute differs from config.yaml; how often a run
    logs or checkpoints does not."""
    bookkeeping = tmp_path / "bookkeeping.yaml"
    bookkeeping.write_text(yaml.safe_dump({"dpvae": {"training": {"log_every": 50, "checkpoint_every": 5000}}}))
    paper = snakemake(tmp_path, "results/reproduction/scorecard.html", "--dry-run", "--printshellcmds",
                      layers=[bookkeeping])
    assert paper.returncode == 0 and "--scale toy2d=paper images=paper dpvae=paper " in paper.stdout, paper.stdout
    reduced = snakemake(tmp_path, "results/reproduction/scorecard.html", "--dry-run", "--printshellcmds",
                        layers=[REDUCED])
    assert "'toy2d=toy.training.iterations 200 (paper 30000); " in reduced.stdout, reduced.stdout
    # a key the paper config leaves to its default (a per-dataset override) is named as such, not as "paper None"
    assert "'dpvae=dpvae.per_dataset.moons.iterations 500 (not set in config.yaml); " in reduced.stdout
    assert "log_every" not in reduced.stdout.split("--scale", 1)[1].split("--provenance")[0]
