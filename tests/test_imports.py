"""Every module of the package imports first (no circular imports), and the layers import one way: priors never
import losses, and priors, losses and models never import training."""

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
FORBIDDEN = {"priors": ("vaepriors.losses", "vaepriors.training"), "losses": ("vaepriors.training",),
             "models": ("vaepriors.training",)}

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
    """Modules a file imports at run time (``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    type_checking = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                     and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_run_one_way(layer):
    offending = {str(path.relative_to(PACKAGE_DIR)): sorted(name for name in _imported_modules(path)
                                                            if name.startswith(FORBIDDEN[layer]))
                 for path in sorted((PACKAGE_DIR / layer).rglob("*.py"))}
    assert not {path: names for path, names in offending.items() if names}
