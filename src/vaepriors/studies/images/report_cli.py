"""Sub-commands that turn the image study's evaluation files into its t-SNE embeddings, Tables 2/5, Figures 2a, 2b,
4, 5, 7, 8, 9 and sample grids.

Torch-free at import (``vaepriors.cli`` builds these parsers without the training code), so each of these jobs starts
in about a second; a figure that draws image grids loads torch when it draws.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


def _selected(paths: list[str], evaluations: list[str], key: str) -> list[str]:
    """The files (latents, t-SNE) of the r_entropy chosen per configuration (lowest mean FID(GEN), the paper)."""
    from vaepriors.studies.images.selection import load_records, select_r_entropy
    from vaepriors.studies.images.inputs import run_key

    chosen = select_r_entropy(load_records(evaluations), key)
    keep = {(row.dataset, row.configuration, float(row.r_entropy)) for row in chosen.itertuples()}
    keys = [run_key(path) for path in paths]
    return [path for path, k in zip(paths, keys) if (k.dataset, k.configuration, k.r_entropy) in keep]


def _failed(evaluations: list[str], key: str) -> dict[tuple[str, str], str]:
    """(dataset, configuration) -> 'diverged (k/n)' for each configuration without an r_entropy to show (every run
    of its sweep diverged or is non-finite), so that its panels say so instead of the figure failing."""
    from vaepriors.studies.images.selection import NO_FINITE_R, load_records, select_r_entropy, sweep_summary
    from vaepriors.core.reporting.latex import diverged_cell

    records = load_records(evaluations)
    chosen = select_r_entropy(records, key)
    failed = chosen.loc[chosen["status"] == NO_FINITE_R, ["dataset", "configuration"]].itertuples(index=False)
    counts = sweep_summary(records, [key]).groupby(["dataset", "configuration"])[["n_diverged", "n_runs"]].sum()
    texts = {}
    for cell in failed:
        n_diverged, n_runs = (int(counts.loc[tuple(cell), column]) for column in ("n_diverged", "n_runs"))
        texts[tuple(cell)] = diverged_cell(n_diverged, n_runs) if n_diverged else "no finite FID"
    return texts


def table(args) -> None:
    """Tables 2 and 5 through the one table pipeline (``core.reporting.table_pipeline``); ``args.table_options``
    names the parser's table-specific options."""
    from vaepriors.core.reporting.table_pipeline import table_spec

    importlib.import_module("vaepriors.studies.images.tables")  # registers Tables 2 and 5
    options = {name: getattr(args, name) for name in args.table_options}
    table_spec(args.command).write(args.evaluations, args.out_tex, args.out_csv, selection_key=args.selection_fid,
                                   **options)


