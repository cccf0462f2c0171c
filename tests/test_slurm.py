"""The SLURM profile (profiles/slurm) on a real SLURM cluster, and what it asks SLURM for.

- test_profile_*: a dry run with the profile (no cluster needed; in a temporary working directory, so that what
  the checkout's results/ holds neither hides jobs from the plan nor is touched): every training / evaluation job
  asks for a GPU through the `gpu` resource, and the sbatch line that snakemake-executor-plugin-slurm builds from
  those resources has `--gpus`; the CPU-only rules (tables, figures) would get none (they are `localrules` and never
  go to SLURM).
- test_tiny_workflow_on_slurm: tests/config/tiny.yaml through `--workflow-profile profiles/slurm` on the cluster that
  `.ci/slurm-up.sh` starts (one node, 2 CPUs, 2 fake GPUs as GRES, status polled with squeue). Then it checks
  SLURM's own records (`scontrol show job`, kept for MinJobAge = 600 s) that every submitted job ran there and was
  given a GPU, and the jobs' logs that each training / evaluation process saw the CUDA_VISIBLE_DEVICES that SLURM
  set, different GPUs for jobs that ran at the same time. It runs only when asked for (CI=true or
  VAEPRIORS_REQUIRE_SLURM=1, as .ci/run sets), and then a missing cluster is a failure. A run that does not finish within
  RUN_LIMIT_S (a misconfigured cluster, e.g. a status command that never answers) is interrupted and the test fails
  with the reason and the tail of the logs.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, snakemake

PROFILE = ROOT / "profiles" / "slurm"
TINY = ROOT / "tests" / "config" / "tiny.yaml"
RUN_LIMIT_S = 600  # the tiny workflow takes 1-3 minutes on the 2-CPU CI node
INIT_S = 2  # first status check this soon after a submission (the profile's 20 s would slow the test)
GPU_RULES = {"toy_train_grid", "toy_train_seeds", "toy_train_baseline"}
LOCAL_RULES = {"table", "figure3", "figure6", "reproduction_scorecard", "report_page", "all"}
IMAGE_GPU_RULES = {"image_warmup", "image_train", "image_evaluate", "overfit_encoder",
                   "dpvae_train"}  # (+ train_fid_classifier with classifier FID)
IMAGE_CPU_RULES = {"fetch_images", "image_tsne"}
IMAGE_LOCAL_RULES = {"image_table", "figure2a", "figure2b", "figure4", "figure5", "figure7", "figure8", "figure9",
                     "image_samples", "dpvae_table1", "dpvae_figure", "dpvae_pair_figure"}
# The SLURM run of the tiny configuration covers the 2D chain (the image rules are planned by the dry runs above).
TOY_TARGETS = ["results/tables/table1.csv", "results/tables/table3.csv", "results/tables/table4.tex",
               "results/figures/figure3.png", "results/figures/figure6.png"]
REQUIRED = os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("VAEPRIORS_REQUIRE_SLURM") == "1"


def run(*command, timeout=60):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------------
# The profile's resources -> sbatch flags (dry run; no cluster).


def dry_run_jobs(workdir, env=None, root=ROOT):
    """(rule, resources, threads) of every job that `snakemake -n --workflow-profile profiles/slurm all` plans in
    `workdir` for the workflow of checkout `root`."""
    result = snakemake(workdir, "-n", "--cores", "8", "--workflow-profile", root / "profiles" / "slurm", "all",
                       root=root, env={**os.environ, **(env or {})}, timeout=300)  # fmt: skip
    output = result.stdout
    assert result.returncode == 0, output[-5000:]
    jobs = []
    for block in re.split(r"\n(?=\s*(?:local)?rule \w+:)", output)[1:]:
        rule = re.match(r"\s*(?:local)?rule (\w+):", block).group(1)
        resources = {}
        match = re.search(r"^\s*resources: (.*)$", block, re.M)
        for item in match.group(1).split(", ") if match else []:
            key, value = item.split("=", 1)
            if value != "<TBD>":
                resources[key] = int(value) if value.isdecimal() else value
        threads = re.search(r"^\s*threads: (\d+)$", block, re.M)
        jobs.append((rule, resources, int(threads.group(1)) if threads else 1))
    return output, jobs


class _Resources(dict):
    __getattr__ = dict.__getitem__


def sbatch_flags(rule, resources, threads):
    """The sbatch options (without partition, account and --wrap) that the SLURM plugin builds for such a job."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(name=rule, threads=threads, resources=_Resources(resources), is_group=lambda: False)
    params = dict(run_uuid="RUN", slurm_logfile="LOG", comment_str=f"rule_{rule}", account="", partition="",
                  workdir="WORKDIR")
    return get_submit_command(job, params) + set_gres_string(job)


