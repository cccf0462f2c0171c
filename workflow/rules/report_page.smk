# The page a run ends with: results/report.html, one self-contained HTML file with what was run (scale, configuration
# files, commit, date), the scorecard's verdicts, every table and figure, the merged configuration and the runtime
# of each stage (docs: `vaepriors report-page --help`). It reads every other target of `all`, so it runs last.
import json


localrules:
    report_page,


rule report_page:
    input:
        all_targets(),
        image_targets(),
        dpvae_targets(),
        "results/reproduction/scorecard.html",
    output:
        "results/report.html",
    log:
        "results/logs/report_page.log",
    conda:
        "../../envs/vaepriors.yaml"
    params:
        config=lambda wildcards: json.dumps(config),
        scale=scorecard_scale_args,
        provenance=scorecard_provenance,
    shell:
        "vaepriors report-page --results results --config-json {params.config:q} --scale {params.scale}"
        " --provenance {params.provenance:q} --out {output:q} > {log:q} 2>&1"
