# Image study, evaluation: the offline FID feature extractor, one evaluation job per stack (its runs share the FID
# reference features; it writes every run's files, then the manifest) and the t-SNE embeddings of the figure seed's
# test latents (docs/images.md).


rule train_fid_classifier:
    input:
        data="results/data/{dataset}.pt",
    output:
        classifier="results/fid/{dataset}/classifier.pt",
    log:
        "results/logs/train_fid_classifier/{dataset}.log",
    wildcard_constraints:
        dataset=alternatives(FETCHED_DATASETS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_evaluate"]["mem_mb"],
        runtime=JOBS["image_evaluate"]["runtime"],
    params:
        epochs=IMAGES["evaluation"].get("classifier_epochs", 5),
    shell:
        "vaepriors train-fid-classifier --data {input.data:q} --epochs {params.epochs}"
        " --device auto --threads {threads} --out {output.classifier:q} > {log:q} 2>&1"


rule image_evaluate:
    input:
        unpack(fid_classifier_input),
        data="results/data/{dataset}.pt",
        stack="results/images/{dataset}/runs/{configuration}/stack.json",
    output:
        evaluated="results/images/{dataset}/eval/{configuration}/stack.json",
    log:
        "results/logs/image_evaluate/{dataset}/{configuration}.log",
    benchmark:
        "results/benchmarks/image_evaluate/{dataset}/{configuration}.tsv"
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        configuration=alternatives(IMAGE_CONFIGURATIONS),
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_evaluate"]["mem_mb"],
        runtime=JOBS["image_evaluate"]["runtime"],
    params:
        extractor=fid_extractor_args,
        evaluation=image_evaluation_args,
        runs=image_stack_eval_args,
    shell:
        "vaepriors image-evaluate --data {input.data:q} {params.runs} {params.extractor} {params.evaluation}"
        " --manifest {output.evaluated:q} --device auto --threads {threads} > {log:q} 2>&1"


rule image_tsne:
    input:
        evaluated=image_eval_input,
    output:
        tsne="results/images/{dataset}/tsne/{configuration}/r{r}/seed{seed}.npz",
    log:
        "results/logs/image_tsne/{dataset}/{configuration}/r{r}/seed{seed}.log",
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        configuration=alternatives(IMAGE_CONFIGURATIONS),
        r=r"[0-9.]+",
        seed=r"\d+",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["tsne"]["threads"]
    resources:
        mem_mb=JOBS["tsne"]["mem_mb"],
        runtime=JOBS["tsne"]["runtime"],
    params:
        tsne=cli_flags(IMAGES["tsne"]),
        latents=lambda wildcards: image_eval_path(*run_wildcards(wildcards), "_latents.npz"),
    shell:
        "vaepriors image-tsne --latents {params.latents:q} {params.tsne} --threads {threads}"
        " --out {output.tsne:q} > {log:q} 2>&1"


rule overfit_encoder:
    input:
        data="results/data/{dataset}.pt",
        stack=image_stack_input,
    output:
        csv="results/images/{dataset}/overfit_encoder/{configuration}/r{r}/seed{seed}.csv",
        npz="results/images/{dataset}/overfit_encoder/{configuration}/r{r}/seed{seed}.npz",
    log:
        "results/logs/overfit_encoder/{dataset}/{configuration}/r{r}/seed{seed}.log",
    wildcard_constraints:
        dataset=alternatives(IMAGE_DATASETS),
        configuration=alternatives(IMAGE_CONFIGURATIONS),
        r=r"[0-9.]+",
        seed=r"\d+",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_evaluate"]["mem_mb"],
        runtime=JOBS["image_evaluate"]["runtime"],
    params:
        study=cli_flags({k: v for k, v in FIGURES.get("figure5", {}).items() if k in ("iterations", "eval_every")}),
        snapshot=lambda wildcards: image_run_path(*run_wildcards(wildcards), "final.pt"),
    shell:
        "vaepriors overfit-encoder --data {input.data:q} --snapshot {params.snapshot:q} {params.study}"
        " --out-csv {output.csv:q} --out-npz {output.npz:q} --device auto --threads {threads} > {log:q} 2>&1"
