# Python helpers of the image study (docs/images.md): run lists, warm-up sharing and CLI flags.
# Like common.smk, nothing here imports torch; which runs share a warm-up comes from the package's torch-free
# studies/images/warmups.py, so it is written once.
from vaepriors.studies.images import warmups

IMAGES = config["images"]
IMAGE_DATASETS = IMAGES["datasets"]
IMAGE_CONFIGURATIONS = IMAGES["configurations"]
STUDY_CONFIGURATIONS = IMAGES["study_configurations"]
FIGURES = IMAGES["figures"]


def _check_images_config():
    unknown = [name for name in STUDY_CONFIGURATIONS if name not in IMAGE_CONFIGURATIONS]
    unknown += [name for name in FIGURES.get("figure2a", {}).get("configurations", []) if name not in IMAGE_CONFIGURATIONS]
    if unknown:
        raise WorkflowError(f"images: configurations {unknown} are used but not defined in images.configurations")
    missing = [d for d in IMAGE_DATASETS if d not in IMAGES["per_dataset"] or d not in IMAGES["data"]["source"]]
    if missing:
        raise WorkflowError(f"images: datasets {missing} need images.per_dataset and images.data.source entries")
    _check_figure_configurations()


def _check_figure_configurations():
    """Figures 2b and 5 draw study runs: a name outside images.study_configurations (a typo, or a configuration
    not studied) would silently drop the figure, so it is an error here, at parse time."""
    for figure in ("figure2b", "figure5"):
        name = FIGURES.get(figure, {}).get("configuration")
        if name is not None and name not in STUDY_CONFIGURATIONS:
            defined = "is not defined in images.configurations" if name not in IMAGE_CONFIGURATIONS else \
                "is not in images.study_configurations"
            raise WorkflowError(
                f"images.figures.{figure}.configuration {name!r} {defined}, so {figure} could not be drawn; "
                f"use one of the study configurations {STUDY_CONFIGURATIONS}"
                + (" or add it to images.study_configurations" if name in IMAGE_CONFIGURATIONS else ""))


_check_images_config()


def warmup_key(configuration):
    """sg, flow, vamp{K} or vamp{K}_lc: the runs with the same key (and dataset, seed) share one warm-up."""
    return warmups.warmup_key(IMAGE_CONFIGURATIONS[configuration])


try:
    WARMUPS = warmups.warmup_groups(IMAGE_CONFIGURATIONS)
except ValueError as error:
    raise WorkflowError(str(error)) from None


def r_values(configuration):
    """r_entropy values of a study configuration: the sweep for mixtures, 0 for one-component priors (SG, flow)."""
    return IMAGES["r_entropy"] if IMAGE_CONFIGURATIONS[configuration]["prior"] == "vamp" else [0]


def study_runs(dataset, configurations=None, seeds=None):
    """(configuration, r, seed) of the Table 2/5 study on one dataset."""
    return [(c, r, s) for c in (configurations or STUDY_CONFIGURATIONS) for r in r_values(c)
            for s in (seeds or IMAGES["seeds"])]


def figure2a_runs():
    spec = FIGURES.get("figure2a")
    if not spec or spec["dataset"] not in IMAGE_DATASETS:
        return []
    return [(spec["dataset"], c, 0, FIGURES["seed"]) for c in spec["configurations"]]


def image_run_path(dataset, configuration, r, seed, filename):
    """A file of one run's directory; written by the run's stack job (whose output is the stack's manifest)."""
    return f"results/images/{dataset}/runs/{configuration}/r{r}/seed{seed}/{filename}"


def image_stack_path(dataset, configuration):
    """The manifest the stack job of (dataset, configuration) writes last: its runs are complete."""
    return f"results/images/{dataset}/runs/{configuration}/stack.json"


def image_eval_path(dataset, configuration, r, seed, suffix):
    """A file of one run's evaluation; written by its stack's evaluation job (whose output is a manifest)."""
    return f"results/images/{dataset}/eval/{configuration}/r{r}/seed{seed}{suffix}"


def image_eval_manifest(dataset, configuration):
    """The manifest the evaluation job of a stack writes last: every run's evaluation files exist."""
    return f"results/images/{dataset}/eval/{configuration}/stack.json"


def all_image_runs():
    runs = [(d, c, r, s) for d in IMAGE_DATASETS for c, r, s in study_runs(d)]
    return runs + [run for run in figure2a_runs() if run not in runs]


