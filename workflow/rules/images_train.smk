# Image study, data and training (docs/images.md): one dataset file per dataset, one warm-up per
# (dataset, prior, K, LC, seed), one adversarial job per (dataset, configuration, r_entropy, seed).
# Training jobs resume from their own checkpoint when started again (e.g. with --rerun-incomplete).


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
        state="results/images/{dataset}/warmup/{warmup}/seed{seed}.pt",
    log:
        "results/logs/image_warmup/{dataset}/{warmup}/seed{seed}.log",
    benchmark:
        "results/benchmarks/image_warmup/{dataset}/{warmup}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        warmup=alternatives(WARMUPS),
        seed=r"\d+",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_train"]["mem_mb"],
        runtime=JOBS["image_train"]["runtime"],
    params:
        training=image_warmup_args,
    shell:
        "vaepriors image-warmup --data {input.data:q} {params.training}"
        " --device auto --threads {threads} --out {output.state:q} > {log:q} 2>&1"


rule image_train:
    input:
        data="results/data/{dataset}.pt",
        warmup=image_warmup_file,
    output:
        final="results/images/{dataset}/runs/{configuration}/r{r}/seed{seed}/final.pt",
        history="results/images/{dataset}/runs/{configuration}/r{r}/seed{seed}/history.csv",
        status="results/images/{dataset}/runs/{configuration}/r{r}/seed{seed}/status.json",
    log:
        "results/logs/image_train/{dataset}/{configuration}/r{r}/seed{seed}.log",
    benchmark:
        "results/benchmarks/image_train/{dataset}/{configuration}/r{r}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        configuration=alternatives(IMAGE_CONFIGURATIONS),
        r=r"[0-9.]+",
        seed=r"\d+",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_train"]["mem_mb"],
        runtime=JOBS["image_train"]["runtime"],
    params:
        training=image_train_args,
        run_dir=lambda wildcards, output: os.path.dirname(output.final),
    shell:
        "vaepriors image-train --data {input.data:q} --warmup {input.warmup:q} {params.training}"
        " --run-dir {params.run_dir:q} --device auto --threads {threads} > {log:q} 2>&1"
