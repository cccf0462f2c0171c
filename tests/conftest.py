import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaepriors.studies.toy2d.config import RunSpec, ToyTrainConfig


# `make test` runs two pytest-xdist workers with --dist worksteal: the first half of the collection starts on one, the
# second half on the other, and an idle worker steals from the busy one. The two longest tests, the tiny workflow run
# and its SLURM run (minutes each), therefore go first and last, so that they start on different workers.
FIRST = "tests/test_end_to_end.py::test_tiny_workflow_end_to_end"
LAST = "tests/test_slurm.py::test_tiny_workflow_on_slurm"


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: (item.nodeid == LAST) - (item.nodeid == FIRST))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)


ROOT = Path(__file__).resolve().parents[1]


def snakemake_args(workdir, *args, layers=(), root=ROOT):
    """Arguments after `python -m snakemake` that run the workflow of checkout `root` in `workdir`, with
    root/config.yaml plus `layers`. Tests plan and run in a temporary `workdir`, never in the checkout: there a dry
    run skips what the user's results/ already holds (after `make reduced`, figure 6 is no longer planned) and writes
    .snakemake/ beside it. `configfile:` is relative to the working directory, so the config files go absolutely."""
    command = [*args, "--snakefile", root / "Snakefile", "--directory", workdir,
               "--configfile", root / "config.yaml", *layers]  # fmt: skip
    return [str(part) for part in command]


def snakemake(workdir, *args, layers=(), root=ROOT, env=None, timeout=120):
    """`python -m snakemake` with snakemake_args; stdout and stderr together."""
    command = [sys.executable, "-m", "snakemake", *snakemake_args(workdir, *args, layers=layers, root=root)]
    return subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


# Dry runs of many configurations in one interpreter through Snakemake's API, for the tests of how a configuration is
# rejected: one Snakemake import for all cases instead of a `snakemake --dry-run` process each (~3 s apiece on 2
# cores). Each case's text is what the command line prints for the same error (it calls the same print_exception).
DRY_RUN_EACH = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings
snakefile, workdir, cases = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
for name, (configfiles, targets) in cases.items():
    print(f"### case {name}", file=sys.stderr, flush=True)
    with SnakemakeApi(OutputSettings(dryrun=True)) as api:
        try:
            workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=snakefile, workdir=workdir,
                                    config_settings=ConfigSettings(configfiles=[Path(f) for f in configfiles]))
            workflow.dag(DAGSettings(targets=set(targets))).execute_workflow(executor="dryrun")
            print("### planned", file=sys.stderr, flush=True)
        except Exception as error:
            api.print_exception(error)
    sys.stderr.flush()
"""


def dry_run_messages(workdir, overrides: dict[str, dict], targets=("all",)) -> dict[str, str]:
    """{case: what Snakemake prints when planning ``targets`` (or ``targets[case]``, a dict) with config.yaml plus the
    case's override layer; a planned case's text contains '### planned'}, all cases in one process."""
    import json

    import yaml

    layers = {}
    for name, override in overrides.items():
        layers[name] = workdir / f"{name}.yaml"
        layers[name].write_text(yaml.safe_dump(override))
    cases = {name: ([str(ROOT / "config.yaml"), str(path)],
                    list(targets[name] if isinstance(targets, dict) else targets)) for name, path in layers.items()}
    result = subprocess.run([sys.executable, "-c", DRY_RUN_EACH, str(ROOT / "Snakefile"), str(workdir),
                             json.dumps(cases)],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    parts = result.stdout.split("### case ")[1:]
    messages = dict(part.split("\n", 1) for part in parts)
    assert set(messages) == set(overrides), result.stdout[-5000:]
    return messages


def tiny_config(**overrides) -> ToyTrainConfig:
    """A few-second S-IntroVAE MoG(8)+LC+IP configuration that passes through every phase."""
    values = dict(dataset="8Gaussian", configuration="sintro_mog_lc_ip", model="sintro", prior="vamp", components=8,
                  learnable_contributions=True, intro_prior=True, convert_to_mog=True, iterations=24, warmup=12,
                  mog_warmup=4, batch_size=32, hidden=16, hidden_layers=2, mc_samples=5, milestones=(18,),
                  runs=(RunSpec(0, 0.2, 0.3, 0.9),))
    values.update(overrides)
    return ToyTrainConfig(**values)


def run_cli(*args) -> None:
    """``vaepriors ARGS`` in this process: the uninterrupted run a kill-and-resume test compares with, without another
    interpreter's seconds of importing torch (the killed and the resumed job run as processes, as on a cluster)."""
    from vaepriors.cli import main

    main([str(arg) for arg in args])


def kill_after_checkpoint(job, checkpoint, position: int, timeout: float = 300) -> int:
    """SIGKILL a training process once its checkpoint has reached ``position`` units; returns the checkpoint's
    position (the job must still be running: a job that ends first fails the test, since it needs more units)."""
    import os
    import signal
    import time

    from vaepriors.core.state_files import load_state_file

    deadline = time.monotonic() + timeout
    while not checkpoint.exists() or load_state_file(checkpoint, "a checkpoint", "the killed job")["position"] < position:
        assert job.poll() is None, "the job finished before it could be killed; give it more units"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    return load_state_file(checkpoint, "a checkpoint", "the killed job")["position"]
