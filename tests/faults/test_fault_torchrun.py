"""torchrun: rank 0, the run's one writer, killed (SIGKILL) mid-run ends the run "failed" with one sentence and a
final state: a surviving rank takes the lock it let go and records it, so status.json never says "running" behind
a dead process. (Rank 1 killed: tests/test_training_torchrun.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.runs.folder import RunDir
from explorer.training.distributed import ORPHANED
from tests.faults.harness import TINY, env, only_run, wait_until

TORCHRUN = Path(sys.executable).parent / "torchrun"
ARGS = [*TINY, "--iterations", "4000", "--log-every", "2", "--eval-every", "2000", "--checkpoint-every", "50"]


def _ranks(torchrun: subprocess.Popen) -> dict[int, int]:
    """rank -> pid of the workers torchrun started."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            if entry.name.isdigit() and int(stat[stat.rindex(")") + 2:].split()[1]) == torchrun.pid:
                environ = (entry / "environ").read_bytes().split(b"\0")
                found[int(next(e for e in environ if e.startswith(b"RANK="))[5:])] = int(entry.name)
        except (OSError, StopIteration, ValueError):
            continue
    return found


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside this Python")
def test_rank_0_killed_mid_run_is_recorded_by_the_rank_that_survives(tmp_path):
    killed = 0
    runs = tmp_path / "runs"
    proc = subprocess.Popen([str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "explorer", "train",
                             *ARGS, "--runs-dir", str(runs)], env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
        wait_until(lambda: RunDir(run).status().iteration >= 6, proc)
        ranks = wait_until(lambda: len(_ranks(proc)) == 2 and _ranks(proc), proc)
        writer = ranks[0]
        os.kill(ranks[killed], signal.SIGKILL)
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    assert proc.returncode != 0
    status = json.loads((run / "status.json").read_text())
    said = ORPHANED.format(pid=writer)
    assert (status["state"], status["message"]) == ("failed", said), output
    ours = [line for line in output.splitlines() if line.startswith("failed at iteration")]
    assert len(ours) == 1 and said in ours[0], output
    assert "internal error" not in output and not (run / "error.log").exists()
    assert RunDir(run).status().state == "failed" and RunDir(run).status().resumable
