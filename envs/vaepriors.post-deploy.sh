#!/usr/bin/env bash
# Snakemake runs this once inside the new conda env (`--sdm conda`), from the directory Snakemake runs
# in. It installs the vaepriors package of the repository there, without touching the pinned
# dependencies. Snakemake copies this script away, so the repository is found through the working
# directory: run Snakemake from the repository root, or set VAEPRIORS_ROOT.
set -euo pipefail
root="${VAEPRIORS_ROOT:-$PWD}"
if ! grep -qs '^name = "vaepriors"' "$root/pyproject.toml"; then
    echo "vaepriors.post-deploy.sh: no vaepriors pyproject.toml in $root;" \
        "run Snakemake from the repository root or set VAEPRIORS_ROOT" >&2
    exit 1
fi
python -m pip install --no-deps --editable "$root"
