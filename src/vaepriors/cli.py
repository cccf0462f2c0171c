"""Command-line interface called by the Snakemake rules (one sub-command per pipeline step).

Each study's ``cli`` module lists its sub-commands in ``COMMANDS``; every sub-command carries its handler
(``set_defaults(handler=...)``), so dispatching never looks at the command's name. Training and evaluation flags are
generated from the typed config dataclasses, so building the parser imports torch; everything else (matplotlib,
torch-fidelity, scikit-learn, the data) loads inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vaepriors.core.data.checksums import DatasetError
from vaepriors import report_page, reproduction
from vaepriors.core.state_files import StateFileError
from vaepriors.studies.dpvae import cli as dpvae_cli
from vaepriors.studies.images import cli as images_cli
from vaepriors.studies.images import report_cli as images_report_cli
from vaepriors.studies.toy2d import cli as toy2d_cli

STUDY_COMMANDS = (toy2d_cli.COMMANDS, images_cli.COMMANDS, images_report_cli.COMMANDS, dpvae_cli.COMMANDS,
                  reproduction.COMMANDS, report_page.COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaepriors", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for commands in STUDY_COMMANDS:
        for add in commands:
            add(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (StateFileError, DatasetError) as error:  # their message names the file and the fix: no traceback
        raise SystemExit(f"vaepriors {args.command}: {error}") from None


if __name__ == "__main__":
    main()
