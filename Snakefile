# "Prior Learning in Introspective VAEs": the 2D density-estimation benchmark (Tables 1, 3, 4; Figures 3, 6)
# and the image study (Tables 2, 5; Figures 2a, 2b, 4, 5, 7, 8, 9; docs/images.md).
#
#   snakemake all --cores 2 --configfile config/reduced.yaml    # reduced scale, a 2-core CPU
#   snakemake --cores all --resources gpu=1 all                 # paper scale (config.yaml)
#
# Rules only call the `vaepriors` CLI (docs/interfaces.md); every hyperparameter reaches it through
# `params:`, so a changed config value re-runs exactly the jobs it affects.
from snakemake.utils import min_version, validate

min_version("9.20")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/toy_train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/images_common.smk"
include: "workflow/rules/dpvae_common.smk"
include: "workflow/rules/reproduction_common.smk"
include: "workflow/rules/images_train.smk"
include: "workflow/rules/images_evaluate.smk"
include: "workflow/rules/images_report.smk"
include: "workflow/rules/dpvae.smk"
include: "workflow/rules/reproduction.smk"
include: "workflow/rules/report_page.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        all_targets(),
        image_targets(),
        dpvae_targets(),
        "results/reproduction/scorecard.html",
        "results/report.html",
