"""Sub-commands rendering the dpVAE family's Table 1 and Figures 1, 3, 4, 5, 6, 8.

Torch-free at import (``vaepriors.cli`` builds these parsers without the training code), so each of these jobs starts
in about a second.
"""

from __future__ import annotations


def dpvae_table1(args) -> None:
    from vaepriors.studies.dpvae.tables import dpvae_table1 as table

    table.write(args.evaluations, args.out_tex, args.out_csv)


def dpvae_figure(args) -> None:
    """Every dpVAE figure: the parser's ``draw`` names its plot and how the inputs reach it."""
    from vaepriors.studies.dpvae import figures

    args.draw(figures, args)


def add_dpvae_report_commands(sub) -> None:
    p = sub.add_parser("dpvae-table1", help="dpVAE Table 1 (LaTeX and CSV) beside the paper's values")
    p.add_argument("--evaluations", nargs="+", required=True)
    p.add_argument("--out-tex", required=True)
    p.add_argument("--out-csv", required=True)
    p.set_defaults(handler=dpvae_table1)
    for number in (1, 6):
        p = sub.add_parser(f"dpvae-figure{number}", help=f"dpVAE Figure {number}: standard vs decoupled prior")
        p.add_argument("--standard", required=True, help="evaluation .npz of the standard-prior run")
        p.add_argument("--decoupled", required=True, help="evaluation .npz of the decoupled-prior run")
        p.add_argument("--out", required=True)
        p.set_defaults(handler=dpvae_figure, draw=lambda figures, args, n=number: getattr(
            figures, f"plot_figure{n}")(args.standard, args.decoupled, args.out))
    for number in (3, 4, 5, 8):
        p = sub.add_parser(f"dpvae-figure{number}", help=f"dpVAE Figure {number} from evaluation .npz files")
        p.add_argument("--artifacts", nargs="+", required=True, help="one .npz for Figure 8 (a traversal)")
        p.add_argument("--out", required=True)
        p.set_defaults(handler=dpvae_figure, draw=lambda figures, args, n=number: getattr(
            figures, f"plot_figure{n}")(args.artifacts[0] if n == 8 else args.artifacts, args.out))


# This study's report sub-commands: each adds its parsers (with their handlers) to the ``vaepriors`` command line.
COMMANDS = (add_dpvae_report_commands,)
