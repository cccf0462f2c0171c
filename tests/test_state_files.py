"""Every .pt file the workflow reads back goes through one loader that never runs code and names the file.

A crafted pickle (its ``__reduce__`` calls ``os.system``) is fed to every loader; the payload is live (unrestricted
unpickling does run it), yet each loader refuses it with a message naming the file and no code runs. Truncated and
foreign files fail with the file, what was expected and the fix, not a bare EOFError / KeyError.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaepriors.core.data.images import ImageData
from vaepriors.core.evaluation.feature_classifier import load_feature_classifier
from vaepriors.core.state_files import StateFileError, load_state_file
from vaepriors.core.training.engine import Checkpoint
from vaepriors.studies.dpvae.trainer import load_dpvae
from vaepriors.studies.images.checkpoint import load_snapshot
from vaepriors.studies.toy2d.trainer import load_runs

SRC = Path(__file__).resolve().parents[1] / "src"


class RunsCommand:
    """Unpickling this calls ``os.system(command)``."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def crafted(tmp_path: Path) -> tuple[Path, Path]:
    """A .pt file whose loading with ``weights_only=False`` would create ``marker``."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "results" / "crafted.pt"
    path.parent.mkdir()
    torch.save({"config": RunsCommand(f"touch {marker}"), "state": {}}, path)
    return path, marker


LOADERS = {
    "2D runs": load_runs,
    "image snapshot": load_snapshot,
    "training checkpoint": lambda path: Checkpoint(path, {}).load(),
    "dpVAE model": load_dpvae,
    "dataset file": ImageData.load,
    "feature classifier": load_feature_classifier,
}


def test_the_crafted_file_would_run_code_if_loaded_without_weights_only(tmp_path):
    path, marker = crafted(tmp_path)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_every_loader_refuses_a_crafted_pickle_without_running_it(tmp_path, loader):
    path, marker = crafted(tmp_path)
    with pytest.raises(StateFileError, match=re.escape(str(path))) as error:
        loader(path)
    assert "refused" in str(error.value) and "posix.system is not allowed" in str(error.value)
    assert not marker.exists()


def test_toy_evaluate_refuses_a_crafted_runs_file_with_a_one_line_error(tmp_path):
    path, marker = crafted(tmp_path)
    result = subprocess.run([sys.executable, "-m", "vaepriors", "toy-evaluate", "--runs", str(path), "--metrics",
                             str(tmp_path / "m.csv"), "--samples", str(tmp_path / "s.npz"), "--device", "cpu"],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert result.returncode != 0
    assert f"vaepriors toy-evaluate: {path}: refused to load a 2D runs file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_torch_load_is_called_in_one_place_only():
    """A new loader cannot bypass ``load_state_file`` (and with it ``weights_only``) unnoticed."""
    callers = [path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py")
               if re.search(r"torch\.load\(|pickle\.loads?\(", path.read_text())]
    # CIFAR-10 batches are pickles by format; each is md5-verified against the published checksum before unpickling.
    assert sorted(callers) == ["vaepriors/core/data/image_sources.py", "vaepriors/core/state_files.py"]


def test_a_truncated_workflow_file_names_the_file_and_says_to_regenerate_it(tmp_path):
    path = tmp_path / "results" / "toy" / "runs.pt"
    path.parent.mkdir(parents=True)
    torch.save({"config": {}, "state": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(StateFileError) as error:
        load_runs(path)
    message = str(error.value)
    assert message.startswith(f"{path} cannot be read as a 2D runs file (RuntimeError")
    assert "delete it and let Snakemake regenerate it (rule toy_train_grid" in message


@pytest.mark.parametrize("payload, lacks", [({"runs": []}, "lacks config, state"), ([1, 2], "holds a list, not a dict")])
def test_a_foreign_file_names_what_it_lacks_and_never_advises_deleting_a_users_file(tmp_path, payload, lacks):
    path = tmp_path / "mine.pt"
    torch.save(payload, path)
    with pytest.raises(StateFileError) as error:
        load_runs(path)
    message = str(error.value)
    assert message.startswith(f"{path} is not a 2D runs file: it {lacks}")
    assert "pass a file written by rule toy_train_grid" in message and "delete" not in message


def test_an_empty_file_is_an_error_naming_it_not_a_bare_eof(tmp_path):
    path = tmp_path / "empty.pt"
    path.touch()
    with pytest.raises(StateFileError, match=re.escape(f"{path} cannot be read as a checkpoint (EOFError")):
        load_state_file(path, "a checkpoint", "the test")
