"""Sub-commands of the 2D benchmark: training, evaluation, Tables 1/3/4 and Figures 3/6."""

from __future__ import annotations

import itertools
import logging
from dataclasses import fields
from pathlib import Path

from vaepriors.core.command_line import add_capture, add_runtime, capture_requested, setup


def _runs(args) -> tuple:
    from vaepriors.studies.toy2d.selection import optimum_betas
    from vaepriors.studies.toy2d.config import RunSpec

    if args.optimum_from:
        betas = [optimum_betas(args.optimum_from)]
    elif args.betas:
        betas = [tuple(args.betas)]
    else:
        betas = [(rec, kl, round(mult * kl, 3)) for rec, kl, mult in
                 itertools.product(args.grid_beta_rec, args.grid_beta_kl, args.grid_neg_multipliers)]
    return tuple(RunSpec(seed, *beta) for beta in betas for seed in args.seeds)


def toy_train(args) -> None:
    from vaepriors.studies.toy2d.config import ToyTrainConfig
    from vaepriors.studies.toy2d.trainer import ToyTrainer, save_runs

    device = setup(args)
    names = {f.name for f in fields(ToyTrainConfig)} - {"runs"}
    values = {name: getattr(args, name) for name in names}
    values["milestones"] = tuple(values["milestones"])
    config = ToyTrainConfig(**values, runs=_runs(args))
    logging.getLogger(__name__).info("training %d runs of %s/%s", len(config.runs), config.dataset,
                                     config.configuration)
    checkpoint = Path(f"{args.out}.checkpoint")
    trainer = ToyTrainer(config, device, capture=capture_requested(args, device))
    save_runs(trainer.train(log_every=args.log_every, checkpoint=checkpoint), args.out)
    checkpoint.unlink(missing_ok=True)


def toy_evaluate(args) -> None:
    import numpy as np
    import pandas as pd

    from vaepriors.studies.toy2d.evaluate import ToyEvalConfig, ToyEvaluator
    from vaepriors.studies.toy2d.trainer import load_runs

    device = setup(args)
    config = ToyEvalConfig(**{f.name: getattr(args, f.name) for f in fields(ToyEvalConfig) if hasattr(args, f.name)})
    rows, samples = ToyEvaluator(load_runs(args.runs, device), config).evaluate()
    Path(args.metrics).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.metrics, index=False)
    np.savez_compressed(args.samples, **samples)


def report(args) -> None:
    from vaepriors.studies.toy2d import figures, tables

    writers = {"table1": tables.write_table1, "table3": tables.write_table3, "table4": tables.write_table4}
    if args.command in writers:
        writers[args.command](args.metrics, args.out_tex, args.out_csv)
    elif args.command == "figure3":
        figures.plot_figure3(args.samples, args.out)
    else:
        figures.plot_figure6(args.out)


def add_toy_train(sub) -> None:
    p = sub.add_parser("toy-train", help="train all runs of one 2D prior configuration, vectorised")
    p.add_argument("--dataset", required=True)
    p.add_argument("--configuration", required=True, help="name recorded with the results, e.g. sintro_mog_lc_ip")
    p.add_argument("--model", choices=["vae", "sintro"], required=True)
    p.add_argument("--prior", choices=["standard_gaussian", "vamp", "decoupled"], required=True)
    p.add_argument("--components", type=int, default=1)
    for flag in ("learnable-contributions", "intro-prior", "convert-to-mog"):
        p.add_argument(f"--{flag}", action="store_true")
    for name, kind, default in [("iterations", int, 30000), ("warmup", int, 2000), ("mog-warmup", int, 100),
                                ("batch-size", int, 512), ("lr", float, 2e-4), ("lr-gamma", float, 0.1),
                                ("hidden", int, 256), ("hidden-layers", int, 4), ("z-dim", int, 2),
                                ("mc-samples", int, 100), ("alpha", float, 2.0), ("gamma", float, 1.0),
                                ("gamma-r", float, 1e-8), ("scale", float, 0.5), ("r-entropy", float, 0.0),
                                ("clip-k", float, 10.0), ("flow-blocks", int, 6), ("flow-hidden", int, 64),
                                ("flow-log-scale-bound", float, 1.0)]:
        p.add_argument(f"--{name}", type=kind, default=default)
    p.add_argument("--milestones", type=int, nargs="*", default=[10000, 15000])
    p.add_argument("--kl", choices=["mc", "closed"], default="mc")
    p.add_argument("--vamp-to-mog-weights", choices=["authors", "preserve"], default="authors")
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--grid-beta-rec", type=float, nargs="+", help="grid search (with --grid-beta-kl)")
    runs.add_argument("--betas", type=float, nargs=3, metavar=("BETA_REC", "BETA_KL", "BETA_NEG"))
    runs.add_argument("--optimum-from", help="grid metrics CSV whose lowest-kl_paper betas to train")
    p.add_argument("--grid-beta-kl", type=float, nargs="+", default=[])
    p.add_argument("--grid-neg-multipliers", type=float, nargs="+", default=[1.0])
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log-every", type=int, default=500,
                   help="iterations between history rows and checkpoints (OUT.checkpoint; a restart resumes there)")
    add_capture(p)
    add_runtime(p)
    p.set_defaults(handler=toy_train)


def add_toy_evaluate(sub) -> None:
    p = sub.add_parser("toy-evaluate", help="2D metrics (paper-compatible and corrected) and figure samples")
    p.add_argument("--runs", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--samples", required=True)
    for name, default in [("hist-samples", 5000), ("bins", 100), ("grid-size", 1024), ("gnelbo-batches", 100),
                          ("gnelbo-batch-size", 128), ("mc-samples", 100), ("figure-samples", 1024),
                          ("figure-grid", 256)]:
        p.add_argument(f"--{name}", type=int, default=default)
    add_runtime(p)
    p.set_defaults(handler=toy_evaluate)


def add_reports(sub) -> None:
    for number in (1, 3, 4):
        p = sub.add_parser(f"table{number}", help=f"render Table {number} (LaTeX and CSV)")
        p.add_argument("--metrics", nargs="+", required=True)
        p.add_argument("--out-tex", required=True)
        p.add_argument("--out-csv", required=True)
        p.set_defaults(handler=report)
    p = sub.add_parser("figure3", help="real data, densities and samples per prior")
    p.add_argument("--samples", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=report)
    p = sub.add_parser("figure6", help="the soft-clipping function for several ranges and K")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=report)
