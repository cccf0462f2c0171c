"""One page to open after a run (``vaepriors report-page``, the last job of ``snakemake all``): results/report.html.

A run writes some sixty files under results/; this page gathers what a reader wants from them: what was run (scale,
configuration files, commit, date), the reproduction scorecard's verdict counts and claims, every table, every figure,
the merged configuration and the runtime of each stage from Snakemake's benchmark files. It is self-contained
(inline CSS, PNGs as base64 data URIs), so it opens from anywhere, also mailed or archived alone. A section the run did
not produce shows a visible note instead of failing the job, so the page renders for any subset of the targets.

Torch-free: pandas and yaml load inside the handler, the CLI's other modules are not needed to import this one.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import os
import re
from pathlib import Path

from vaepriors.reproduction import code_commit, parse_scales

# What each table and figure is, by file stem (results/tables/<stem>.csv, results/figures/<stem>.png), in the order
# the page shows them; files of other stems follow with a generic caption.
TABLE_CAPTIONS: dict[str, str] = {
    "table1": "Prior Learning, 2D Table 1: generation performance (gnELBO, histogram KL, JSD; mean ± standard error "
              "over the seeds) of the prior configurations on the 2D datasets, each at its grid-search optimum "
              "(toy.selection: grid) or at the authors' ablation betas (toy.selection: reported).",
    "table3": "Prior Learning, 2D Table 3: grid-search optimum of S-IntroVAE with a standard Gaussian prior per "
              "dataset, beside the betas reported by Daniel & Tamar (2021).",
    "table4": "Prior Learning, 2D Table 4: S-IntroVAE with a standard Gaussian prior at the reported betas with "
              "closed-form and Monte-Carlo KL, and our S-IntroVAE + SG seeds (\"replicated\": at our grid optimum "
              "with toy.selection: grid, at the reported betas with toy.selection: reported).",
    "table2": "Prior Learning, image Table 2: S-IntroVAE with the standard Gaussian (SG) and VAMP(K)→MoG(K) priors "
              "with learnable contributions (LC) and Intro-Prior (IP); FID, precision, recall.",
    "table5": "Prior Learning, image Table 5 (App. D.2): the full ablation, SG and MoG(K) × LC × IP, and dpVAE's "
              "decoupled flow prior beyond the paper.",
    "dpvae_table1": "dpVAE, Table 1: FID, low-posterior FID, symmetric KL and NLL of each regulariser with the "
                    "standard N(0, I) and the decoupled prior, per objective variant (authors' scaling, per sample).",
}
FIGURE_CAPTIONS: dict[str, str] = {
    "figure2a": "Prior Learning, Figure 2a: max prior log-variance and FID(GEN) over training, with and without "
                "the adaptive soft clipping (unimodal learnable MoG).",
    "figure2b": "Prior Learning, Figure 2b: responsibility entropy over training for two r_entropy values; "
                "samples of inactive modes framed red.",
    "figure3": "Prior Learning, Figure 3: 2D density estimation under SG, MoG+LC and MoG+LC+IP: real data, "
               "generated samples and the learned density.",
    "figure4": "Prior Learning, Figure 4: latent dimensions 1-2 with the prior means sized by weight, over t-SNE "
               "embeddings, per Table 5 configuration.",
    "figure5": "Prior Learning, Figure 5: overfitting the encoder (Propositions 1 and 2; β_neg 1 and 256, batch 1).",
    "figure6": "Prior Learning, Figure 6: the adaptive soft clipping of the prior log-variances for several "
               "clipping ranges and values of K.",
    "figure7": "Prior Learning, Figure 7: responsibility entropy and FID(GEN) over training for r_entropy "
               "0, 10 and 100.",
    "figure8": "Prior Learning, Figure 8: latent dimensions 1-2 of the aggregated posterior and the prior means.",
    "figure9": "Prior Learning, Figure 9: t-SNE of the latent space by class.",
    "dpvae_figure1": "dpVAE, Figure 1: one regulariser on two moons without and with the decoupled prior.",
    "dpvae_figure3": "dpVAE, Figure 3: every two-moons run: generated samples, q(z), q(z0) and the data with "
                     "low- and high-posterior samples.",
    "dpvae_figure4": "dpVAE, Figure 4: the leakage score LS(τ) per dataset.",
    "dpvae_figure5": "dpVAE, Figure 5: random prior samples (Gen) and low-posterior samples (LP-Gen) per run.",
    "dpvae_figure6": "dpVAE, Figure 6: interpolations over q(z) and over q(z0).",
    "dpvae_figure8": "dpVAE, Figure 8: latent traversals per dimension, by decreasing standard deviation of q(z).",
}
SAMPLE_GRIDS = "image_samples"  # results/figures/image_samples/<dataset>_<configuration>.png
NOT_PRODUCED = "not produced in this run"
# The claims table's columns, as scorecard.html shows them (claims.csv also has the claim's key, table and metric).
CLAIM_VIEW = ("paper", "section", "text", "dataset", "better", "worse", "scale", "verdict", "z", "reason", "in_paper")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 110em; padding: 0 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.scroll { overflow-x: auto; max-height: 40em; overflow-y: auto; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .caption { color: #444; margin: 0.3em 0; }
.missing { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
#broken-images { background: #f7d9d9; border-left: 4px solid #c00; padding: 0.5em 1em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""
# On load, count images the browser could not decode: the count goes to <body data-broken-images> (the browser test
# reads it) and, if any, a visible warning names them.
BROKEN_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var broken = Array.prototype.filter.call(document.images, function (image) {
    return !image.complete || image.naturalWidth === 0;
  });
  document.body.setAttribute("data-images", String(document.images.length));
  document.body.setAttribute("data-broken-images", String(broken.length));
  if (broken.length) {
    var warning = document.getElementById("broken-images");
    warning.textContent = broken.length + " image(s) failed to load: " +
      broken.map(function (image) { return image.alt; }).join(", ");
    warning.hidden = false;
  }
});
"""


