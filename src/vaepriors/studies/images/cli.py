"""Sub-commands of the image study: data, warm-up, adversarial training (docs/images.md)."""

from __future__ import annotations

import logging

from vaepriors.core.command_line import (add_capture, add_dataclass_arguments, add_runtime, capture_requested,
                                  dataclass_from_arguments, setup, write_manifest)

log = logging.getLogger(__name__)


def fetch_images(args) -> None:
    from vaepriors.core.data.images import fetch_image_dataset

    data = fetch_image_dataset(args.dataset, args.source, args.root, subset=args.subset, seed=args.seed)
    log.info("%s: %d train / %d test images of shape %s from %s", args.dataset, len(data.train_images),
             len(data.test_images), tuple(data.train_images.shape[1:]), data.source)
    data.save(args.out)


def _stack_config(args):
    """The stack of ``--seeds`` x ``--r-entropy`` runs (r_entropy outer, seeds inner) of one configuration."""
    from vaepriors.studies.images.config import ImageStackConfig, ImageTrainConfig

    config = dataclass_from_arguments(ImageTrainConfig, args, seed=args.seeds[0], r_entropy=args.r_entropy[0])
    return ImageStackConfig.product(config, args.seeds, args.r_entropy)


def image_warmup(args) -> None:
    from vaepriors.core.data.images import ImageData
    from vaepriors.studies.images.stages import run_warmup

    device = setup(args)
    run_warmup(_stack_config(args), ImageData.load(args.data).train_images, args.out, device,
               capture=capture_requested(args, device))


def image_train(args) -> None:
    from vaepriors.core.data.images import ImageData
    from vaepriors.studies.images.stages import run_adversarial

    device = setup(args)
    stack = _stack_config(args)
    run_adversarial(stack, ImageData.load(args.data).train_images, args.warmup, args.run_dirs, args.checkpoint, device,
                    capture=capture_requested(args, device))
    if args.manifest:
        write_manifest(args.manifest, [{"seed": run.seed, "r_entropy": run.r_entropy} for run in stack.runs],
                       args.run_dirs, configuration=stack.base.configuration)


def _add_stack_arguments(parser) -> None:
    from vaepriors.studies.images.config import ImageTrainConfig

    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="one run per seed (and r_entropy)")
    parser.add_argument("--r-entropy", type=float, nargs="+", default=[0.0],
                        help="responsibility-entropy weights; the stack trains every (r_entropy, seed) pair")
    add_dataclass_arguments(parser, ImageTrainConfig, exclude=("seed", "r_entropy"))
    add_capture(parser)


