# Tables and figures of the paper from the evaluated runs (each figure as PNG and, beside it, PDF).
# They are cheap: they run on the main host (localrules) even when the jobs go to a cluster.
# `snakemake --report report.html` collects them.


localrules:
    table,
    figure3,
    figure6,


rule table:
    input:
        metrics=table_metrics,
    output:
        tex=report(
            "results/tables/{table}.tex",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "LaTeX"},
        ),
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "CSV"},
        ),
    log:
        "results/logs/table/{table}.log",
    wildcard_constraints:
        table="table1|table3|table4",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["report"]["threads"]
    resources:
        mem_mb=JOBS["report"]["mem_mb"],
        runtime=JOBS["report"]["runtime"],
    shell:
        "vaepriors {wildcards.table} --metrics {input.metrics:q}"
        " --out-tex {output.tex:q} --out-csv {output.csv:q} > {log:q} 2>&1"


rule figure3:
    input:
        samples=FIGURE3_SAMPLES,
    output:
        png=report(
            "results/figures/figure3.png",
            caption="../report/figure3.rst",
            category="Figures",
            labels={"figure": "figure3"},
        ),
        pdf="results/figures/figure3.pdf",
    log:
        "results/logs/figure3.log",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["report"]["threads"]
    resources:
        mem_mb=JOBS["report"]["mem_mb"],
        runtime=JOBS["report"]["runtime"],
    shell:
        "vaepriors figure3 --samples {input.samples:q} --out {output.png:q} > {log:q} 2>&1"


rule figure6:
    output:
        png=report(
            "results/figures/figure6.png",
            caption="../report/figure6.rst",
            category="Figures",
            labels={"figure": "figure6"},
        ),
        pdf="results/figures/figure6.pdf",
    log:
        "results/logs/figure6.log",
    conda:
        "../../envs/vaepriors.yaml"
    threads: JOBS["report"]["threads"]
    resources:
        mem_mb=JOBS["report"]["mem_mb"],
        runtime=JOBS["report"]["runtime"],
    shell:
        "vaepriors figure6 --out {output.png:q} > {log:q} 2>&1"
