# Image study, data and training (docs/images.md): one dataset file per dataset; stacked training: one warm-up job
# per (dataset, prior, K, LC) trains a warm-up for each seed, one adversarial job per (dataset, configuration) trains
# all its (r_entropy, seed) runs in one process. Training jobs resume from their own checkpoint when started again
# (e.g. with --rerun-incomplete). A stack job writes each run's directory and, last, the stack's manifest.


rule fetch_images:
    output:
        data="results/data/{dataset}.pt",
    log:
        "results/logs/fetch_images/{dataset}.log",
    wildcard_constraints:
        dataset=alternatives(FETCHED_DATASETS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime="1h",
    params:
        data=image_data_args,
    shell:
        "vaepriors fetch-images --dataset {wildcards.dataset} {params.data} --out {output.data:q} > {log:q} 2>&1"


rule image_warmup:
    input:
        data="results/data/{dataset}.pt",
    output:
        state="results/images/{dataset}/warmup/{warmup}.pt",
    log:
        "results/logs/image_warmup/{dataset}/{warmup}.log",
    benchmark:
        "results/benchmarks/image_warmup/{dataset}/{warmup}.tsv"
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        warmup=alternatives(WARMUPS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_train"]["mem_mb"],
        runtime=JOBS["image_train"]["runtime"],
    params:
        capture=CAPTURE,
        training=image_warmup_args,
    shell:
        "vaepriors image-warmup --data {input.data:q} {params.training}"
        " {params.capture} --device auto --threads {threads} --out {output.state:q} > {log:q} 2>&1"


rule image_train:
    input:
        data="results/data/{dataset}.pt",
        warmup=image_warmup_file,
    output:
        stack="results/images/{dataset}/runs/{configuration}/stack.json",
    log:
        "results/logs/image_train/{dataset}/{configuration}.log",
    benchmark:
        "results/benchmarks/image_train/{dataset}/{configuration}.tsv"
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        configuration=alternatives(IMAGE_CONFIGURATIONS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_train"]["mem_mb"],
        runtime=JOBS["image_train"]["runtime"],
    params:
        capture=CAPTURE,
        training=image_train_args,
        run_dirs=image_run_dirs,
        checkpoint=lambda wildcards, output: os.path.join(os.path.dirname(output.stack), "checkpoint.pt"),
    shell:
        "vaepriors image-train --data {input.data:q} --warmup {input.warmup:q} {params.training}"
        " --run-dirs {params.run_dirs} --checkpoint {params.checkpoint:q} --manifest {output.stack:q}"
        " {params.capture} --device auto --threads {threads} > {log:q} 2>&1"
