# Image study, tables and figures (each figure as PNG and, beside it, PDF). r_entropy is chosen per
# configuration by the lowest mean FID(GEN) over seeds (the paper's policy) inside the commands.


localrules:
    image_table,
    figure2a,
    figure2b,
    figure4,
    figure5,
    figure7,
    figure8,
    figure9,
    image_samples,


rule image_table:
    input:
        evaluated=study_evaluations(),
    output:
        tex=report(
            "results/tables/{table}.tex",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "LaTeX"},
        ),
        csv="results/tables/{table}.csv",
    log:
        "results/logs/table/{table}.log",
    wildcard_constraints:
        table="table2|table5",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["report"]["threads"]
    resources:
        mem_mb=JOBS["report"]["mem_mb"],
        runtime=JOBS["report"]["runtime"],
    params:
        options=lambda wildcards: (f"--components {IMAGES.get('table2_components', 100)}"
                                   if wildcards.table == "table2" else ""),
        selection=IMAGES["evaluation"]["selection_fid"],
        evaluations=space_separated(study_files(".json")),
    shell:
        "vaepriors {wildcards.table} --evaluations {params.evaluations} {params.options}"
        " --selection-fid {params.selection} --out-tex {output.tex:q} --out-csv {output.csv:q} > {log:q} 2>&1"


rule figure2a:
    input:
        stacks=stacks_of(figure2a_runs()),
        evaluated=evaluations_of(figure2a_runs()),
    output:
        png=report("results/figures/figure2a.png", category="Figures", labels={"figure": "figure2a"}),
        pdf="results/figures/figure2a.pdf",
    log:
        "results/logs/figure2a.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        runs=figure2a_args,
        selection=IMAGES["evaluation"]["selection_fid"],
    shell:
        "vaepriors figure2a {params.runs} --selection-fid {params.selection} --out {output.png:q} > {log:q} 2>&1"


rule figure2b:
    input:
        stacks=stacks_of(figure2b_runs()),
        evaluated=evaluations_of(figure2b_runs()),
    output:
        png=report("results/figures/figure2b.png", category="Figures", labels={"figure": "figure2b"}),
        pdf="results/figures/figure2b.pdf",
    log:
        "results/logs/figure2b.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        runs=figure2b_args,
    shell:
        "vaepriors figure2b {params.runs} --out {output.png:q} > {log:q} 2>&1"


rule figure7:
    input:
        unpack(figure7_inputs),
    output:
        png=report("results/figures/figure7.png", category="Figures", labels={"figure": "figure7"}),
        pdf="results/figures/figure7.pdf",
    log:
        "results/logs/figure7.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        selection=IMAGES["evaluation"]["selection_fid"],
        history=space_separated(study_histories()),
        fid_history=space_separated(study_files("_fid_history.csv")),
    shell:
        "vaepriors figure7 --history {params.history} --fid-history {params.fid_history}"
        " --selection-fid {params.selection} --out {output.png:q} > {log:q} 2>&1"


rule figure4:
    input:
        evaluated=study_evaluations(),
        tsne=study_files(".npz", seeds=figure_seed(), stage="tsne"),
    output:
        png=report("results/figures/figure4.png", category="Figures", labels={"figure": "figure4"}),
        pdf="results/figures/figure4.pdf",
    log:
        "results/logs/figure4.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        selection=IMAGES["evaluation"]["selection_fid"],
        evaluations=space_separated(study_files(".json")),
        latents=space_separated(study_files("_latents.npz", seeds=figure_seed())),
    shell:
        "vaepriors figure4 --evaluations {params.evaluations} --latents {params.latents} --tsne {input.tsne:q}"
        " --selection-fid {params.selection} --out {output.png:q} > {log:q} 2>&1"


rule figure8:
    input:
        evaluated=study_evaluations(),
    output:
        png=report("results/figures/figure8.png", category="Figures", labels={"figure": "figure8"}),
        pdf="results/figures/figure8.pdf",
    log:
        "results/logs/figure8.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        selection=IMAGES["evaluation"]["selection_fid"],
        evaluations=space_separated(study_files(".json")),
        latents=space_separated(study_files("_latents.npz", seeds=figure_seed())),
    shell:
        "vaepriors figure8 --evaluations {params.evaluations} --latents {params.latents}"
        " --selection-fid {params.selection} --out {output.png:q} > {log:q} 2>&1"


rule figure9:
    input:
        evaluated=study_evaluations(),
        tsne=study_files(".npz", seeds=figure_seed(), stage="tsne"),
    output:
        png=report("results/figures/figure9.png", category="Figures", labels={"figure": "figure9"}),
        pdf="results/figures/figure9.pdf",
    log:
        "results/logs/figure9.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        selection=IMAGES["evaluation"]["selection_fid"],
        evaluations=space_separated(study_files(".json")),
    shell:
        "vaepriors figure9 --evaluations {params.evaluations} --tsne {input.tsne:q}"
        " --selection-fid {params.selection} --out {output.png:q} > {log:q} 2>&1"


rule image_samples:
    input:
        evaluated=study_evaluations(),
    output:
        grids=directory("results/figures/image_samples"),
    log:
        "results/logs/image_samples.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        selection=IMAGES["evaluation"]["selection_fid"],
        evaluations=space_separated(study_files(".json")),
        latents=space_separated(study_files("_latents.npz", seeds=figure_seed())),
    shell:
        "vaepriors image-samples --evaluations {params.evaluations} --latents {params.latents}"
        " --selection-fid {params.selection} --out-dir {output.grids:q} > {log:q} 2>&1"


rule figure5:
    input:
        csv=lambda wildcards: "results/images/{}/overfit_encoder/{}/r{}/seed{}.csv".format(*figure5_run()),
        npz=lambda wildcards: "results/images/{}/overfit_encoder/{}/r{}/seed{}.npz".format(*figure5_run()),
    output:
        png=report("results/figures/figure5.png", category="Figures", labels={"figure": "figure5"}),
        pdf="results/figures/figure5.pdf",
    log:
        "results/logs/figure5.log",
    conda:
        "../../envs/vaepriors.yaml"
    shell:
        "vaepriors figure5 --results {input.csv:q} --panels {input.npz:q} --out {output.png:q} > {log:q} 2>&1"
