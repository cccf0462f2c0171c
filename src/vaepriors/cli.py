"""Command-line interface called by the Snakemake rules (one sub-command per pipeline step).

Each study's ``cli`` / ``report_cli`` module lists its sub-commands in ``COMMANDS``; every sub-command carries its
handler (``set_defaults(handler=...)``), so dispatching never looks at the command's name. Training and evaluation
flags are generated from the typed config dataclasses, which import torch, so those modules load only for a training
or evaluation command (or ``--help``); the report modules import neither torch nor the training code, so the ~25
table, figure and report jobs of a workflow do not spend their first seconds importing torch. Everything else
(matplotlib, torch-fidelity, scikit-learn, the data) loads inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vaepriors import report_page, reproduction
from vaepriors.core.data.checksums import DatasetError
from vaepriors.core.state_files import StateFileError
from vaepriors.studies.dpvae import report_cli as dpvae_report_cli
from vaepriors.studies.images import report_cli as images_report_cli
from vaepriors.studies.toy2d import report_cli as toy2d_report_cli

# Tables, figures, the scorecard and the report page: torch-free at import.
REPORT_COMMANDS = (toy2d_report_cli.COMMANDS, images_report_cli.COMMANDS, dpvae_report_cli.COMMANDS,
                   reproduction.COMMANDS, report_page.COMMANDS)
# Training and evaluation, imported only when one of their commands runs.
TRAINING_CLI_MODULES = ("vaepriors.studies.toy2d.cli", "vaepriors.studies.images.cli", "vaepriors.studies.dpvae.cli")


def _parser(training: bool) -> tuple[argparse.ArgumentParser, argparse.Action]:
    """The parser and its sub-command action: the report commands, then (with ``training``) all the others."""
    parser = argparse.ArgumentParser(prog="vaepriors", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = TRAINING_CLI_MODULES if training else ()
    for commands in REPORT_COMMANDS + tuple(importlib.import_module(name).COMMANDS for name in modules):
        for add in commands:
            add(sub)
    return parser, sub


def build_parser(training: bool = True) -> argparse.ArgumentParser:
    """The ``vaepriors`` parser: every sub-command, or (``training=False``) the report ones alone."""
    return _parser(training)[0]


def _parse(argv: list[str]) -> argparse.Namespace:
    """A report command parses with the report parser alone; anything else (training, ``--help``, a typo) with all."""
    report_parser, commands = _parser(training=False)
    if argv and argv[0] in commands.choices:
        return report_parser.parse_args(argv)
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        args.handler(args)
    except (StateFileError, DatasetError) as error:  # their message names the file and the fix: no traceback
        raise SystemExit(f"vaepriors {args.command}: {error}") from None


if __name__ == "__main__":
    main()
