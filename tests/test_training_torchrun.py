"""torchrun when one process of the job fails: rank 0, which writes the run folder, records "failed" in one
sentence, whether its collectives break at once (a killed rank under gloo) or block (a rank that hangs, as NCCL
does with a dead one) until torchrun stops the job. Two gloo processes on the CPU."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, env, only_run, wait_until

TORCHRUN = Path(sys.executable).parent / "torchrun"
ARGS = ["train", *TINY, "--depths", "8", "--iterations", "100000", "--log-every", "5", "--eval-every", "50000"]

pytestmark = pytest.mark.skipif(shutil.which("torchrun", path=str(TORCHRUN.parent)) is None,
                                reason="torchrun is not installed beside this Python")


def _job(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    runs = tmp_path / "runs"
    job = subprocess.Popen([str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "explorer", *ARGS,
                            "--runs-dir", str(runs)], env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, cwd=tmp_path)
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), job)
    wait_until(lambda: RunDir(run).status().iteration >= 10, job)
    return job, run


def _rank(job: subprocess.Popen, rank: int) -> int:
    """The pid of the worker torchrun started as ``rank``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == job.pid and f"RANK={rank}".encode() in environment:
            return int(entry.name)
    raise AssertionError(f"torchrun has no worker of rank {rank}")


def _finish(job: subprocess.Popen) -> None:
    try:
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()


def test_a_killed_rank_ends_the_run_failed_in_one_sentence_not_an_internal_error(tmp_path):
    job, run = _job(tmp_path)
    os.kill(_rank(job, 1), signal.SIGKILL)
    status = wait_until(lambda: RunDir(run).status().state == "failed" and RunDir(run).status(),
                        timeout=60)
    _finish(job)
    assert status.message.startswith("another process of this torchrun job stopped"), status
    assert "internal error" not in status.message and "resume" in status.message
    events, _ = RunDir(run).read_events()
    assert [e["status"] for e in events if e["type"] == "end"] == ["failed"]


def test_rank_0_stuck_in_a_collective_still_records_the_end_when_torchrun_stops_the_job(tmp_path):
    job, run = _job(tmp_path)
    hung = _rank(job, 1)
    os.kill(hung, signal.SIGSTOP)  # rank 0 now waits in its next collective, where no Python runs
    try:
        job.send_signal(signal.SIGTERM)  # what a person's stop, or torchrun after a failure, does
        status = wait_until(lambda: RunDir(run).status().state == "failed" and RunDir(run).status(),
                            timeout=60)
    finally:
        os.kill(hung, signal.SIGKILL)
        _finish(job)
    assert "another process of this torchrun job" in status.message and "resume" in status.message, status
    events, _ = RunDir(run).read_events()
    assert [e["status"] for e in events if e["type"] == "end"] == ["failed"]


def test_a_stop_asked_of_one_rank_is_agreed_by_all_without_waiting_for_the_device(tmp_path):
    """The stop vote is read one check after it was cast (on a GPU: never waiting for the steps queued since):
    both ranks still stop at the same step, save, and end "cancelled" with exit code 0."""
    job, run = _job(tmp_path)
    os.kill(_rank(job, 0), signal.SIGTERM)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr[-3000:]
    status = RunDir(run).status()
    assert status.state == "cancelled", status
    events, _ = RunDir(run).read_events()
    assert [e["status"] for e in events if e["type"] == "end"] == ["cancelled"]
    assert (run / "checkpoints" / "LATEST").read_text().strip() == f"iter-{status.iteration:08d}"