def _image_stacks():
    """(dataset, configuration) -> (seeds, r values): one training job per stack trains every (r, seed) pair of
    the product (the study's runs are products; a figure run outside them adds its seed / r to the product)."""
    stacks = {}
    for dataset, configuration, r, seed in all_image_runs():
        seeds, rs = stacks.setdefault((dataset, configuration), (set(), set()))
        seeds.add(int(seed))
        rs.add(r)
    return {key: (sorted(seeds), sorted(rs)) for key, (seeds, rs) in stacks.items()}


IMAGE_STACKS = _image_stacks()


def stack_runs(dataset, configuration):
    """(r, seed) of a stack in the trainer's order: r_entropy outer, seeds inner."""
    seeds, rs = IMAGE_STACKS[(dataset, configuration)]
    return [(r, seed) for r in rs for seed in seeds]


def warmup_seeds(dataset, key):
    """Seeds of every stack on ``dataset`` whose configuration warms up as ``key``: one warm-up run each."""
    return sorted({seed for (d, c), (seeds, _) in IMAGE_STACKS.items() if d == dataset and warmup_key(c) == key
                   for seed in seeds})


def run_wildcards(wildcards):
    return wildcards.dataset, wildcards.configuration, wildcards.r, wildcards.seed


def image_stack_input(wildcards):
    """The stack manifest a per-run rule needs (the run's files are written by its stack's job)."""
    return image_stack_path(wildcards.dataset, wildcards.configuration)


def image_eval_input(wildcards):
    """The evaluation manifest a per-run rule needs (the run's evaluation files are written by its stack's job)."""
    return image_eval_manifest(wildcards.dataset, wildcards.configuration)


def evaluations_of(runs):
    """Evaluation manifests of the stacks that hold ``runs`` ((dataset, configuration, r, seed) tuples)."""
    return sorted({image_eval_manifest(dataset, configuration) for dataset, configuration, _, _ in runs})


def study_evaluations():
    return evaluations_of([(d, c, r, s) for d in IMAGE_DATASETS for c, r, s in study_runs(d)])


def image_stack_eval_args(wildcards):
    """--run-dirs and --out-prefixes of every run of a stack, in the stack's order."""
    runs = stack_runs(wildcards.dataset, wildcards.configuration)
    run_dirs = [os.path.dirname(image_run_path(wildcards.dataset, wildcards.configuration, r, s, "final.pt"))
                for r, s in runs]
    prefixes = [image_eval_path(wildcards.dataset, wildcards.configuration, r, s, "") for r, s in runs]
    return f"--run-dirs {space_separated(run_dirs)} --out-prefixes {space_separated(prefixes)}"


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def image_training_options(dataset, configuration):
    """ImageTrainConfig values of a stack: shared training, per-dataset, then the configuration's own values."""
    return {**IMAGES["training"], **IMAGES["per_dataset"][dataset], **IMAGE_CONFIGURATIONS[configuration],
            "dataset": dataset, "configuration": configuration}


def image_train_args(wildcards):
    seeds, rs = IMAGE_STACKS[(wildcards.dataset, wildcards.configuration)]
    options = image_training_options(wildcards.dataset, wildcards.configuration)
    options.pop("r_entropy", None)
    return f"{cli_flags(options)} {cli_flags({'seeds': seeds, 'r_entropy': rs})}"


def image_run_dirs(wildcards):
    """Run directories in the stack's order, for --run-dirs."""
    return " ".join(shlex.quote(os.path.dirname(image_run_path(wildcards.dataset, wildcards.configuration, r, seed, "")))
                    for r, seed in stack_runs(wildcards.dataset, wildcards.configuration))


def image_warmup_args(wildcards):
    options = {**IMAGES["training"], **IMAGES["per_dataset"][wildcards.dataset], **WARMUPS[wildcards.warmup],
               "dataset": wildcards.dataset, "configuration": "warmup"}
    seeds = warmup_seeds(wildcards.dataset, wildcards.warmup)
    return f"{cli_flags(options)} {cli_flags({'seeds': seeds})}"


def image_warmup_file(wildcards):
    return f"results/images/{wildcards.dataset}/warmup/{warmup_key(wildcards.configuration)}.pt"


def image_data_args(wildcards):
    data = IMAGES["data"]
    return cli_flags({"source": data["source"][wildcards.dataset], "root": data["root"], "subset": data["subset"],
                      "seed": data["seed"]})


