# Evaluation of every runs.pt (grid, seeds and baseline alike): one metrics.csv row per run and the
# samples / densities that the figures draw, written beside runs.pt (`vaepriors toy-evaluate`).


rule toy_evaluate:
    input:
        runs="results/toy/{dataset}/{stage}/{configuration}/runs.pt",
    output:
        metrics="results/toy/{dataset}/{stage}/{configuration}/metrics.csv",
        samples="results/toy/{dataset}/{stage}/{configuration}/samples.npz",
    log:
        "results/logs/toy_evaluate/{dataset}/{stage}/{configuration}.log",
    benchmark:
        "results/benchmarks/toy_evaluate/{dataset}/{stage}/{configuration}.tsv"
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["evaluate"]["mem_mb"],
        runtime=JOBS["evaluate"]["runtime"],
    params:
        evaluation=evaluation_args,
    shell:
        "vaepriors toy-evaluate --runs {input.runs:q} --metrics {output.metrics:q}"
        " --samples {output.samples:q} {params.evaluation}"
        " --device auto --threads {threads} > {log:q} 2>&1"
