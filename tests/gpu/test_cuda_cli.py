"""The GPU path through the CLI, in processes of its own (skipped without CUDA): a deterministic run stopped and
resumed on CUDA ends with the weights of one never stopped (cuBLAS's deterministic workspace must be set before
its first handle: a fresh process), and torchrun with NCCL on one node - two GPUs - reproduces the single-process
run, and records a killed rank's end although NCCL leaves rank 0 waiting in a collective."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, env, only_run, wait_until
from tests.test_training_resume import check_deterministic_resume

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
two_gpus = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")
ARGS = ["train", *TINY, "--device", "cuda", "--depths", "8", "--log-every", "5"]
RELATIVE = 0.05  # each rank's batch norm sees its half of the batch: tests/test_distributed.py says why


def test_a_deterministic_run_on_cuda_resumes_bit_for_bit(tmp_path):
    check_deterministic_resume(tmp_path, "--device", "cuda")


def _points(run: RunDir) -> list[tuple]:
    events, _ = run.read_events()
    return [(e["type"], e["model"], e["iteration"], e.get("loss")) for e in events if e["type"] in ("train", "eval")]


@two_gpus
def test_two_nccl_processes_reproduce_the_single_process_run(tmp_path):
    runs = {}
    for name, command in (("two", [TORCHRUN, "--nproc_per_node", "2", "-m", "explorer"]),
                          ("one", [sys.executable, "-m", "explorer"])):
        done = subprocess.run([*command, *ARGS, "--iterations", "20", "--eval-every", "10", "--runs-dir",
                               str(tmp_path / name)], env=env(tmp_path), capture_output=True, text=True, timeout=300,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = RunDir(only_run(tmp_path / name))
    ours, theirs = _points(runs["two"]), _points(runs["one"])
    assert [p[:3] for p in ours] == [p[:3] for p in theirs]
    for a, b in zip(ours, theirs):
        if a[0] == "train":
            assert abs(a[3] - b[3]) <= RELATIVE * b[3], (a, b)


@two_gpus
def test_a_killed_rank_under_nccl_still_ends_the_run_failed(tmp_path):
    runs = tmp_path / "runs"
    job = subprocess.Popen([TORCHRUN, "--nproc_per_node", "2", "-m", "explorer", *ARGS, "--iterations", "100000",
                            "--eval-every", "50000", "--runs-dir", str(runs)], env=env(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), job)
        wait_until(lambda: RunDir(run).status().iteration >= 10, job)
        from tests.test_training_torchrun import _rank

        os.kill(_rank(job, 1), signal.SIGKILL)
        status = wait_until(lambda: RunDir(run).status().state == "failed" and RunDir(run).status(),
                            timeout=60)
    finally:
        job.kill()
        job.wait()
    assert "another process of this torchrun job" in status.message, status