def fid_extractor_args(wildcards, input):
    """--fid-extractor/--fid-weights: the self-trained classifier's file, or the Inception (weights optional)."""
    evaluation = IMAGES["evaluation"]
    if evaluation["fid_extractor"] == "classifier":
        return cli_flags({"fid_extractor": "classifier", "fid_weights": input.classifier})
    return cli_flags({"fid_extractor": "inception", "fid_weights": evaluation.get("inception_weights")})


def fid_classifier_input(wildcards):
    if IMAGES["evaluation"]["fid_extractor"] == "classifier":
        return {"classifier": f"results/fid/{wildcards.dataset}/classifier.pt"}
    return {}


def image_evaluation_args(wildcards):
    keys = ("fid_images", "checkpoint_policy", "selection_fid", "entropy_mc_samples", "probe_max_train",
            "latent_points", "figure_samples")
    return cli_flags({k: IMAGES["evaluation"][k] for k in keys if k in IMAGES["evaluation"]})


def study_files(suffix, seeds=None, stage="eval"):
    """Evaluation (or t-SNE) files of the study runs on every dataset."""
    paths = []
    for dataset in IMAGE_DATASETS:
        for configuration, r, seed in study_runs(dataset, seeds=seeds):
            if stage == "eval":
                paths.append(image_eval_path(dataset, configuration, r, seed, suffix))
            else:
                paths.append(f"results/images/{dataset}/tsne/{configuration}/r{r}/seed{seed}.npz")
    return paths


def figure_seed():
    return [FIGURES["seed"]]


def stacks_of(runs):
    """Manifests of the stacks that hold ``runs`` ((dataset, configuration, r, seed) tuples)."""
    return sorted({image_stack_path(dataset, configuration) for dataset, configuration, _, _ in runs})


def study_histories():
    return [image_run_path(d, c, r, s, "history.csv") for d in IMAGE_DATASETS for c, r, s in study_runs(d)]


def figure7_inputs(wildcards):
    return {"stacks": stacks_of([(d, c, r, s) for d in IMAGE_DATASETS for c, r, s in study_runs(d)]),
            "evaluated": study_evaluations()}


def figure2a_args(wildcards, input):
    runs = figure2a_runs()
    tokens = []
    for dataset, configuration, r, seed in runs:
        history, status = (image_run_path(dataset, configuration, r, seed, name) for name in ("history.csv",
                                                                                            "status.json"))
        fid_history = image_eval_path(dataset, configuration, r, seed, "_fid_history.csv")
        clip = "not clipped" if IMAGE_CONFIGURATIONS[configuration].get("clip_logvar") is False else "clipped"
        tokens += ["--run", f"{configuration} ({clip})", history, fid_history, status]
    return " ".join(shlex.quote(token) for token in tokens)


def figure2b_runs():
    spec = FIGURES.get("figure2b")
    if not spec or spec["dataset"] not in IMAGE_DATASETS:  # its configuration is checked at parse time
        return []
    return [(spec["dataset"], spec["configuration"], r, FIGURES["seed"]) for r in spec["r_entropy"]
            if r in r_values(spec["configuration"])]


def figure2b_args(wildcards, input):
    tokens = []
    for dataset, configuration, r, seed in figure2b_runs():
        history = image_run_path(dataset, configuration, r, seed, "history.csv")
        latents = image_eval_path(dataset, configuration, r, seed, "_latents.npz")
        tokens += ["--run", f"r_entropy = {r}", history, latents]
    return " ".join(shlex.quote(token) for token in tokens)


def figure5_run():
    spec = FIGURES.get("figure5")
    if not spec or spec["dataset"] not in IMAGE_DATASETS:  # its configuration is checked at parse time
        return None
    return spec["dataset"], spec["configuration"], spec["r_entropy"], FIGURES["seed"]


def image_targets():
    """Tables 2/5, the image figures whose runs are configured, and the sample grids."""
    if not IMAGE_DATASETS or not STUDY_CONFIGURATIONS:
        return []
    figures = ["figure4", "figure7", "figure8", "figure9"]
    figures += ["figure2a"] * bool(figure2a_runs()) + ["figure2b"] * bool(figure2b_runs())
    figures += ["figure5"] * bool(figure5_run())
    return (expand("results/tables/{table}.{ext}", table=["table2", "table5"], ext=["tex", "csv"])
            + expand("results/figures/{figure}.png", figure=figures) + ["results/figures/image_samples"])
