"""A SIGKILL at any instant leaves a resumable run: killed between two model files of a checkpoint set, with a
line half-written, the run resumes from the last complete set, never reads as iteration 0, and ends with the
metrics of a run nothing stopped."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from explorer.runs.checkpoints import PARTIAL_PREFIX, latest_iteration
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, cli, leftovers, only_run, start, wait_until

# Plain and residual: two model files and the trainer's per set, a set at every iteration.
ARGS = [*TINY, "--iterations", "40", "--log-every", "3", "--eval-every", "20", "--checkpoint-every", "1"]


def metrics(run: Path) -> list[tuple]:
    events, _ = RunDir(run).read_events()
    return [(e["type"], e["model"], e["iteration"], e.get("loss"), e.get("error"), e.get("test_error"))
            for e in effective_events(events) if e["type"] in ("train", "eval")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[tuple]:
    tmp_path = tmp_path_factory.mktemp("whole")
    done = cli(tmp_path, "train", *ARGS, "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    return metrics(only_run(tmp_path / "runs"))


def _half_written_set(folder: Path) -> Path | None:
    """A set being written that has some of its files but not all: the instant to kill."""
    try:
        for partial in folder.glob(f"{PARTIAL_PREFIX}*"):
            written = [p for p in partial.iterdir() if p.suffix == ".pt"]
            if 1 <= len(written) <= 2 and latest_iteration(folder) is not None:
                return partial
    except OSError:
        return None
    return None


def test_a_kill_between_two_model_files_resumes_exactly(tmp_path, uninterrupted):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: (latest_iteration(run / "checkpoints") or 0) >= 5, proc)
    partial = wait_until(lambda: _half_written_set(run / "checkpoints"), proc, poll=0)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    at = latest_iteration(run / "checkpoints")
    assert at is not None and at >= 5
    assert partial.name.startswith(f"{PARTIAL_PREFIX}iter-")
    # What every reader sees of the killed run: how far it got, never 0.
    (listed,) = json.loads(cli(tmp_path, "runs", "--json", "--runs-dir", str(runs)).stdout)
    assert (listed["state"], listed["checkpoint_iteration"]) == ("failed", at) and listed["iteration"] >= at

    resumed = start(tmp_path, "train", "--resume", str(run))
    first = wait_until(lambda: _status_of(run, resumed.pid), resumed)
    assert first["iteration"] == at  # the new trainer's first word already says where it continues
    _, stderr = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, stderr
    assert RunDir(run).status().state == "finished"
    assert metrics(run) == uninterrupted
    assert leftovers(run) == []  # the half-written set of the killed trainer is gone


def _status_of(run: Path, pid: int) -> dict | None:
    try:
        status = json.loads((run / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return status if status.get("pid") == pid else None


def test_sigterm_then_resume_gives_the_uninterrupted_metrics(tmp_path, uninterrupted):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: RunDir(run).status().iteration >= 12, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    status = RunDir(run).status()
    assert status.state == "cancelled" and 12 <= status.iteration < 40
    assert "resume to continue" in status.message
    done = cli(tmp_path, "train", "--resume", str(run))
    assert done.returncode == 0, done.stderr
    events, _ = RunDir(run).read_events()
    assert [e["iteration"] for e in events if e["type"] == "resume"] == [status.iteration]
    assert metrics(run) == uninterrupted


def test_a_half_written_last_line_is_ended_before_the_resume_event(tmp_path, uninterrupted):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: (latest_iteration(run / "checkpoints") or 0) >= 15, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    fragment = b'{"type": "train", "model": "resnet-8", "iteration": 99, "lo'
    with open(run / "metrics.jsonl", "ab") as f:  # what a kill in the middle of a write leaves
        f.write(fragment)
    done = cli(tmp_path, "train", "--resume", str(run))
    assert done.returncode == 0, done.stderr
    lines = (run / "metrics.jsonl").read_bytes().splitlines()
    assert lines.count(fragment) == 1  # a line of its own, nothing glued to it, nothing cut
    assert all(json.loads(line) for line in lines if line != fragment)
    events, _ = RunDir(run).read_events()
    assert [e["type"] for e in events].count("resume") == 1
    assert metrics(run) == uninterrupted
    kept = [(m[0], m[1], m[2]) for m in metrics(run)]
    assert len(kept) == len(set(kept))  # no point twice, whatever the killed trainer logged after its last set


def test_resume_of_a_run_killed_before_its_first_set_starts_over(tmp_path):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: (run / "status.json").exists(), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = cli(tmp_path, "train", "--resume", str(run))
    assert done.returncode == 0, done.stderr
    assert RunDir(run).status().state == "finished"
