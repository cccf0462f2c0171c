"""Every module of the package imports first (no circular imports), and imports run one way (docs/architecture.md):
the command line -> studies -> core; a study never imports another study; inside the core, a layer imports only the
layers before it (CORE_LAYERS)."""

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import vaepriors

PACKAGE_DIR = Path(vaepriors.__file__).parent
MODULES = sorted(info.name for info in pkgutil.walk_packages(vaepriors.__path__, "vaepriors.")
                 if info.name != "vaepriors.__main__")  # the entry point: importing it runs the command line
# The core's layers in import order; modules of one layer may import each other.
CORE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("atomic", "randomness", "gpu_slots", "command_line", "state_files"),
    ("data", "nets"),
    ("priors",),
    ("vae",),
    ("losses",),
    ("training",),
    ("evaluation",),
    ("reporting",),
)
RANK = {name: rank for rank, names in enumerate(CORE_LAYERS) for name in names}

# Imports each module first: in one fresh interpreter, with every vaepriors module dropped from sys.modules before
# each, so each import starts with none of the package loaded, as in a fresh interpreter (a circular import involves
# only the package's own, partly initialised modules); third-party modules stay loaded, which spares a torch import
# per module (about 8 s each on a loaded 2-core machine).
IMPORT_EACH_FIRST = """
import importlib, json, sys, traceback
failures = {}
for module in json.loads(sys.argv[1]):
    for name in [name for name in sys.modules if name == "vaepriors" or name.startswith("vaepriors.")]:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    except Exception:
        failures[module] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def test_the_walk_finds_the_layers():
    assert {"vaepriors.core.losses.kl", "vaepriors.core.priors.flow", "vaepriors.studies.toy2d.trainer"} <= set(MODULES)


def test_every_module_imports_first():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, json.dumps(MODULES)], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr
    failures = json.loads(result.stdout.splitlines()[-1])
    assert not failures, "\n".join(f"{module}:\n{trace}" for module, trace in failures.items())


def _imported_modules(path: Path) -> set[str]:
    """The package's modules a file imports, anywhere in it (also inside functions and ``TYPE_CHECKING`` blocks)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("vaepriors.")}


def _forbidden(importer: str, imported: str) -> bool:
    """Whether module ``importer`` (dotted, without ``vaepriors.``) may not import ``imported``."""
    source, target = importer.split("."), imported.split(".")
    if source[0] == "core":
        return target[0] != "core" or RANK[target[1]] > RANK[source[1]]
    if source[0] == "studies":
        return target[0] == "cli" or (target[0] == "studies" and target[1] != source[1])
    return False


def test_every_core_part_has_a_layer():
    parts = {path.name.removesuffix(".py") for path in (PACKAGE_DIR / "core").iterdir()
             if path.name != "__init__.py" and path.name != "__pycache__"}
    assert parts == set(RANK)


def test_imports_run_one_way():
    offending = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        names = sorted(name for name in _imported_modules(path) if _forbidden(module, name.removeprefix("vaepriors.")))
        if names:
            offending[module] = names
    assert not offending


@pytest.mark.parametrize("importer, imported, forbidden", [
    ("core.priors.flow", "core.nets.stacked", False), ("core.nets.stacked", "core.priors.base", True),
    ("core.losses.kl", "studies.toy2d.config", True), ("studies.images.trainer", "core.training.engine", False),
    ("studies.dpvae.tables", "studies.images.tables", True), ("studies.toy2d.cli", "cli", True),
])
def test_the_rule_itself(importer, imported, forbidden):
    assert _forbidden(importer, imported) is forbidden


# The table, figure, scorecard and report-page jobs (about 25 per workflow) parse their command line and import their
# handlers' modules without torch, scikit-learn or openTSNE: each of those costs seconds per job on 2 cores.
REPORT_JOB_WITHOUT_TORCH = """
import sys
from vaepriors import cli
args = cli._parse(["table1", "--metrics", "m.csv", "--out-tex", "t.tex", "--out-csv", "t.csv"])
assert args.command == "table1"
import vaepriors.studies.toy2d.figures, vaepriors.studies.toy2d.tables, vaepriors.studies.images.figures
import vaepriors.studies.images.tables, vaepriors.studies.images.figure5, vaepriors.studies.dpvae.figures
import vaepriors.studies.dpvae.tables
import vaepriors.report_page, vaepriors.reproduction, vaepriors.core.evaluation.tsne
print(sorted(name for name in ("torch", "sklearn", "openTSNE", "torchvision") if name in sys.modules))
"""


def test_report_jobs_start_without_torch():
    from vaepriors import cli

    report_commands = set(cli._parser(training=False)[1].choices)
    assert {"table1", "table5", "figure3", "figure9", "image-tsne", "dpvae-table1", "dpvae-figure1",
            "reproduction-scorecard", "report-page"} <= report_commands
    assert not report_commands & {"toy-train", "image-train", "dpvae-train", "image-evaluate"}
    result = subprocess.run([sys.executable, "-c", REPORT_JOB_WITHOUT_TORCH], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
