"""results/report.html (``vaepriors report-page``), the one page a run ends with: built from a results directory
constructed here (two tables, three figures, a scorecard written by the scorecard's own writer, benchmark files),
checked as text (sections, captions, data URIs, exact runtime sums, notes for what is missing) and in headless
Chromium (tests/browser.py: it renders, is not blank, no image is broken; the screenshot goes to test-output/)."""

import argparse
import base64
import io
import json
import math
import re

import pandas as pd
from browser import check_in_browser, dom_after_load
from conftest import ROOT
from matplotlib.figure import Figure

import pytest

from vaepriors import report_page
from vaepriors.core.reporting.scorecard import CELL_COLUMNS, CellRef, Claim, judge_cells, judge_claims, write_scorecard

CONFIG = {"toy": {"datasets": ["8Gaussian"], "training": {"iterations": 500}}}
SCALES = ["toy2d=toy.training.iterations 500 (paper 30000)"]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def png_bytes() -> bytes:
    figure = Figure(figsize=(3, 2), dpi=40)
    figure.subplots().plot([0, 1, 2], [1, 0, 2])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def benchmark(path, *lines):
    """A Snakemake benchmark file: the header, then one line per repeat (s, cpu_time, max_rss given; the rest NA)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:01\t{rss}\tNA\tNA\tNA\tNA\tNA\tNA\t{cpu}\n" for s, cpu, rss in lines))


def scorecard(directory):
    """Two judged cells the paper prints (one within 2 SE, one 7 SE worse), one ours-only cell, and one claim."""
    def cell(row, mean, paper_mean):
        return {"study": "toy2d", "paper": "Prior Learning", "table": "table1", "dataset": "8Gaussian", "row": row,
                "column": "", "metric": "kl", "scale": "reduced", "ours_mean": mean, "ours_sem": 0.1, "n": 3,
                "n_runs": 3, "n_diverged": 0, "paper_mean": paper_mean, "paper_pm": 0.1, "lower_is_better": True,
                "exact": False, "not_comparable": ""}

    cells = judge_cells(pd.DataFrame([cell("SG", 1.0, 1.05), cell("MoG", 2.0, 1.0), cell("Flow", 1.5, math.nan)],
                                     columns=list(CELL_COLUMNS)))
    claim = Claim("sg-beats-mog", "Prior Learning", "§5.1", "SG has a lower KL than MoG",
                  CellRef("table1", "8Gaussian", "SG", "kl"), CellRef("table1", "8Gaussian", "MoG", "kl"), True)
    write_scorecard(cells, judge_claims([claim], cells), directory, "Configuration: config.yaml")


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    (root / "tables").mkdir(parents=True)
    pd.DataFrame({"dataset": ["8Gaussian", "spiral"], "kl": [1.5, 2.25], "note": ["<b>bold</b>", ""]}).to_csv(
        root / "tables/table1.csv", index=False)
    (root / "tables/table1.tex").write_text("\\begin{table}\\end{table}\n")
    pd.DataFrame({"a": [1], "b": ["x"]}).to_csv(root / "tables/mystery_table.csv", index=False)
    png = png_bytes()
    (root / "figures/image_samples").mkdir(parents=True)
    for name in ("figure6.png", "custom_plot.png", "image_samples/fmnist_mog10_ip.png"):
        (root / "figures" / name).write_bytes(png)
    scorecard(root / "reproduction")
    # toy_train_grid: two jobs, the first benchmarked twice (only its last repeat counts); toy_evaluate: one job
    # whose memory was not sampled (NA)
    benchmark(root / "benchmarks/toy_train_grid/8Gaussian/vae_sg.tsv", (99.0, 99.0, 999.0), (10.5, 20.25, 100.5))
    benchmark(root / "benchmarks/toy_train_grid/spiral/vae_sg.tsv", (4.25, 8.5, 200.0))
    benchmark(root / "benchmarks/toy_evaluate/8Gaussian/seeds/sintro_sg.tsv", (1.0, 2.5, "NA"))
    return root


def render(results, config=CONFIG, scales=SCALES):
    """The page through the sub-command, as the rule runs it; its path."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for add in report_page.COMMANDS:
        add(sub)
    out = results / "report.html"
    argv = ["report-page", "--results", str(results), "--out", str(out), "--provenance", "Configuration: config.yaml"]
    argv += ["--config-json", json.dumps(config)] * (config is not None) + ["--scale", *scales]
    args = parser.parse_args(argv)
    args.handler(args)
    return out


def test_the_command_is_registered():
    from vaepriors.cli import REPORT_COMMANDS

    assert report_page.COMMANDS in REPORT_COMMANDS


