"""The reproduction scorecard across the three studies (docs/reproduction.md): ``vaepriors reproduction-scorecard``
reads the tidy CSVs of every reproduced table, each study turns its own into cells and claims
(``studies/*/scorecard.py``), and ``core.reporting.scorecard`` judges and renders them."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path


def parse_scales(pairs: list[str]) -> dict[str, str]:
    """``study=description`` -> {study: description}; "paper" means the paper's scale."""
    scales = {}
    for pair in pairs:
        study, sep, text = pair.partition("=")
        if not sep or not text:
            raise SystemExit(f"--scale {pair!r}: expected STUDY=DESCRIPTION, e.g. toy2d=paper")
        scales[study] = text
    return scales


def build_cells_and_claims(args) -> tuple:
    import pandas as pd

    from vaepriors.core.reporting.scorecard import judge_cells, judge_claims
    from vaepriors.studies.dpvae import scorecard as dpvae
    from vaepriors.studies.images import scorecard as images
    from vaepriors.studies.toy2d import scorecard as toy2d

    scales = parse_scales(args.scale)
    readers = [
        (toy2d, args.toy_table1, lambda path, scale: toy2d.table1_cells(path, scale)),
        (toy2d, args.toy_table3, lambda path, scale: toy2d.table3_cells(path, scale)),
        (toy2d, args.toy_table4, lambda path, scale: toy2d.table4_cells(path, scale)),
        (images, args.image_table2, lambda path, scale: images.table_cells("table2", path, scale)),
        (images, args.image_table5, lambda path, scale: images.table_cells("table5", path, scale)),
        (dpvae, args.dpvae_table1, lambda path, scale: dpvae.table1_cells(path, scale)),
    ]
    frames, claims = [], []
    for study, path, read in readers:
        if path:
            frames.append(read(path, scales.get(study.STUDY, "paper")))
    if not frames:
        raise SystemExit("reproduction-scorecard: no table given; pass at least one of the --*-table options")
    cells = judge_cells(pd.concat(frames, ignore_index=True))
    for study in (toy2d, images, dpvae):
        datasets = list(dict.fromkeys(cells.loc[cells["study"] == study.STUDY, "dataset"]))
        claims += study.claims(datasets)
    return cells, judge_claims(claims, cells)


def code_commit() -> str:
    """The commit of the code that ran (the checkout holding this package, with "+ uncommitted changes" when its tree
    is dirty), or "unknown" for a package installed outside a git checkout. Asked of the package's folder, not of the
    working directory: a workflow often runs in a results folder elsewhere."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                                timeout=10, cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=here).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def reproduction_scorecard(args) -> None:
    from vaepriors.core.reporting.scorecard import write_scorecard

    cells, claims = build_cells_and_claims(args)
    provenance = "; ".join(filter(None, (args.provenance, f"commit {code_commit()}",
                                         f"generated {datetime.date.today().isoformat()}")))
    write_scorecard(cells, claims, args.out_dir, provenance)


def add_reproduction_commands(sub) -> None:
    p = sub.add_parser("reproduction-scorecard", help="judge every reproduced cell and every claim of both papers "
                                                      "(CSV, Markdown, HTML)")
    for flag, what in [("--toy-table1", "2D Table 1"), ("--toy-table3", "2D Table 3"), ("--toy-table4", "2D Table 4"),
                       ("--image-table2", "image Table 2"), ("--image-table5", "image Table 5"),
                       ("--dpvae-table1", "dpVAE Table 1")]:
        p.add_argument(flag, help=f"tidy CSV of {what}")
    p.add_argument("--scale", nargs="*", default=[], metavar="STUDY=DESCRIPTION",
                   help="per study (toy2d, images, dpvae): 'paper', or how the run differs from the paper's scale")
    p.add_argument("--provenance", default="", help="a line naming the configuration, commit and date")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(handler=reproduction_scorecard)


COMMANDS = (add_reproduction_commands,)
