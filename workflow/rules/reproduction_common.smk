# Python helpers of the reproduction scorecard (docs/reproduction.md): which tables it reads and how this run's
# configuration differs from the paper-scale one (config.yaml), per study. No torch.

import yaml

with open(os.path.join(workflow.basedir, "config.yaml")) as _paper_file:
    PAPER_CONFIG = yaml.safe_load(_paper_file)

# Per study: its config section and the keys whose values decide the scale of its runs. Seeds are not among them:
# fewer seeds widen the standard errors the verdicts use, they do not change what a run computes.
SCALE_KEYS = {
    "toy2d": ("toy", ["training", "evaluation"]),
    "images": ("images", ["training", "evaluation", "data.subset"]),
    "dpvae": ("dpvae", ["training", "per_dataset", "evaluation"]),
}
# Bookkeeping that does not change what a run computes (how often it logs and checkpoints).
NOT_SCALE = ("log_every", "checkpoint_every")


def _flatten(value, prefix):
    """{'a.b': leaf} of a nested mapping (lists are leaves)."""
    if not isinstance(value, dict):
        return {prefix: value}
    return {key: leaf for name, item in value.items() for key, leaf in _flatten(item, f"{prefix}.{name}").items()}


def _lookup(section, dotted):
    for name in dotted.split("."):
        section = section.get(name) if isinstance(section, dict) else None
    return section


def _difference(key, ours, paper):
    """'key value (paper value)'; a key only one side sets (a per-dataset override) says so instead of 'None'."""
    value = ours[key] if key in ours else "unset"
    return f"{key} {value} ({f'paper {paper[key]}' if key in paper else 'not set in config.yaml'})"


def study_scale(study):
    """'paper' when the study's scale-deciding keys equal config.yaml's, else the first differences."""
    section, keys = SCALE_KEYS[study]
    ours, paper = {}, {}
    for key in keys:
        ours.update(_flatten(_lookup(config[section], key), f"{section}.{key}"))
        paper.update(_flatten(_lookup(PAPER_CONFIG[section], key), f"{section}.{key}"))
    differences = [_difference(key, ours, paper) for key in dict.fromkeys([*ours, *paper])
                   if ours.get(key) != paper.get(key) and key.rsplit(".", 1)[-1] not in NOT_SCALE]
    if not differences:
        return "paper"
    more = f", and {len(differences) - 3} more" if len(differences) > 3 else ""
    return "; ".join(differences[:3]) + more


def scorecard_tables():
    """{option: tidy CSV} of every reproduced table this configuration renders."""
    tables = {}
    for table in ("table1", "table3", "table4"):
        if TABLE_METRICS[table]:
            tables[f"toy_{table}"] = f"results/tables/{table}.csv"
    if IMAGE_DATASETS:
        tables.update(image_table2="results/tables/table2.csv", image_table5="results/tables/table5.csv")
    if DPVAE_DATASETS:
        tables["dpvae_table1"] = "results/tables/dpvae_table1.csv"
    return tables


def scorecard_table_args(wildcards, input):
    return " ".join(f"--{option.replace('_', '-')} {shlex.quote(path)}" for option, path in input.items())


def scorecard_scale_args(wildcards):
    studies = {"toy2d": bool(TABLE_METRICS["table1"]), "images": bool(IMAGE_DATASETS),
               "dpvae": bool(DPVAE_DATASETS)}
    return " ".join(shlex.quote(f"{study}={study_scale(study)}") for study, run in studies.items() if run)


def scorecard_provenance(wildcards):
    files = sorted((os.path.relpath(path) for path in workflow.configfiles), key=lambda f: f != "config.yaml")
    return "Configuration: " + " + ".join(files or ["config.yaml"])
