"""Sub-commands of the dpVAE family that train and evaluate (its Table 1 and figures: ``report_cli``)."""

from __future__ import annotations

from vaepriors.core.command_line import (add_dataclass_arguments, add_runtime, dataclass_from_arguments, setup,
                                         write_manifest)

MOONS = "moons"


def _data(dataset: str, data_file: str | None, seed: int):
    """Two moons are drawn (seeded, the authors' sizes); image data sets come from a fetch-images file."""
    if dataset == MOONS:
        from vaepriors.studies.dpvae.moons import two_moons

        return two_moons(seed=seed)
    if data_file is None:
        raise SystemExit(f"--data (a fetch-images file) is required for dataset {dataset!r}")
    from vaepriors.core.data.images import ImageData

    return ImageData.load(data_file)


def dpvae_train(args) -> None:
    """One stack: the runs of ``--seeds`` of one configuration, each written to its ``--run-dirs`` entry."""
    from vaepriors.studies.dpvae.config import DpVAEConfig, DpVAEStackConfig
    from vaepriors.studies.dpvae.trainer import run_dpvae

    jsons, npzs = args.eval_jsons or [], args.eval_npzs or []
    if len(jsons) != len(npzs) or len(jsons) not in (0, len(args.seeds)):
        raise SystemExit("dpvae-train: --eval-jsons and --eval-npzs need one file each per seed, or neither")
    device = setup(args)
    stack = DpVAEStackConfig.product(dataclass_from_arguments(DpVAEConfig, args, seed=args.seeds[0]), args.seeds)
    data = _data(stack.base.dataset, args.data, args.data_seed)
    train = data.train if stack.base.dataset == MOONS else data.train_images
    run_dpvae(stack, train, args.run_dirs, args.checkpoint, device)
    if jsons:
        # In the training process: a separate evaluation job per run spent most of its time importing torch.
        from vaepriors.studies.dpvae.evaluate import DpVAEEvalConfig, evaluate_dpvae, write_dpvae_evaluation

        config = dataclass_from_arguments(DpVAEEvalConfig, args, prefix="eval")
        for run_dir, out_json, out_npz in zip(args.run_dirs, jsons, npzs):
            write_dpvae_evaluation(*evaluate_dpvae(f"{run_dir}/final.pt", data, config, device), out_json, out_npz)
    if args.manifest:
        write_manifest(args.manifest, [{"seed": seed} for seed in stack.seeds], args.run_dirs,
                       dataset=stack.base.dataset, regulariser=stack.base.regulariser, prior=stack.base.prior)


def dpvae_evaluate(args) -> None:
    from vaepriors.studies.dpvae.evaluate import DpVAEEvalConfig, evaluate_dpvae, write_dpvae_evaluation

    device = setup(args)
    config = dataclass_from_arguments(DpVAEEvalConfig, args)
    data = _data(args.dataset, args.data, args.data_seed)
    write_dpvae_evaluation(*evaluate_dpvae(args.snapshot, data, config, device), args.out_json, args.out_npz)


def add_dpvae_commands(sub) -> None:
    from vaepriors.studies.dpvae.evaluation_config import DpVAEEvalConfig
    from vaepriors.studies.dpvae.config import DpVAEConfig

    p = sub.add_parser("dpvae-train", help="train the seeds of one VAE + regulariser with a standard or decoupled "
                                           "prior in one stack; resumes")
    p.add_argument("--data", help="fetch-images file (image data sets)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the two-moons draw")
    p.add_argument("--seeds", type=int, nargs="+", required=True, help="one run per seed, trained side by side")
    p.add_argument("--run-dirs", nargs="+", required=True, help="one output directory per seed, in --seeds order")
    p.add_argument("--checkpoint", required=True, help="the stack's resumable state while it trains")
    p.add_argument("--manifest", help="written last: the stack's runs, their directories and statuses (JSON)")
    p.add_argument("--eval-jsons", nargs="+", help="then evaluate every run as dpvae-evaluate does: its record, one "
                                                   "per seed (with --eval-npzs and the --eval-* settings)")
    p.add_argument("--eval-npzs", nargs="+", help="every run's figure arrays, one per seed")
    add_dataclass_arguments(p, DpVAEConfig, exclude=("seed",))
    add_dataclass_arguments(p, DpVAEEvalConfig, prefix="eval")
    add_runtime(p)
    p.set_defaults(handler=dpvae_train)

    p = sub.add_parser("dpvae-evaluate", help="FID, low-posterior FID, sKL, IS-NLL, leakage and figure arrays of one "
                                              "run (dpvae-train --eval-jsons does the same after training)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--snapshot", required=True, help="final.pt of dpvae-train")
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-npz", required=True)
    add_dataclass_arguments(p, DpVAEEvalConfig)
    add_runtime(p)
    p.set_defaults(handler=dpvae_evaluate)


# This study's sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_dpvae_commands,)
