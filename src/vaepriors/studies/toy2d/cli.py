"""Sub-commands of the 2D benchmark that train and evaluate (its tables and figures: ``report_cli``)."""

from __future__ import annotations

import argparse
import itertools
import logging
import math
from pathlib import Path

from vaepriors.core.command_line import (add_capture, add_dataclass_arguments, add_runtime, capture_requested,
                                         dataclass_from_arguments, setup)
from vaepriors.studies.toy2d.config import RunSpec, ToyEvalConfig, ToyTrainConfig


def positive_float(text: str) -> float:
    """An argparse type: betas and multipliers weight loss terms, so they must be positive (and finite)."""
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text} is not a positive finite number")
    return value


def _runs(args, optimum) -> tuple:
    if args.grid_beta_rec and not args.grid_beta_kl:
        raise SystemExit("--grid-beta-rec needs --grid-beta-kl")
    if optimum is not None:
        betas = [optimum.betas]
    elif args.betas:
        betas = [tuple(args.betas)]
    else:
        betas = [(rec, kl, round(mult * kl, 3)) for rec, kl, mult in
                 itertools.product(args.grid_beta_rec, args.grid_beta_kl, args.grid_neg_multipliers)]
    return tuple(RunSpec(seed, *beta) for beta in betas for seed in args.seeds)


def toy_train(args) -> None:
    from vaepriors.studies.toy2d.selection import grid_optimum
    from vaepriors.studies.toy2d.trainer import ToyTrainer, save_runs

    if (args.metrics is None) != (args.samples is None):
        raise SystemExit("toy-train: --metrics and --samples go together (the evaluation writes both)")
    device = setup(args)
    optimum = grid_optimum(args.optimum_from) if args.optimum_from else None
    config = dataclass_from_arguments(ToyTrainConfig, args, runs=_runs(args, optimum))
    log = logging.getLogger(__name__)
    log.info("training %d runs of %s/%s", len(config.runs), config.dataset, config.configuration)
    checkpoint = Path(f"{args.out}.checkpoint")
    trainer = ToyTrainer(config, device, capture=capture_requested(args, device))
    if optimum is not None and optimum.unselectable:
        log.warning("%s; every run is recorded as diverged", optimum.unselectable)
        trainer.mark_diverged(optimum.unselectable)
    save_runs(trainer.train(log_every=args.log_every, checkpoint=checkpoint), args.out)
    checkpoint.unlink(missing_ok=True)
    if args.metrics:
        # In the training process: a separate evaluation job spent most of its time importing torch.
        _evaluate(args.out, args.metrics, args.samples, dataclass_from_arguments(ToyEvalConfig, args, prefix="eval"),
                  device)


def _evaluate(runs, metrics, samples, config: ToyEvalConfig, device) -> None:
    """Every run of a runs file: one metrics row per run, and the figures' samples and densities."""
    import numpy as np
    import pandas as pd

    from vaepriors.studies.toy2d.evaluate import ToyEvaluator
    from vaepriors.studies.toy2d.trainer import load_runs

    rows, arrays = ToyEvaluator(load_runs(runs, device), config).evaluate()
    Path(metrics).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(metrics, index=False)
    np.savez_compressed(samples, **arrays)


def toy_evaluate(args) -> None:
    _evaluate(args.runs, args.metrics, args.samples, dataclass_from_arguments(ToyEvalConfig, args), setup(args))


def add_toy_train(sub) -> None:
    p = sub.add_parser("toy-train", help="train all runs of one 2D prior configuration, vectorised")
    add_dataclass_arguments(p, ToyTrainConfig, exclude=("runs",))
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--grid-beta-rec", type=positive_float, nargs="+", help="grid search (with --grid-beta-kl)")
    runs.add_argument("--betas", type=positive_float, nargs=3, metavar=("BETA_REC", "BETA_KL", "BETA_NEG"))
    runs.add_argument("--optimum-from", help="grid metrics CSV whose lowest-kl_paper betas to train")
    p.add_argument("--grid-beta-kl", type=positive_float, nargs="+", default=[])
    p.add_argument("--grid-neg-multipliers", type=positive_float, nargs="+", default=[1.0])
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log-every", type=int, default=500,
                   help="iterations between history rows and checkpoints (OUT.checkpoint; a restart resumes there)")
    p.add_argument("--metrics", help="then evaluate the runs as toy-evaluate does: metrics CSV (with --samples and "
                                     "the --eval-* settings)")
    p.add_argument("--samples", help="the evaluation's figure samples (.npz)")
    add_dataclass_arguments(p, ToyEvalConfig, prefix="eval")
    add_capture(p)
    add_runtime(p)
    p.set_defaults(handler=toy_train)


def add_toy_evaluate(sub) -> None:
    p = sub.add_parser("toy-evaluate", help="2D metrics (paper-compatible and corrected) and figure samples of a "
                                            "runs file (toy-train --metrics does the same after training)")
    p.add_argument("--runs", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--samples", required=True)
    add_dataclass_arguments(p, ToyEvalConfig)
    add_runtime(p)
    p.set_defaults(handler=toy_evaluate)


# This study's sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_toy_train, add_toy_evaluate)