def _anchor(prefix: str, stem: str) -> str:
    return prefix + "-" + re.sub(r"[^\w-]", "-", stem)


def _note(text: str) -> str:
    return f'<p class="missing">{html.escape(text)}</p>'


def _missing(what: str) -> str:
    return _note(f"{what}: {NOT_PRODUCED}.")


def _known_first(paths: list[Path], captions: dict[str, str]) -> list[Path]:
    """The paper's order for known stems, then the others alphabetically."""
    order = {stem: rank for rank, stem in enumerate(captions)}
    return sorted(paths, key=lambda path: (order.get(path.stem, len(order)), path.name))


def _frame_html(frame) -> str:
    return '<div class="scroll">' + frame.to_html(index=False, escape=True, na_rep="", border=0) + "</div>"


def _link(path: Path, page_dir: Path) -> str:
    """A relative link from the page to one of the run's files."""
    return f'<a href="{html.escape(Path(os.path.relpath(path, page_dir)).as_posix())}">{html.escape(path.name)}</a>'


def _read_csv(path: Path):
    """The CSV as a frame, or the reason it cannot be read (an empty or malformed file is shown, not fatal)."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        return f"{path.name} could not be read ({error})"


# ---------------------------------------------------------------------------------------------------------- sections

def scale_rows(scales: dict[str, str]) -> list[tuple[str, str]]:
    """Header rows: "reduced" or "paper" overall (the scorecard's scale_label), then each study's scale as the
    scorecard derives it (its --scale values: "paper", or the first differences to config.yaml)."""
    from vaepriors.core.reporting.scorecard import scale_label

    if not scales:
        return [("Scale", "not given")]
    overall = "paper" if all(scale_label(text) == "paper" for text in scales.values()) else "reduced"
    return [("Scale", overall)] + [(f"Scale of {study}", text) for study, text in scales.items()]


def verdict_counts(cells, claims) -> tuple:
    """Verdict counts of the cells the papers print (as scorecard.html's summary) per study, and of the claims per
    paper, the verdicts in the scorecard's order."""
    from vaepriors.core.reporting.scorecard import CELL_VERDICTS, CLAIM_VERDICTS

    def counts(frame, by: str, order: tuple[str, ...]):
        table = frame.groupby(by)["verdict"].value_counts().unstack(fill_value=0)
        return table.reindex(columns=[v for v in order if v in table.columns]).rename_axis(columns=None)

    return counts(cells[cells["paper_mean"].notna()], "study", CELL_VERDICTS), counts(claims, "paper", CLAIM_VERDICTS)


def scorecard_section(results: Path, page_dir: Path) -> str:
    """Verdict counts per study and per paper, the claims, and a link to the full scorecard page."""
    import pandas as pd

    directory = results / "reproduction"
    if not (directory / "scorecard.csv").is_file() or not (directory / "claims.csv").is_file():
        return _missing("The reproduction scorecard (reproduction/scorecard.csv, claims.csv)")
    cells, claims = _read_csv(directory / "scorecard.csv"), _read_csv(directory / "claims.csv")
    problems = [frame for frame in (cells, claims) if isinstance(frame, str)]
    problems += [f"{name} lacks the columns {', '.join(sorted(set(columns) - set(frame.columns)))}"
                 for name, frame, columns in (("scorecard.csv", cells, ("study", "verdict", "paper_mean")),
                                              ("claims.csv", claims, CLAIM_VIEW))
                 if not isinstance(frame, str) and not set(columns) <= set(frame.columns)]
    if problems:
        return "".join(_note(problem) for problem in problems)
    cell_counts, claim_counts = verdict_counts(cells, claims)
    z = pd.to_numeric(claims["z"], errors="coerce")
    claim_view = claims[list(CLAIM_VIEW)].assign(z=z.map(lambda value: f"{value:+.1f}" if math.isfinite(value) else ""))
    scorecard_html = directory / "scorecard.html"
    full = (f"Every cell with the paper's value, z and the reason: {_link(scorecard_html, page_dir)}."
            if scorecard_html.is_file() else "The full scorecard page (scorecard.html): " + NOT_PRODUCED + ".")
    return (f'<p class="caption">{full} Cells are <em>reproduced</em> within 2 combined standard errors of the '
            "paper's value, else <em>better</em> or <em>worse</em>, or <em>not comparable</em> with the reason; a "
            "claim <em>holds</em> or <em>fails</em> beyond 2 standard errors (docs/reproduction.md).</p>"
            f"<h3 id='cell-verdicts'>Cell verdicts per study (cells the papers print)</h3>"
            f"{_frame_html(cell_counts.reset_index())}"
            f"<h3 id='claim-verdicts'>Claim verdicts per paper</h3>{_frame_html(claim_counts.reset_index())}"
            f"<h3 id='claims'>Claims</h3>{_frame_html(claim_view)}")


def tables_section(results: Path, page_dir: Path) -> tuple[str, list[tuple[str, str]]]:
    """Every results/tables/*.csv with its caption; also the table of contents' entries (anchor, name)."""
    paths = _known_first(list((results / "tables").glob("*.csv")), TABLE_CAPTIONS)
    if not paths:
        return _missing("Tables (tables/*.csv)"), []
    parts, entries = [], []
    for path in paths:
        anchor = _anchor("table", path.stem)
        caption = TABLE_CAPTIONS.get(path.stem, f"Table {path.stem} (no caption registered).")
        tex = path.with_suffix(".tex")
        files = _link(path, page_dir) + (", " + _link(tex, page_dir) if tex.is_file() else "")
        frame = _read_csv(path)
        body = _note(frame) if isinstance(frame, str) else _frame_html(frame)
        parts.append(f"<h3 id='{anchor}'>{html.escape(path.stem)}</h3>"
                     f"<p class='caption'>{html.escape(caption)} ({files})</p>{body}")
        entries.append((anchor, path.stem))
    return "".join(parts), entries


def _figure_caption(path: Path) -> str:
    if path.parent.name == SAMPLE_GRIDS:
        dataset, _, configuration = path.stem.partition("_")
        return (f"Image study: prior samples (inactive modes framed red) beside originals over reconstructions, "
                f"{dataset}, configuration {configuration or '?'} (the run the tables select).")
    return FIGURE_CAPTIONS.get(path.stem, f"Figure {path.stem} (no caption registered).")


def figures_section(results: Path, page_dir: Path) -> tuple[str, list[tuple[str, str]]]:
    """Every results/figures/*.png, then the image study's sample grids, embedded as data URIs with captions."""
    figures = results / "figures"
    paths = (_known_first(list(figures.glob("*.png")), FIGURE_CAPTIONS)
             + sorted((figures / SAMPLE_GRIDS).glob("*.png")))
    if not paths:
        return _missing("Figures (figures/*.png)"), []
    parts, entries = [], []
    for path in paths:
        grid = path.parent.name == SAMPLE_GRIDS
        anchor, name = _anchor("samples" if grid else "figure", path.stem), (f"{SAMPLE_GRIDS}/" * grid) + path.stem
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<figure id='{anchor}'><img src='data:image/png;base64,{data}' alt='{html.escape(name)}'>"
                     f"<figcaption><strong>{html.escape(name)}</strong>: {html.escape(_figure_caption(path))} "
                     f"({_link(path, page_dir)})</figcaption></figure>")
        entries.append((anchor, name))
    return "".join(parts), entries


def runtime_frame(benchmarks: Path):
    """One row per rule from Snakemake's benchmark files (benchmarks/<rule>/**, TSV; the last line of each is its
    final repeat): jobs, wall and CPU seconds summed, the largest max RSS; then a total row. None without files."""
    import pandas as pd

    rows = []
    for path in sorted(p for p in benchmarks.rglob("*") if p.is_file()):
        parts = path.relative_to(benchmarks).parts
        record = _benchmark_record(path)
        if record is not None:
            rows.append({"rule": parts[0] if len(parts) > 1 else path.stem, **record})
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    per_rule = frame.groupby("rule").agg(jobs=("s", "size"), wall_s=("s", "sum"), cpu_s=("cpu_time", "sum"),
                                         max_rss_mb=("max_rss", "max"))
    per_rule = per_rule.sort_values("wall_s", ascending=False).reset_index()
    total = {"rule": "total", "jobs": per_rule["jobs"].sum(), "wall_s": per_rule["wall_s"].sum(),
             "cpu_s": per_rule["cpu_s"].sum(), "max_rss_mb": per_rule["max_rss_mb"].max()}
    return pd.concat([per_rule, pd.DataFrame([total])], ignore_index=True)


def _benchmark_record(path: Path) -> dict[str, float] | None:
    """s, cpu_time and max_rss of a benchmark file's last line (NaN where Snakemake wrote NA), None if unreadable."""
    import pandas as pd

    try:
        last = pd.read_csv(path, sep="\t").iloc[-1]
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, IndexError):
        return None
    return {column: pd.to_numeric(last.get(column), errors="coerce") for column in ("s", "cpu_time", "max_rss")}