def test_the_page_holds_every_section_with_its_captions(results):
    page = render(results).read_text()
    assert "id='contents'" in page
    for anchor in ("scorecard", "tables", "figures", "configuration", "runtime"):
        assert f"id='{anchor}'" in page and f"href='#{anchor}'" in page, anchor
    assert "<th>Scale</th><td>reduced</td>" in page
    assert "<th>Scale of toy2d</th><td>toy.training.iterations 500 (paper 30000)</td>" in page
    assert "Configuration: config.yaml" in page and "Commit" in page and "Generated" in page
    # tables: the known one first with its paper caption and its files, the unknown one with the generic caption
    assert page.index("id='table-table1'") < page.index("id='table-mystery_table'")
    assert "Prior Learning, 2D Table 1: generation performance" in page
    assert "Table mystery_table (no caption registered)." in page
    assert '<a href="tables/table1.csv">' in page and '<a href="tables/table1.tex">' in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page  # cells are escaped
    # figures: known, unknown and a sample grid, each in the table of contents
    assert "Prior Learning, Figure 6: the adaptive soft clipping" in page
    assert "Figure custom_plot (no caption registered)." in page
    assert "fmnist, configuration mog10_ip" in page
    for anchor in ("figure-figure6", "figure-custom_plot", "samples-fmnist_mog10_ip"):
        assert f"id='{anchor}'" in page and f"href='#{anchor}'" in page, anchor
    # the scorecard: the claim, and a relative link to the full page
    assert "SG has a lower KL than MoG" in page and '<a href="reproduction/scorecard.html">' in page
    assert "<pre>toy:\n  datasets:\n  - 8Gaussian\n  training:\n    iterations: 500\n</pre>" in page
    assert report_page.NOT_PRODUCED not in page


def test_the_page_is_self_contained(results):
    page = render(results).read_text()
    sources = re.findall(r"""src=['"]([^'"]*)""", page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == (results / "figures/figure6.png").read_bytes()
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"""href=['"](?!#)[a-z]+:""", page)  # links: anchors and relative files only


def test_verdict_counts_per_study_and_per_paper(results):
    cells, claims = (pd.read_csv(results / "reproduction" / name) for name in ("scorecard.csv", "claims.csv"))
    cell_counts, claim_counts = report_page.verdict_counts(cells, claims)
    assert cell_counts.loc["toy2d"].to_dict() == {"reproduced": 1, "worse": 1}  # not the cell without a paper value
    assert claim_counts.loc["Prior Learning"].to_dict() == {"holds": 1}


def test_runtime_is_summed_per_rule(results):
    frame = report_page.runtime_frame(results / "benchmarks").set_index("rule")
    assert list(frame.index) == ["toy_train_grid", "toy_evaluate", "total"]  # by wall time, then the total
    assert frame.loc["toy_train_grid", ["jobs", "wall_s", "cpu_s", "max_rss_mb"]].tolist() == [2, 14.75, 28.75, 200.0]
    assert frame.loc["toy_evaluate", ["jobs", "wall_s", "cpu_s"]].tolist() == [1, 1.0, 2.5]
    assert math.isnan(frame.loc["toy_evaluate", "max_rss_mb"])
    assert frame.loc["total", ["jobs", "wall_s", "cpu_s", "max_rss_mb"]].tolist() == [3, 15.75, 31.25, 200.0]


def test_missing_sections_are_noted_not_fatal(tmp_path):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "tables/table3.csv").write_text("")  # an empty table: shown with the reason, not fatal
    page = render(results, config=None, scales=[]).read_text()
    assert page.count(report_page.NOT_PRODUCED) == 4  # scorecard, figures, configuration, runtime
    assert "table3.csv could not be read" in page and "id='table-table3'" in page
    # a scorecard from another version (columns renamed) is noted too
    (results / "reproduction").mkdir()
    (results / "reproduction/scorecard.csv").write_text("study,verdict,paper_mean\ntoy2d,reproduced,1.0\n")
    (results / "reproduction/claims.csv").write_text("paper,outcome\nPrior Learning,holds\n")
    page = render(results, config=None, scales=[]).read_text()
    assert "claims.csv lacks the columns better, dataset, " in page and page.count(report_page.NOT_PRODUCED) == 3
    assert "<th>Scale</th><td>not given</td>" in page


def test_the_page_in_a_browser(results):
    """What a user sees: the screenshot (test-output/report-page.png) and the DOM after load: every table, every
    image decoded."""
    dom = check_in_browser(render(results), ROOT / "test-output" / "report-page.png")
    assert 'data-images="3"' in dom
    assert dom.count("<table") == 7  # header, 3 scorecard tables, 2 result tables, runtime
    assert 'id="table-table1"' in dom and 'id="samples-fmnist_mog10_ip"' in dom


def test_a_broken_image_is_reported_on_the_page(results):
    (results / "figures/broken.png").write_bytes(b"not a png")
    dom = dom_after_load(render(results))
    assert 'data-broken-images="1"' in dom
    assert re.search(r'<p id="broken-images">1 image\(s\) failed to load: broken</p>', dom), dom[:2000]
