# The reproduction scorecard (docs/reproduction.md): every reproduced cell of the tables judged against the paper's
# value and every claim of both papers checked against our numbers; part of `snakemake --report`.


localrules:
    reproduction_scorecard,


rule reproduction_scorecard:
    input:
        **scorecard_tables(),
    output:
        html=report("results/reproduction/scorecard.html", caption="../report/scorecard.rst",
                    category="Reproduction", labels={"result": "scorecard"}),
        markdown="results/reproduction/scorecard.md",
        cells="results/reproduction/scorecard.csv",
        claims="results/reproduction/claims.csv",
    log:
        "results/logs/reproduction_scorecard.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        tables=scorecard_table_args,
        scale=scorecard_scale_args,
        provenance=scorecard_provenance,
        out_dir=lambda wildcards, output: os.path.dirname(output.html),
    shell:
        "vaepriors reproduction-scorecard {params.tables} --scale {params.scale}"
        " --provenance {params.provenance:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
