# make install   .venv with the package, Snakemake and pytest (re-runs pip only when pyproject.toml changes),
#                and Debian's dataset-fashion-mnist (the offline Fashion-MNIST of the reduced image study)
# make test      the test suite on two workers (what .ci/run runs; TEST_WORKERS=1 for one)
# make reduced   the whole pipeline at reduced scale on 2 CPU cores, offline (config/reduced.yaml); open
#                results/report.html, the one page with everything (it prints its address)
# make paper     the whole pipeline at paper scale (config.yaml); GPU jobs one at a time
# make lint      snakemake --lint
# make dry-run   plan the paper-scale and the reduced DAG without running anything
# make readme-picture  after `make reduced`: the first screen of its report page becomes the README's picture
#                (docs/images/report-first-screen.png; needs chromium, Debian's `chromium` package)
SHELL := /bin/bash
VENV := .venv
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
# Extra Snakemake options, e.g. `make reduced SMK_ARGS="--keep-going"`.
SMK_ARGS ?=
PAPER_ARGS ?= --cores all --resources gpu=1

.PHONY: install test reduced paper lint dry-run readme-picture

install: $(STAMP) $(FASHION_MNIST)

# Debian's package (root, or sudo); on other systems set images.data.source.fmnist: torchvision instead.
$(FASHION_MNIST):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get install -y -q dataset-fashion-mnist || \
	  { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }'

# A new .venv takes ~6 GiB (torch's CUDA build): say so before pip fails half-way with "No space left on device".
VENV_GIB := 7
$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || { free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	  [ "$$free" -ge $(VENV_GIB) ] || { echo "make install: $$free GiB free on this disk, a new $(VENV) needs" \
	  "about $(VENV_GIB) GiB (torch 2.14.1's CUDA build); free some space (old clones, pip's cache) and rerun." >&2; \
	  exit 1; }; }
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[workflow,test]'
	touch $@

# Two pytest-xdist workers: the tiny workflow run (Snakemake jobs, two at a time) and the SLURM run wait on
# subprocesses for most of their minutes; the other worker runs the rest meanwhile (tests/conftest.py orders them).
TEST_WORKERS ?= 2

test: install
	.venv/bin/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

reduced: install
	$(SNAKEMAKE) all --cores 2 --configfile config/reduced.yaml $(SMK_ARGS)
	@echo "Report: file://$(CURDIR)/results/report.html"

paper: install
	$(SNAKEMAKE) all $(PAPER_ARGS) $(SMK_ARGS)
	@echo "Report: file://$(CURDIR)/results/report.html"

lint: install
	$(SNAKEMAKE) --lint

dry-run: install
	$(SNAKEMAKE) all --dry-run --quiet
	$(SNAKEMAKE) all --dry-run --quiet --configfile config/reduced.yaml

readme-picture: results/report.html
	mkdir -p docs/images
	chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1000 \
	  --screenshot=docs/images/report-first-screen.png file://$(CURDIR)/results/report.html
