# Python helpers of the dpVAE study: run lists and CLI flags (no torch, no vaepriors import).

import json

DPVAE = config["dpvae"]
DPVAE_DATASETS = DPVAE["datasets"]
DPVAE_REGULARISERS = DPVAE["regularisers"]


def _select_variants():
    """The objective variants to run: dpvae.run_variants (all of dpvae.variants when null)."""
    names = DPVAE.get("run_variants") or list(DPVAE["variants"])
    unknown = [name for name in names if name not in DPVAE["variants"]]
    if unknown:
        raise WorkflowError(f"dpvae.run_variants names undefined variants {unknown}; "
                            f"dpvae.variants defines {list(DPVAE['variants'])}")
    return {name: DPVAE["variants"][name] for name in names}


DPVAE_VARIANTS = _select_variants()
DPVAE_IMAGE_DATASETS = [d for d in DPVAE_DATASETS if d != "moons"]
# fetch_images serves both studies.
FETCHED_DATASETS = list(dict.fromkeys(IMAGE_DATASETS + DPVAE_IMAGE_DATASETS))


def _check_dpvae_names():
    """Figures 1, 6 and 8 read the runs of dpvae.figures.regulariser and every figure those of dpvae.figures.variant,
    and a variant overlays the params of named regularisers: a name that is not configured would only fail inside a
    job (missing input, unknown flag), so it is rejected at parse time."""
    checks = [("dpvae.figures.regulariser", [DPVAE["figures"].get("regulariser")], DPVAE_REGULARISERS,
               "dpvae.regularisers"),
              ("dpvae.figures.variant", [DPVAE["figures"].get("variant")], DPVAE_VARIANTS, "dpvae.variants")]
    checks += [(f"dpvae.variants.{name}.regulariser_params", list(spec.get("regulariser_params", {})),
                DPVAE_REGULARISERS, "dpvae.regularisers") for name, spec in DPVAE_VARIANTS.items()]
    for where, names, known, what in checks:
        unknown = [name for name in names if name is not None and name not in known]
        if unknown:
            raise WorkflowError(f"{where} names {unknown}, which are not keys of {what}; use one of {sorted(known)}")


_check_dpvae_names()
DPVAE_FIGURE_VARIANT = DPVAE["figures"].get("variant") or next(iter(DPVAE_VARIANTS))


def dpvae_runs(datasets=None, variants=None):
    """(variant, dataset, regulariser, prior, seed) of every dpVAE run."""
    return [(v, d, r, p, s) for v in (variants or DPVAE_VARIANTS) for d in (datasets or DPVAE_DATASETS)
            for r in DPVAE_REGULARISERS for p in DPVAE["priors"] for s in DPVAE["seeds"]]


def dpvae_run_dir(variant, dataset, regulariser, prior, seed):
    """One run's directory (final.pt, history.csv, status.json); written by its stack's job."""
    return f"results/dpvae/{variant}/{dataset}/{regulariser}/{prior}/seed{seed}"


def dpvae_stack_path(variant, dataset, regulariser, prior):
    """The manifest the stack job of (variant, dataset, regulariser, prior) writes last: every seed's run is
    complete."""
    return f"results/dpvae/{variant}/{dataset}/{regulariser}/{prior}/stack.json"


def dpvae_run_dirs(wildcards):
    """Run directories in the stack's (seed) order, for --run-dirs."""
    return " ".join(shlex.quote(dpvae_run_dir(wildcards.variant, wildcards.dataset, wildcards.regulariser,
                                              wildcards.prior, seed))
                    for seed in DPVAE["seeds"])


def dpvae_eval_file(variant, dataset, regulariser, prior, seed, ext):
    return f"results/dpvae/{variant}/{dataset}/eval/{regulariser}/{prior}/seed{seed}.{ext}"


def dpvae_train_args(wildcards):
    """DpVAEConfig flags: dpvae.training, then the data set's and the variant's overlays; the regulariser's params
    with the variant's overlay of them."""
    spec = DPVAE_REGULARISERS[wildcards.regulariser]
    variant = DPVAE_VARIANTS[wildcards.variant]
    options = {**DPVAE["training"], **DPVAE.get("per_dataset", {}).get(wildcards.dataset, {}),
               **variant.get("training", {}), "variant": wildcards.variant, "dataset": wildcards.dataset,
               "regulariser": spec["regulariser"], "prior": wildcards.prior,
               "seeds": [int(seed) for seed in DPVAE["seeds"]]}
    regulariser_params = {**spec.get("regulariser_params", {}),
                          **variant.get("regulariser_params", {}).get(wildcards.regulariser, {})}
    params = shlex.quote(json.dumps(regulariser_params, sort_keys=True))
    return cli_flags(options) + f" --regulariser-params {params}"


def dpvae_data_input(wildcards):
    return {} if wildcards.dataset == "moons" else {"data": f"results/data/{wildcards.dataset}.pt"}


def dpvae_data_args(wildcards, input):
    return f"--data {shlex.quote(input.data)}" if "data" in input.keys() else ""


def dpvae_classifier_input(wildcards):
    """The offline FID extractor of an image data set when dpvae.evaluation asks for the classifier."""
    if wildcards.dataset != "moons" and DPVAE["evaluation"].get("fid_extractor") == "classifier":
        return {"classifier": f"results/fid/{wildcards.dataset}/classifier.pt"}
    return {}


def dpvae_evaluation_args(wildcards, input):
    """``--eval-*`` flags of dpvae-train: dpvae.evaluation, and the trained classifier as the FID extractor."""
    options = dict(DPVAE["evaluation"])
    if "classifier" in input.keys():
        options["fid_weights"] = input.classifier
    return render_flags(options, prefix="eval")


def dpvae_figure_files(datasets, ext, variants=None):
    """Evaluation files of every run of ``datasets`` (the figures' variant unless ``variants`` says otherwise)."""
    return [dpvae_eval_file(*run, ext) for run in dpvae_runs(datasets, variants or [DPVAE_FIGURE_VARIANT])]


def dpvae_targets():
    """dpVAE Table 1 and the figures whose data sets are configured."""
    if not DPVAE_DATASETS:
        return []
    figures = []
    if "moons" in DPVAE_DATASETS:
        figures += ["dpvae_figure1", "dpvae_figure3"]
    if DPVAE_IMAGE_DATASETS:
        figures += ["dpvae_figure4", "dpvae_figure5"]
    if DPVAE["figures"].get("traversal_dataset") in DPVAE_IMAGE_DATASETS:
        figures += ["dpvae_figure6", "dpvae_figure8"]
    return ["results/tables/dpvae_table1.tex", "results/tables/dpvae_table1.csv"] + [
        f"results/figures/{name}.png" for name in figures]
