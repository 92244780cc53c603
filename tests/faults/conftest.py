"""A run folder as a killed trainer leaves it, made once by a real trainer and a real SIGKILL, and copied for each
test that plants something in it (a link, a damaged file, a leftover) before resuming or analysing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from explorer.runs.checkpoints import latest_iteration
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, only_run, start, wait_until

# Plain-8 and ResNet-8; a set every 8 iterations: killed past its third set, a resume has ~20 short steps left.
KILLED = [*TINY, "--iterations", "40", "--log-every", "2", "--eval-every", "10", "--checkpoint-every", "8"]


@pytest.fixture(scope="session")
def killed_run(tmp_path_factory) -> Path:
    """A run killed (SIGKILL) after a checkpoint set, with points logged after that set. Never changed: copy it."""
    folder = tmp_path_factory.mktemp("killed")
    runs = folder / "runs"
    proc = start(folder, "train", *KILLED, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)

    def past_a_set() -> bool:
        at = latest_iteration(run / "checkpoints") or 0
        return at >= 16 and RunDir(run).status().iteration > at

    wait_until(past_a_set, proc)
    proc.kill()
    proc.communicate()
    return run


@pytest.fixture
def run_copy(killed_run, tmp_path) -> Path:
    """A copy of the killed run in this test's own runs folder (links copied as links)."""
    copy = tmp_path / "runs" / killed_run.name
    shutil.copytree(killed_run, copy, symlinks=True)
    return copy