def runtime_section(results: Path) -> str:
    frame = runtime_frame(results / "benchmarks")
    if frame is None:
        return _missing("Benchmarks (benchmarks/<rule>/…)")
    shown = frame.rename(columns={"wall_s": "wall (s)", "cpu_s": "CPU (s)", "max_rss_mb": "max RSS (MB)"})
    shown = shown.round({"wall (s)": 1, "CPU (s)": 1, "max RSS (MB)": 1})
    return ("<p class='caption'>From Snakemake's <code>benchmark:</code> files, one row per rule: jobs, wall-clock and "
            "CPU seconds summed over its jobs (jobs that ran in parallel overlap in wall time), the largest peak "
            "memory of one job. Rules without a benchmark (tables, figures) are not listed.</p>" + _frame_html(shown))


def config_section(config: dict | None) -> str:
    if config is None:
        return _missing("The configuration (--config-json)")
    import yaml

    return f"<pre>{html.escape(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))}</pre>"


# -------------------------------------------------------------------------------------------------------------- page

def render_page(results: Path, page_dir: Path, config: dict | None = None, scales: dict[str, str] | None = None,
                provenance: str = "") -> str:
    """The whole page for the run under ``results``; links are relative to ``page_dir``, the page's folder."""
    tables, table_entries = tables_section(results, page_dir)
    figures, figure_entries = figures_section(results, page_dir)
    sections = [
        ("scorecard", "Reproduction scorecard", scorecard_section(results, page_dir), []),
        ("tables", "Tables", tables, table_entries),
        ("figures", "Figures", figures, figure_entries),
        ("configuration", "Configuration", config_section(config), []),
        ("runtime", "Runtime per stage", runtime_section(results), []),
    ]
    contents = "".join(
        f"<li><a href='#{anchor}'>{title}</a>"
        + ("<ul>" + "".join(f"<li><a href='#{a}'>{html.escape(n)}</a></li>" for a, n in entries) + "</ul>"
           if entries else "") + "</li>"
        for anchor, title, _, entries in sections)
    header = [*scale_rows(scales or {}), ("What ran", provenance or "not given"), ("Commit", code_commit()),
              ("Generated", datetime.datetime.now().isoformat(sep=" ", timespec="minutes"))]
    facts = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in header)
    body = "".join(f"<h2 id='{anchor}'>{title}</h2>{content}" for anchor, title, content, _ in sections)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>vaepriors report</title>"
            f"<style>{STYLE}</style><script>{BROKEN_IMAGE_CHECK}</script></head><body>"
            "<h1>vaepriors: reproduction report</h1>"
            "<p>Prior Learning in Introspective VAEs and dpVAEs, reproduced: every table and figure of this run, "
            "with the scorecard that judges them against the papers (README.md).</p>"
            f"<p id='broken-images' hidden></p><table>{facts}</table>"
            f"<h2 id='contents'>Contents</h2><ul>{contents}</ul>{body}</body></html>\n")


def report_page(args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads(args.config_json) if args.config_json else None
    out.write_text(render_page(Path(args.results), out.parent, config, parse_scales(args.scale), args.provenance))


def add_report_page_commands(sub) -> None:
    p = sub.add_parser("report-page", help="one self-contained HTML page with the run's scorecard, tables, figures, "
                                           "configuration and runtimes")
    p.add_argument("--results", default="results", help="the run's results directory")
    p.add_argument("--config-json", default="", help="the merged Snakemake configuration, as JSON")
    p.add_argument("--scale", nargs="*", default=[], metavar="STUDY=DESCRIPTION",
                   help="per study: 'paper', or how the run differs from the paper's scale (as the scorecard's)")
    p.add_argument("--provenance", default="", help="a line naming the configuration files")
    p.add_argument("--out", required=True, help="the HTML page to write")
    p.set_defaults(handler=report_page)


COMMANDS = (add_report_page_commands,)
