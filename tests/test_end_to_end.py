"""End-to-end runs of the workflow (2D benchmark, image study, dpVAE study) in a temporary working directory, with the
real `vaepriors` CLI.

- tests/config/tiny.yaml: every rule on one dataset in a few seconds per job (59 jobs, about 4 minutes on 2 cores);
  it checks that the jobs, files, report and re-run behaviour fit together, not the numbers.
- config/reduced.yaml: the reduced benchmark (`make reduced`), marked slow; deselect with -m "not slow".
"""

import csv
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = [f"results/tables/table{n}.{ext}" for n in (1, 2, 3, 4, 5) for ext in ("tex", "csv")]
FIGURES = [f"results/figures/figure{n}.{ext}" for n in ("2a", "2b", 3, 4, 5, 6, 7, 8, 9) for ext in ("png", "pdf")]
DPVAE_TABLES = [f"results/tables/dpvae_table1.{ext}" for ext in ("tex", "csv")]
DPVAE_MOONS_FIGURES = [f"results/figures/dpvae_figure{n}.{ext}" for n in (1, 3) for ext in ("png", "pdf")]
DPVAE_IMAGE_FIGURES = [f"results/figures/dpvae_figure{n}.{ext}" for n in (4, 5, 6, 8) for ext in ("png", "pdf")]
# config/reduced.yaml is meant for a 2-core CPU: the 2D benchmark, the image study and the dpVAE study (two moons and
# Fashion-MNIST) in under 20 minutes (`make reduced`, the set-up included)
REDUCED_LIMIT_S = 20 * 60


def snakemake(workdir, layer, *args, timeout):
    """`snakemake all` in `workdir` with config.yaml plus `layer`, from the repository's Snakefile."""
    command = [
        sys.executable, "-m", "snakemake", "all",
        "--snakefile", ROOT / "Snakefile",
        "--directory", workdir,
        # `configfile: "config.yaml"` is relative to the working directory: give both layers absolutely.
        "--configfile", ROOT / "config.yaml", layer,
        *args,
    ]  # fmt: skip
    return subprocess.run(
        [str(part) for part in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def numbers(path):
    """Every cell of a CSV file that parses as a number (empty cells, e.g. of configurations not run, are skipped)."""
    found = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            for cell in row:
                try:
                    found.append(float(cell))
                except ValueError:
                    pass
    return found


def check_outputs(workdir, extra=()):
    missing = [name for name in [*TABLES, *FIGURES, *extra] if not (workdir / name).is_file()]
    assert not missing
    for name in [*TABLES, *FIGURES, *extra]:
        assert (workdir / name).stat().st_size > 0, name
    table1 = numbers(workdir / "results/tables/table1.csv")
    assert table1, "table1.csv holds no numbers"
    assert all(math.isfinite(value) for value in table1), table1


def test_tiny_workflow_end_to_end(tmp_path):
    tiny = ROOT / "tests" / "config" / "tiny.yaml"
    result = snakemake(tmp_path, tiny, "--cores", "2", "--show-failed-logs", timeout=1500)
    assert result.returncode == 0, result.stdout[-20000:]
    check_outputs(tmp_path, DPVAE_TABLES + DPVAE_MOONS_FIGURES)
    dpvae_table = (tmp_path / "results/tables/dpvae_table1.csv").read_text()
    assert "factor" in dpvae_table and "decoupled" in dpvae_table
    assert "authors" in dpvae_table  # the objective variant the tiny configuration runs (dpvae.run_variants)
    claims = (tmp_path / "results/reproduction/claims.csv").read_text().splitlines()
    assert len(claims) > 1 and "§5.1, Table 1" in "\n".join(claims)
    assert "not comparable" in (tmp_path / "results/reproduction/scorecard.md").read_text()  # tiny scale
    for stage, configuration in [("grid", "vae_sg"), ("seeds", "sintro_mog_lc_ip"), ("baseline", "baseline_mc")]:
        run = tmp_path / "results/toy/8Gaussian" / stage / configuration
        assert {"runs.pt", "metrics.csv", "samples.npz"} <= {p.name for p in run.iterdir()}, run
    assert (tmp_path / "results/logs/toy_train_grid/8Gaussian/vae_sg.log").stat().st_size > 0
    assert (tmp_path / "results/benchmarks/toy_train_seeds/8Gaussian/sintro_sg.tsv").is_file()
    images = tmp_path / "results/images/fmnist"
    assert {p.name for p in (images / "runs/mog10_ip/r10/seed0").iterdir()} >= {"final.pt", "history.csv",
                                                                                "status.json", "snapshots"}
    # one stack per configuration: its runs' directories, then its manifest; its checkpoint removed at the end
    assert (images / "runs/mog10_ip/stack.json").is_file() and not (images / "runs/mog10_ip/checkpoint.pt").exists()
    assert (images / "eval/mog10_ip/r10/seed0.json").is_file() and (images / "eval/mog10_ip/stack.json").is_file()
    assert (images / "warmup/vamp10.pt").is_file()
    table5 = (tmp_path / "results/tables/table5.csv").read_text()
    assert "classifier:fmnist" in table5 and "mog10_ip" in table5
    assert len(list((tmp_path / "results/figures/image_samples").glob("*.png"))) == 3  # sg, mog10_ip, flow_ip
    assert "flow_ip" in table5

    # Nothing re-runs when nothing changed (the params that Snakemake compares are stable) ...
    again = snakemake(tmp_path, tiny, "--dry-run", timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout, again.stdout
    # ... and the HTML report collects the tables and figures.
    report = snakemake(tmp_path, tiny, "--report", tmp_path / "report.html", timeout=120)
    assert report.returncode == 0, report.stdout
    assert "Table 3: grid-search optimum" in (tmp_path / "report.html").read_text()
    # The page the main job ends with, as a browser shows it (screenshot kept in test-output/ for a person to see)
    from browser import check_in_browser

    dom = check_in_browser(tmp_path / "results/report.html", ROOT / "test-output/report-tiny.png")
    for section in ("table1", "table5", "dpvae_table1", "figure3.png", "figure9.png", "dpvae_figure1.png",
                    "Reproduction scorecard", "Configuration", "Runtime"):
        assert section in dom, section


@pytest.mark.slow
def test_reduced_workflow_end_to_end(tmp_path):
    start = time.perf_counter()
    result = snakemake(
        tmp_path, ROOT / "config" / "reduced.yaml", "--cores", "2", "--show-failed-logs", timeout=2 * REDUCED_LIMIT_S
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-20000:]
    check_outputs(tmp_path, DPVAE_TABLES + DPVAE_MOONS_FIGURES + DPVAE_IMAGE_FIGURES)
    assert elapsed < REDUCED_LIMIT_S, f"the reduced workflow took {elapsed / 60:.1f} min"