def test_profile_dry_run_gpu_rules_get_gpus(tmp_path):
    output, jobs = dry_run_jobs(tmp_path, {"VAEPRIORS_SLURM_PARTITION": "gpu", "VAEPRIORS_SLURM_GPU_MODEL": "a100"})
    assert "Using workflow specific profile" in output
    rules = {rule for rule, _, _ in jobs}
    assert GPU_RULES | LOCAL_RULES | IMAGE_GPU_RULES | IMAGE_CPU_RULES | IMAGE_LOCAL_RULES == rules, rules
    # 4 datasets x 10 configurations (the paper's 8 + 2 decoupled-prior) x (grid, seeds) chains + 8 baselines: 48 SLURM
    # jobs instead of 176.
    assert output.count("Group job toy2d") == 48
    for rule, resources, threads in jobs:
        flags = sbatch_flags(rule, resources, threads)
        assert "--gres" not in flags and "slurm_extra" not in resources, flags
        if rule in IMAGE_GPU_RULES:
            assert resources["gpu"] == 1 and " --gpus=a100:1" in flags and f" --cpus-per-task={threads}" in flags
            assert re.search(r" -t \d+ ", flags), flags
        elif rule in GPU_RULES:
            assert resources["gpu"] == 1 and resources["slurm_partition"] == "gpu", (rule, resources)
            assert " --gpus=a100:1" in flags, flags  # the GPU model from VAEPRIORS_SLURM_GPU_MODEL
            assert f" --cpus-per-task={threads}" in flags and threads == 4, flags
            assert " --mem 8000" in flags and "--ntasks" not in flags, flags
            assert re.search(r" -t (30|60) ", flags), flags  # runtime in minutes, from "1h" / "30m"
        else:  # tables, figures, all: CPU only (and local rules: never submitted)
            assert "gpu" not in resources and "--gpus" not in flags, flags
            assert "--ntasks=1" in flags, flags