def add_image_commands(sub) -> None:
    p = sub.add_parser("fetch-images", help="read (or download) an image dataset, verify it, save it as one file")
    p.add_argument("--dataset", required=True, choices=["mnist", "fmnist", "cifar10", "svhn", "celeba"])
    p.add_argument("--source", required=True, help="'torchvision' (download) or a directory with the standard files")
    p.add_argument("--root", default="data", help="download directory for --source torchvision")
    p.add_argument("--subset", type=int, default=None, help="keep this many training images (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=fetch_images)

    p = sub.add_parser("image-warmup", help="the VAE warm-up of an image stack, one run per seed "
                                            "(epochs [0, warmup_epochs))")
    p.add_argument("--data", required=True, help="dataset file of fetch-images")
    p.add_argument("--out", required=True, help="training state of the stack after the warm-up")
    _add_stack_arguments(p)
    add_runtime(p)
    p.set_defaults(handler=image_warmup)

    p = sub.add_parser("image-train", help="the adversarial phase of an image stack (seeds x r_entropy runs of one "
                                           "configuration), from its warm-up; resumes")
    p.add_argument("--data", required=True)
    p.add_argument("--warmup", required=True, help="training state written by image-warmup")
    p.add_argument("--run-dirs", nargs="+", required=True,
                   help="one output directory per run, in the stack's order (r_entropy outer, seeds inner)")
    p.add_argument("--checkpoint", required=True, help="the stack's resumable state while it trains")
    p.add_argument("--manifest", help="written last: the stack's runs, their directories and statuses (JSON)")
    _add_stack_arguments(p)
    add_runtime(p)
    p.set_defaults(handler=image_train)


def train_fid_classifier(args) -> None:
    from vaepriors.core.data.images import ImageData
    from vaepriors.core.evaluation.feature_classifier import load_feature_classifier, train_feature_classifier

    device = setup(args)
    data = ImageData.load(args.data)
    train_feature_classifier(data.train_images, data.train_labels, args.out, dataset=data.dataset,
                             epochs=args.epochs, seed=args.seed, device=device)
    log.info("held-out accuracy %.4f", load_feature_classifier(args.out).heldout_accuracy)


def image_evaluate(args) -> None:
    from vaepriors.core.data.images import ImageData
    from vaepriors.studies.images.evaluate import ImageEvalConfig, ImageEvaluator, write_evaluation

    device = setup(args)
    if len(args.run_dirs) != len(args.out_prefixes):
        raise SystemExit(f"image-evaluate: {len(args.run_dirs)} --run-dirs need as many --out-prefixes, got "
                         f"{len(args.out_prefixes)}")
    data = ImageData.load(args.data)
    config = dataclass_from_arguments(ImageEvalConfig, args)
    evaluator = ImageEvaluator(config, (data.train_images, data.train_labels), (data.test_images, data.test_labels),
                               device)
    for run_dir, prefix in zip(args.run_dirs, args.out_prefixes):
        log.info("evaluating %s", run_dir)
        write_evaluation(*evaluator.evaluate(run_dir), f"{prefix}.json", f"{prefix}_fid_history.csv",
                         f"{prefix}_latents.npz")
    if args.manifest:
        write_evaluation_manifest(args.run_dirs, args.out_prefixes, args.manifest)


def write_evaluation_manifest(run_dirs, prefixes, path) -> None:
    """Written last: every run's evaluation files exist."""
    import json
    from pathlib import Path

    runs = [{"run_dir": str(run_dir), "prefix": str(prefix)} for run_dir, prefix in zip(run_dirs, prefixes)]
    Path(path).write_text(json.dumps({"runs": runs}, indent=2) + "\n")


def add_image_evaluation_commands(sub) -> None:
    from vaepriors.studies.images.evaluation_config import ImageEvalConfig

    p = sub.add_parser("train-fid-classifier", help="the offline FID feature extractor: a classifier of the dataset")
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    add_runtime(p)
    p.set_defaults(handler=train_fid_classifier)

    p = sub.add_parser("image-evaluate", help="FIDs, precision/recall, probes, entropy and latents of runs (e.g. a "
                                              "stack), sharing the FID reference features")
    p.add_argument("--data", required=True)
    p.add_argument("--run-dirs", nargs="+", required=True)
    p.add_argument("--out-prefixes", nargs="+", required=True,
                   help="per run: PREFIX.json (record), PREFIX_fid_history.csv (FID(GEN) of every snapshot), "
                        "PREFIX_latents.npz (test latents, prior, samples for the figures)")
    p.add_argument("--manifest", help="written last, when every run's files exist (JSON)")
    add_dataclass_arguments(p, ImageEvalConfig)
    add_runtime(p)
    p.set_defaults(handler=image_evaluate)


def overfit_encoder(args) -> None:
    from vaepriors.core.data.images import ImageData
    from vaepriors.studies.images.overfit_encoder import one_image_per_class, run_overfit_encoder_study
    from vaepriors.studies.images.overfit_encoder_config import OverfitEncoderConfig

    device = setup(args)
    data = ImageData.load(args.data)
    images = data.train_images[one_image_per_class(data.train_labels)]
    config = dataclass_from_arguments(OverfitEncoderConfig, args)
    run_overfit_encoder_study(args.snapshot, images, config, device).save(args.out_csv, args.out_npz)


def add_overfit_encoder_command(sub) -> None:
    from vaepriors.studies.images.overfit_encoder_config import OverfitEncoderConfig

    p = sub.add_parser("overfit-encoder", help="Figure 5: train only the encoder of a snapshot on fixed synthetic "
                                               "real / generated distributions (one image per class)")
    p.add_argument("--data", required=True)
    p.add_argument("--snapshot", required=True, help="a trained run's final.pt (the paper: a MoG(10) S-IntroVAE)")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-npz", required=True)
    add_dataclass_arguments(p, OverfitEncoderConfig)
    add_runtime(p)
    p.set_defaults(handler=overfit_encoder)


# This study's sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_image_commands, add_image_evaluation_commands, add_overfit_encoder_command)