def figure4(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure4(_selected(args.latents, args.evaluations, args.selection_fid),
                               _selected(args.tsne, args.evaluations, args.selection_fid), args.out,
                               failed=_failed(args.evaluations, args.selection_fid))


def figure8(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure8(_selected(args.latents, args.evaluations, args.selection_fid), args.out,
                               failed=_failed(args.evaluations, args.selection_fid))


def figure9(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure9(_selected(args.tsne, args.evaluations, args.selection_fid), args.out)


def figure2a(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure2a([tuple(run) for run in args.run], args.out, fid_column=args.selection_fid)


def figure2b(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure2b([tuple(run) for run in args.run], args.out)


def figure7(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    image_figures.plot_figure7(list(zip(args.history, args.fid_history, strict=True)), args.out,
                               fid_column=args.selection_fid)


def sample_grids(args) -> None:
    from vaepriors.studies.images import figures as image_figures

    from vaepriors.studies.images.inputs import run_key

    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    for path in _selected(args.latents, args.evaluations, args.selection_fid):
        key = run_key(path)
        image_figures.plot_sample_grid(path, Path(args.out_dir) / f"{key.dataset}_{key.configuration}.png")


def figure5(args) -> None:
    from vaepriors.studies.images.figure5 import plot_figure5

    plot_figure5(args.results, args.panels, args.out)


def image_tsne(args) -> None:
    from vaepriors.core.evaluation.tsne import write_tsne

    write_tsne(args.latents, args.out, max_points=args.max_points, seed=args.seed, perplexity=args.perplexity,
               n_jobs=args.threads)


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--selection-fid", default="fid_gen_paper", choices=["fid_gen_paper", "fid_gen_standard"],
                   help="FID that picks r_entropy per configuration (and that the curves show)")


def add_image_report_commands(sub) -> None:
    p = sub.add_parser("image-tsne", help="openTSNE embedding of a run's test latents (numpy and openTSNE, no torch)")
    p.add_argument("--latents", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-points", type=int, default=5000)
    p.add_argument("--perplexity", type=float, default=40.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="openTSNE's n_jobs")
    p.set_defaults(handler=image_tsne)

    for name, text in (("table2", "Table 2 (SG and MoG(K) x LC x IP)"), ("table5", "Table 5 (full ablation)")):
        p = sub.add_parser(name, help=f"render {text} from evaluation JSON files")
        p.add_argument("--evaluations", nargs="+", required=True)
        p.add_argument("--out-tex", required=True)
        p.add_argument("--out-csv", required=True)
        if name == "table2":
            p.add_argument("--components", type=int, default=100, help="K of Table 2's MoG columns (paper 100)")
        _selection(p)
        p.set_defaults(handler=table, table_options=("components",) if name == "table2" else ())
    for name in ("figure4", "figure8"):
        p = sub.add_parser(name, help="latent dimensions 1-2 (and t-SNE for figure4) per configuration")
        p.add_argument("--evaluations", nargs="+", required=True, help="evaluation JSONs that choose r_entropy")
        p.add_argument("--latents", nargs="+", required=True)
        p.add_argument("--tsne", nargs="*", default=[])
        p.add_argument("--out", required=True)
        _selection(p)
        p.set_defaults(handler={"figure4": figure4, "figure8": figure8}[name])
    p = sub.add_parser("figure9", help="t-SNE of the latent space per configuration")
    p.add_argument("--evaluations", nargs="+", required=True)
    p.add_argument("--tsne", nargs="+", required=True)
    p.add_argument("--out", required=True)
    _selection(p)
    p.set_defaults(handler=figure9)
    p = sub.add_parser("figure2a", help="max prior log-variance and FID(GEN) over training, clipped vs not")
    p.add_argument("--run", nargs=4, action="append", required=True,
                   metavar=("LABEL", "HISTORY_CSV", "FID_HISTORY_CSV", "STATUS_JSON"))
    p.add_argument("--out", required=True)
    _selection(p)
    p.set_defaults(handler=figure2a)
    p = sub.add_parser("figure2b", help="responsibility entropy over training and samples of inactive modes")
    p.add_argument("--run", nargs=3, action="append", required=True, metavar=("LABEL", "HISTORY_CSV", "LATENTS"))
    p.add_argument("--out", required=True)
    _selection(p)
    p.set_defaults(handler=figure2b)
    p = sub.add_parser("figure7", help="normalised entropy and FID(GEN) over training per r_entropy")
    p.add_argument("--history", nargs="+", required=True)
    p.add_argument("--fid-history", nargs="+", required=True, help="in the order of --history")
    p.add_argument("--out", required=True)
    _selection(p)
    p.set_defaults(handler=figure7)
    p = sub.add_parser("figure5", help="the overfitting-encoder study (REC, KL, NELBO per real / generated image)")
    p.add_argument("--results", required=True, help="CSV of overfit-encoder")
    p.add_argument("--panels", required=True, help="NPZ of overfit-encoder")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=figure5)
    p = sub.add_parser("image-samples", help="sample and reconstruction grids of the selected runs")
    p.add_argument("--evaluations", nargs="+", required=True)
    p.add_argument("--latents", nargs="+", required=True)
    p.add_argument("--out-dir", required=True)
    _selection(p)
    p.set_defaults(handler=sample_grids)


# This study's sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_image_report_commands,)