def test_profile_defaults_leave_partition_and_account_to_the_cluster(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VAEPRIORS_SLURM_")}
    result = snakemake(tmp_path, "-n", "--workflow-profile", PROFILE, "results/toy/8Gaussian/grid/vae_sg/metrics.csv",
                       env=clean, timeout=300)
    output = result.stdout
    assert result.returncode == 0, output[-5000:]
    resources = re.findall(r"^\s*resources: (.*)$", output, re.M)
    assert resources and all("gpu=1" in line for line in resources), resources
    assert not any(key in line for line in resources for key in ("slurm_partition", "slurm_account", "gpu_model"))


# ---------------------------------------------------------------------------------------------------------------
# The tiny workflow on a real SLURM cluster.


def scontrol_job(jobid):
    """`scontrol show job -d JOBID` as a dict of its KEY=VALUE fields (empty when SLURM no longer knows the job)."""
    result = run("scontrol", "show", "job", "-d", jobid)
    if result.returncode != 0:
        return {}
    fields = {}
    for key, value in re.findall(r"(?:^|\s)([A-Za-z_:/]+)=(\S*)", result.stdout):
        fields.setdefault(key, value)
    return fields


def cluster_problems():
    """Why this cluster cannot run the test (empty when it can), checked before Snakemake starts."""
    ping = run("scontrol", "ping")
    if "UP" not in ping.stdout:
        return [f"slurmctld does not answer (`scontrol ping`: {ping.stdout.strip()} {ping.stderr.strip()}); "
                "start the cluster with `bash .ci/slurm-up.sh`"]
    problems = []
    nodes = run("sinfo", "-h", "-N", "-o", "%N|%t|%G|%m").stdout.split()
    if not any(re.search(r"\|(idle|mix|alloc|comp)\S*\|\S*gpu:\D*(\d+)", node) for node in nodes):
        problems.append(f"no node is up with GPUs declared as GRES (sinfo: {nodes}); see .ci/slurm-up.sh")
    if not any(int(node.rsplit("|", 1)[1].rstrip("+")) >= 8000 for node in nodes if node.count("|") == 3):
        problems.append(f"no node has the 8000 MB that profiles/slurm asks per job (sinfo: {nodes})")
    config = run("scontrol", "show", "config").stdout
    age = re.search(r"^MinJobAge\s*=\s*(\d+)", config, re.M)
    if not age or int(age.group(1)) < max(3 * INIT_S, RUN_LIMIT_S):
        problems.append(f"MinJobAge is {age.group(1) if age else '?'} s: SLURM forgets finished jobs too soon for "
                        f"status polling with squeue and for this test's checks (needs >= {RUN_LIMIT_S} s)")
    return problems


def diagnose(log_text, run_uuid):
    """The likely reason a run failed or hung, and the tail of the logs."""
    hints = []
    if re.search(r"accounting storage is disabled|Falling back to 'sacct'", log_text, re.I):
        hints.append("job status goes through `sacct`, but this cluster has no job accounting (slurmdbd): the "
                     "plugin then drops its jobs and Snakemake waits forever; use `slurm-status-command: squeue` "
                     "and MinJobAge >= 3 x slurm-init-seconds-before-status-checks")
    if "could not check status" in log_text:
        hints.append("the status command failed (see the Snakemake log)")
    if "SLURM sbatch failed" in log_text:
        hints.append("sbatch refused a job: " + re.findall(r"SLURM sbatch failed.*", log_text)[0])
    parts = ["hints: " + ("; ".join(hints) or "none")]
    if shutil.which("squeue"):
        queue = run("squeue", "--states=all", "-o", "%i %T %r %j %b", *(["--name", run_uuid] if run_uuid else []))
        parts.append("squeue:\n" + queue.stdout + queue.stderr)
        parts.append("sinfo:\n" + run("sinfo", "-N", "-o", "%N %t %G %C %m %E").stdout)
    parts.append("snakemake log (tail):\n" + "\n".join(log_text.splitlines()[-80:]))
    for path in (Path("/var/log/slurm/slurmctld.log"), Path("/var/log/slurm/slurmd.log")):
        if path.is_file():
            parts.append(f"{path} (tail):\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]))
    return "\n\n".join(parts)


# What in the log means the run can never finish: the plugin's job status queries fail (it then waits forever).
HOPELESS = {
    "job status is queried with `sacct`, which fails here": lambda log: "accounting storage is disabled" in log,
    "10 job status queries failed": lambda log: log.count("could not check status of job") >= 10,
}


def run_snakemake_on_slurm(workdir, partition, *extra, limit=RUN_LIMIT_S):
    """Snakemake with the SLURM profile. Interrupted (SIGINT: it then cancels its jobs) after `limit` seconds, or as
    soon as its log shows that it cannot finish. Returns (exit code, why it was interrupted or None, log, run id,
    seconds)."""
    command = [
        sys.executable, "-m", "snakemake", *TOY_TARGETS,
        "--snakefile", ROOT / "Snakefile", "--directory", workdir,
        "--configfile", ROOT / "config.yaml", TINY,  # absolute: `configfile:` is relative to the working directory
        "--workflow-profile", PROFILE,
        "--max-threads", "1",  # the test node has 2 CPUs; the profile asks 4 per job
        "--slurm-init-seconds-before-status-checks", str(INIT_S),
        "--slurm-keep-successful-logs",
        "--verbose",  # logs each `sbatch call:` and each failed status query
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "VAEPRIORS_SLURM_PARTITION": partition}
    log_path = workdir.parent / "snakemake-slurm.log"
    start = time.monotonic()
    interrupted = None
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(c) for c in command], stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        while process.poll() is None and interrupted is None:
            time.sleep(2)
            text = log_path.read_text(errors="replace")
            interrupted = next((why for why, hopeless in HOPELESS.items() if hopeless(text)), None)
            if interrupted is None and time.monotonic() - start > limit:
                interrupted = f"not finished after {limit} s"
        if interrupted is not None:
            os.killpg(process.pid, signal.SIGINT)  # Snakemake ignores SIGTERM while it waits for remote jobs
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        returncode = process.wait()
    text = log_path.read_text(errors="replace")
    run_uuid = next(iter(re.findall(r"--job-name (\S+)", text)), "")
    if interrupted is not None and run_uuid:
        run("scancel", "--name", run_uuid)
    return returncode, interrupted, text, run_uuid, time.monotonic() - start


def test_tiny_workflow_on_slurm(tmp_path):
    if not REQUIRED:  # never submit to a cluster the user did not ask for (e.g. `make test` on a login node)
        pytest.skip("opt-in: `bash .ci/slurm-up.sh` starts a one-node cluster (root), then VAEPRIORS_REQUIRE_SLURM=1")
    if not shutil.which("sbatch"):
        pytest.fail("no `sbatch`, but CI=true / VAEPRIORS_REQUIRE_SLURM=1: start the cluster with "
                    "`bash .ci/slurm-up.sh` before the tests")
    problems = cluster_problems()
    assert not problems, "the SLURM cluster cannot run this test:\n" + "\n".join(problems)
    partition = os.environ.get("VAEPRIORS_SLURM_PARTITION") or next(
        p.rstrip("*") for p in run("sinfo", "-h", "-o", "%P").stdout.split() if p.endswith("*"))

    workdir = tmp_path / "work"
    returncode, interrupted, log, run_uuid, elapsed = run_snakemake_on_slurm(workdir, partition)
    print(f"tiny workflow on SLURM: {elapsed:.0f} s, exit code {returncode}")
    if interrupted:
        pytest.fail(f"Snakemake on SLURM interrupted: {interrupted}\n" + diagnose(log, run_uuid))
    assert returncode == 0, f"Snakemake failed on SLURM (exit code {returncode})\n" + diagnose(log, run_uuid)
    for name in ["results/tables/table1.csv", "results/tables/table4.tex", "results/figures/figure3.png"]:
        assert (workdir / name).is_file(), name

    # What Snakemake submitted: one sbatch per (dataset, configuration) chain, each asking for one GPU.
    calls = re.findall(r"sbatch call: (.*)", log)
    assert calls, "no `sbatch call:` in the log:\n" + diagnose(log, run_uuid)
    for call in calls:
        assert " --gpus=1" in call and f" -p {partition} " in call and "--gres" not in call, call[:400]
    # the tables and figures of TOY_TARGETS ran here (TOY_TARGETS asks for neither the scorecard nor the report page)
    for rule in LOCAL_RULES - {"all", "reproduction_scorecard", "report_page"}:
        assert f"localrule {rule}:" in log, rule
    jobids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(jobids) == len(calls) == 5, (jobids, len(calls))  # 3 grid->seeds chains + 2 baselines

    # SLURM's records: each job ran to completion on a node of the cluster and was allocated a GPU.
    records = {}
    for jobid in jobids:
        record = scontrol_job(jobid)
        assert record, f"SLURM has no record of job {jobid} (MinJobAge too short?)"
        assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0", (jobid, record)
        assert record["JobName"] == run_uuid and record["Partition"] == partition, (jobid, record)
        assert record["BatchHost"] and record["NodeList"], (jobid, record)
        assert "gpu:1" in record.get("TresPerJob", "") and record.get("JOB_GRES") == "gpu:1", (jobid, record)
        records[jobid] = record

    # Each training / evaluation process saw the CUDA_VISIBLE_DEVICES that SLURM set for its job (the CLI logs it,
    # through vaepriors.core.gpu_slots). 8 processes: 3 grid, 3 seeds and 2 baseline trainings, each evaluating
    # its runs.
    gpus_of_job = {}
    rule_logs = [p for rule in GPU_RULES for p in (workdir / "results/logs" / rule).rglob("*.log")]
    assert len(rule_logs) == 8, rule_logs
    for path in rule_logs:
        seen = re.search(r"CUDA_VISIBLE_DEVICES=(\S*) set before this process started \(SLURM job (\d+)\)",
                         path.read_text())
        assert seen, (f"{path} does not record a CUDA_VISIBLE_DEVICES set by SLURM (the CLI's `--device auto` logs it "
                      "through vaepriors.core.gpu_slots.claim_gpu)")
        gpu, jobid = seen.groups()
        assert jobid in records and re.fullmatch(r"\d+", gpu), (path, gpu, jobid)
        gpus_of_job.setdefault(jobid, set()).add(gpu)
    assert set(gpus_of_job) == set(records), (gpus_of_job, list(records))  # every SLURM job ran its rules
    assert all(len(gpus) == 1 for gpus in gpus_of_job.values()), gpus_of_job  # one GPU per SLURM job

    # Jobs that ran at the same time had different GPUs.
    def interval(jobid):
        return tuple(datetime.fromisoformat(records[jobid][key]) for key in ("StartTime", "EndTime"))

    for a in gpus_of_job:
        for b in gpus_of_job:
            (start_a, end_a), (start_b, end_b) = interval(a), interval(b)
            if a < b and start_a < end_b and start_b < end_a:
                assert gpus_of_job[a] != gpus_of_job[b], (a, b, gpus_of_job, records[a], records[b])
