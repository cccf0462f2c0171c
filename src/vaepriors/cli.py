"""Command-line interface called by the Snakemake rules (one sub-command per pipeline step).

The image and dpVAE sub-commands take their flags from the typed config dataclasses, so building the parser imports
torch; everything else (matplotlib, torch-fidelity, scikit-learn, the data) loads inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vaepriors.studies.dpvae.cli import add_dpvae_commands
from vaepriors.studies.images.report_cli import add_image_report_commands
from vaepriors.studies.images.cli import add_image_commands, add_image_evaluation_commands, add_overfit_encoder_command
from vaepriors.studies.toy2d.cli import add_reports, add_toy_evaluate, add_toy_train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaepriors", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_toy_train(sub)
    add_toy_evaluate(sub)
    add_reports(sub)
    add_image_commands(sub)
    add_image_evaluation_commands(sub)
    add_overfit_encoder_command(sub)
    add_image_report_commands(sub)
    add_dpvae_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = build_parser().parse_args(argv)
    if getattr(args, "grid_beta_rec", None) and not args.grid_beta_kl:
        raise SystemExit("--grid-beta-rec needs --grid-beta-kl")
    args.handler(args)


if __name__ == "__main__":
    main()
