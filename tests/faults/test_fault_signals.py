"""A second SIGTERM or SIGINT while the trainer shuts down - at once, after a moment, in the middle of its last
checkpoint set - still ends "cancelled" with exit code 0 and a consistent checkpoint set that resumes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from explorer.runs.checkpoints import PARTIAL_PREFIX, complete_sets, latest_iteration
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, leftovers, only_run, start, wait_until

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
