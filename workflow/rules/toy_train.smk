# Training of the 2D density-estimation benchmark. One job trains every run of one configuration on
# one dataset (grid points x seeds), vectorised in one process: `vaepriors toy-train` (docs/interfaces.md).
#
#   grid      the hyperparameter grid search at the grid seed
#   seeds     the final runs, all seeds at once, at betas chosen by toy.selection: grid = the grid optimum (lowest
#             histogram KL, read from the grid's metrics.csv); reported = the authors' fixed ablation betas per
#             dataset (toy.reported_betas / toy.reported_vae_betas), with no grid search behind them
#   baseline  Table 4: S-IntroVAE + standard Gaussian at Daniel & Tamar's reported betas, closed-form / MC KL
#
# Each job then evaluates its runs in the same process (`--metrics`: one metrics.csv row per run, and samples.npz
# with the samples / densities that the figures draw, written beside runs.pt): a separate evaluation job spent most
# of its time importing torch. `vaepriors toy-evaluate` re-evaluates a runs.pt on its own.


rule toy_train_grid:
    output:
        runs="results/toy/{dataset}/grid/{configuration}/runs.pt",
        metrics="results/toy/{dataset}/grid/{configuration}/metrics.csv",
        samples="results/toy/{dataset}/grid/{configuration}/samples.npz",
    log:
        "results/logs/toy_train_grid/{dataset}/{configuration}.log",
    benchmark:
        "results/benchmarks/toy_train_grid/{dataset}/{configuration}.tsv"
    wildcard_constraints:
        configuration=alternatives(CONFIGURATIONS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["train"]["mem_mb"],
        runtime=JOBS["train"]["runtime"],
    params:
        capture=CAPTURE,
        model=configuration_args,
        training=training_args,
        grid=grid_args,
        seeds=grid_seed_args,
        evaluation=evaluation_args,
    shell:
        "vaepriors toy-train --dataset {wildcards.dataset} --configuration {wildcards.configuration}"
        " {params.model} {params.training} {params.grid} --seeds {params.seeds}"
        " {params.capture} --device auto --threads {threads} --out {output.runs:q}"
        " --metrics {output.metrics:q} --samples {output.samples:q} {params.evaluation} > {log:q} 2>&1"


rule toy_train_seeds:
    input:
        unpack(seed_training_input),
    output:
        runs="results/toy/{dataset}/seeds/{configuration}/runs.pt",
        metrics="results/toy/{dataset}/seeds/{configuration}/metrics.csv",
        samples="results/toy/{dataset}/seeds/{configuration}/samples.npz",
    log:
        "results/logs/toy_train_seeds/{dataset}/{configuration}.log",
    benchmark:
        "results/benchmarks/toy_train_seeds/{dataset}/{configuration}.tsv"
    wildcard_constraints:
        configuration=alternatives(CONFIGURATIONS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["train"]["mem_mb"],
        runtime=JOBS["train"]["runtime"],
    params:
        capture=CAPTURE,
        model=configuration_args,
        training=training_args,
        betas=seed_betas_args,
        seeds=seed_args,
        evaluation=evaluation_args,
    shell:
        "vaepriors toy-train --dataset {wildcards.dataset} --configuration {wildcards.configuration}"
        " {params.model} {params.training} {params.betas} --seeds {params.seeds}"
        " {params.capture} --device auto --threads {threads} --out {output.runs:q}"
        " --metrics {output.metrics:q} --samples {output.samples:q} {params.evaluation} > {log:q} 2>&1"


rule toy_train_baseline:
    output:
        runs="results/toy/{dataset}/baseline/baseline_{kl}/runs.pt",
        metrics="results/toy/{dataset}/baseline/baseline_{kl}/metrics.csv",
        samples="results/toy/{dataset}/baseline/baseline_{kl}/samples.npz",
    log:
        "results/logs/toy_train_baseline/{dataset}/baseline_{kl}.log",
    benchmark:
        "results/benchmarks/toy_train_baseline/{dataset}/baseline_{kl}.tsv"
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["train"]["mem_mb"],
        runtime=JOBS["train"]["runtime"],
    params:
        capture=CAPTURE,
        model=baseline_configuration_args,
        training=baseline_training_args,
        betas=reported_betas_args,
        seeds=seed_args,
        evaluation=evaluation_args,
    shell:
        "vaepriors toy-train --dataset {wildcards.dataset} --configuration baseline_{wildcards.kl}"
        " {params.model} {params.training} --betas {params.betas} --seeds {params.seeds}"
        " {params.capture} --device auto --threads {threads} --out {output.runs:q}"
        " --metrics {output.metrics:q} --samples {output.samples:q} {params.evaluation} > {log:q} 2>&1"
