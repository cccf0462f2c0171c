# dpVAE study (docs/dpvae.md): one training job per (variant, dataset, regulariser, prior) stack trains every seed in one
# process, writes each run's directory, evaluates every run in the same process (a separate evaluation job spent most
# of its time importing torch; `vaepriors dpvae-evaluate` re-evaluates one run on its own) and, last, writes the
# stack's manifest; then Table 1 and Figures 1, 3, 4, 5, 6, 8. Training jobs resume from their stack's checkpoint
# when started again.


localrules:
    dpvae_table1,
    dpvae_pair_figure,
    dpvae_figure,


rule dpvae_train:
    input:
        unpack(dpvae_data_input),
        unpack(dpvae_classifier_input),
    output:
        stack="results/dpvae/{variant}/{dataset}/{regulariser}/{prior}/stack.json",
        json=expand(dpvae_eval_file("{{variant}}", "{{dataset}}", "{{regulariser}}", "{{prior}}", "{seed}", "json"),
                    seed=DPVAE["seeds"]),
        npz=expand(dpvae_eval_file("{{variant}}", "{{dataset}}", "{{regulariser}}", "{{prior}}", "{seed}", "npz"),
                   seed=DPVAE["seeds"]),
    log:
        "results/logs/dpvae_train/{variant}/{dataset}/{regulariser}/{prior}.log",
    benchmark:
        "results/benchmarks/dpvae_train/{variant}/{dataset}/{regulariser}/{prior}.tsv"
    wildcard_constraints:
        variant=alternatives(DPVAE_VARIANTS),
        dataset=alternatives(DPVAE_DATASETS),
        regulariser=alternatives(DPVAE_REGULARISERS),
        prior="standard|decoupled",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["image_train"]["threads"]
    resources:
        gpu=1,
        mem_mb=JOBS["image_train"]["mem_mb"],
        runtime=JOBS["image_train"]["runtime"],
    params:
        training=dpvae_train_args,
        data=dpvae_data_args,
        run_dirs=dpvae_run_dirs,
        checkpoint=lambda wildcards, output: os.path.join(os.path.dirname(output.stack), "checkpoint.pt"),
        evaluation=dpvae_evaluation_args,
    shell:
        "vaepriors dpvae-train {params.data} {params.training} --run-dirs {params.run_dirs}"
        " --checkpoint {params.checkpoint:q} --eval-jsons {output.json:q} --eval-npzs {output.npz:q}"
        " {params.evaluation} --manifest {output.stack:q} --device auto --threads {threads} > {log:q} 2>&1"


rule dpvae_table1:
    input:
        evaluations=dpvae_figure_files(DPVAE_DATASETS, "json", variants=list(DPVAE_VARIANTS)),
    output:
        tex=report("results/tables/dpvae_table1.tex", caption="../report/table.rst", category="Tables",
                   labels={"table": "dpvae_table1", "format": "LaTeX"}),
        csv="results/tables/dpvae_table1.csv",
    log:
        "results/logs/table/dpvae_table1.log",
    conda:
        "../../envs/vaepriors.yaml"
    shell:
        "vaepriors dpvae-table1 --evaluations {input.evaluations:q} --out-tex {output.tex:q}"
        " --out-csv {output.csv:q} > {log:q} 2>&1"


rule dpvae_pair_figure:
    input:
        standard=lambda wildcards: dpvae_eval_file(
            DPVAE_FIGURE_VARIANT, "moons" if wildcards.number == "1" else DPVAE["figures"]["traversal_dataset"],
            DPVAE["figures"]["regulariser"], "standard", DPVAE["seeds"][0], "npz"),
        decoupled=lambda wildcards: dpvae_eval_file(
            DPVAE_FIGURE_VARIANT, "moons" if wildcards.number == "1" else DPVAE["figures"]["traversal_dataset"],
            DPVAE["figures"]["regulariser"], "decoupled", DPVAE["seeds"][0], "npz"),
    output:
        png=report("results/figures/dpvae_figure{number}.png", category="Figures",
                   labels={"figure": "dpvae_figure{number}"}),
        pdf="results/figures/dpvae_figure{number}.pdf",
    log:
        "results/logs/dpvae_figure{number}.log",
    wildcard_constraints:
        number="1|6",
    conda:
        "../../envs/vaepriors.yaml"
    shell:
        "vaepriors dpvae-figure{wildcards.number} --standard {input.standard:q} --decoupled {input.decoupled:q}"
        " --out {output.png:q} > {log:q} 2>&1"


rule dpvae_figure:
    input:
        artifacts=lambda wildcards: {
            "3": dpvae_figure_files(["moons"], "npz"),
            "4": dpvae_figure_files(DPVAE_IMAGE_DATASETS, "npz"),
            "5": dpvae_figure_files(DPVAE_IMAGE_DATASETS, "npz"),
            "8": [dpvae_eval_file(DPVAE_FIGURE_VARIANT, DPVAE["figures"]["traversal_dataset"],
                                  DPVAE["figures"]["regulariser"], "decoupled", DPVAE["seeds"][0], "npz")],
        }[wildcards.number],
    output:
        png=report("results/figures/dpvae_figure{number}.png", category="Figures",
                   labels={"figure": "dpvae_figure{number}"}),
        pdf="results/figures/dpvae_figure{number}.pdf",
    log:
        "results/logs/dpvae_figure{number}.log",
    wildcard_constraints:
        number="3|4|5|8",
    conda:
        "../../envs/vaepriors.yaml"
    shell:
        "vaepriors dpvae-figure{wildcards.number} --artifacts {input.artifacts:q} --out {output.png:q} > {log:q} 2>&1"
