"""A second SIGTERM or SIGINT while the trainer shuts down - at once, after a moment, in the middle of its last
checkpoint set - still ends "cancelled" with exit code 0 and a consistent checkpoint set that resumes; so does a
closed terminal (SIGHUP, unless started with nohup) and a flood of SIGTERMs; a reader of stderr that goes away
(``| head -3``) is no failure of the run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from explorer.runs.checkpoints import PARTIAL_PREFIX, complete_sets, latest_iteration
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, env, leftovers, only_run, start, wait_until

ARGS = [*TINY, "--depths", "8,14", "--iterations", "4000", "--log-every", "5", "--eval-every", "2000",
        "--checkpoint-every", "7"]


def _writing_a_set(run: Path) -> bool:
    return any((run / "checkpoints").glob(f"{PARTIAL_PREFIX}*"))


@pytest.mark.parametrize("first, second, when", [
    (signal.SIGTERM, signal.SIGTERM, "at once"),
    (signal.SIGINT, signal.SIGINT, "after 30 ms"),
    (signal.SIGTERM, signal.SIGINT, "during the last checkpoint set"),
])
def test_a_second_signal_during_shutdown_still_ends_cancelled(tmp_path, first, second, when):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: (latest_iteration(run / "checkpoints") or 0) >= 14, proc)
    proc.send_signal(first)
    if when == "after 30 ms":
        time.sleep(0.03)
    elif when == "during the last checkpoint set":
        wait_until(lambda: _writing_a_set(run) or proc.poll() is not None, timeout=60, poll=0)
    proc.send_signal(second)
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    status = RunDir(run).status()
    assert status.state == "cancelled", status
    at = latest_iteration(run / "checkpoints")
    assert at is not None and at in complete_sets(run / "checkpoints")
    assert leftovers(run) == []
    assert _load_set(run) == at  # the set it left is whole: every model of one iteration, as resume reads it


def _load_set(run: Path) -> int:
    import torch

    from explorer.training.checkpoint import load_set

    trainer, per_model = load_set(run / "checkpoints", ["plain-8", "plain-14", "resnet-8", "resnet-14"],
                                  torch.device("cpu"))
    assert {saved["iteration"] for saved in per_model.values()} == {trainer["iteration"]}
    return trainer["iteration"]


def _training(tmp_path: Path, proc: subprocess.Popen, beyond: int = 6, drain=lambda: None) -> Path:
    """The run ``proc`` trains, once it has logged past iteration ``beyond``."""
    runs = tmp_path / "runs"

    def run_past() -> Path | None:
        drain()
        found = runs.exists() and any(runs.iterdir()) and only_run(runs)
        return found if found and RunDir(found).status().iteration >= beyond else None

    return wait_until(run_past, proc)


def _train(tmp_path: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "explorer", "train", *LONG, "--runs-dir", str(tmp_path / "runs")],
                            env=env(tmp_path), **popen)


LONG = [*TINY, "--iterations", "4000", "--log-every", "2", "--eval-every", "2000", "--checkpoint-every", "50"]


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes the terminal of the trainer's own session


def test_closing_the_terminal_stops_the_run_cancelled(tmp_path):
    """A real terminal (a pty that is the trainer's controlling terminal) is closed: the kernel hangs it up and
    sends SIGHUP, and every later write to it fails. The run ends "cancelled" with its checkpoint, exit 0."""
    master, slave = pty.openpty()
    proc = _train(tmp_path, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                  preexec_fn=_controlling_terminal)
    os.close(slave)
    os.set_blocking(master, False)

    def drain() -> None:  # read what the terminal shows, as a terminal would
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    run = _training(tmp_path, proc, drain=drain)
    os.close(master)  # the terminal window is closed
    assert proc.wait(timeout=120) == 0
    status = RunDir(run).status()
    assert status.state == "cancelled" and status.message.startswith("stopped at iteration"), status
    assert latest_iteration(run / "checkpoints") == status.iteration
    assert leftovers(run) == []


def test_a_trainer_started_with_nohup_trains_on_through_a_hangup(tmp_path):
    proc = _train(tmp_path, stderr=subprocess.DEVNULL,
                  preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    run = _training(tmp_path, proc)
    hung_up_at = RunDir(run).status().iteration
    proc.send_signal(signal.SIGHUP)
    wait_until(lambda: RunDir(run).status().iteration >= hung_up_at + 10, proc)  # it went on
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    assert RunDir(run).status().state == "cancelled"


def test_a_flood_of_sigterms_still_ends_the_process_with_the_runs_own_exit_code(tmp_path):
    proc = _train(tmp_path, stderr=subprocess.DEVNULL)
    run = _training(tmp_path, proc)
    while proc.poll() is None:  # every 2 ms until it is gone, through its last word and its shutdown
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        time.sleep(0.002)
    assert proc.returncode == 0
    assert RunDir(run).status().state == "cancelled"


def test_a_reader_of_stderr_that_goes_away_is_no_failure_of_the_run(tmp_path):
    """``resnet-explorer train … 2>&1 | head -3``: the run trains on to the end and its folder is whole."""
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "train", *TINY, "--iterations", "20", "--log-every",
                             "1", "--runs-dir", str(tmp_path / "runs")], env=env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # `head -3` has what it wanted and exits
    assert all(head) and proc.wait(timeout=240) == 0
    run = only_run(tmp_path / "runs")
    status = RunDir(run).status()
    assert (status.state, status.iteration) == ("finished", 20), status
    events, _ = RunDir(run).read_events()
    assert [e["iteration"] for e in events if e["type"] == "train" and e["model"] == "resnet-8"] == list(range(1, 21))
