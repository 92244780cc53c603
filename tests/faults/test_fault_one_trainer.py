"""One run, one trainer: while a trainer holds a run, a second one on the same run is refused with a sentence
(and writes nothing); readers see the run as busy; the kernel frees the run when its trainer dies."""

from __future__ import annotations

import json
import signal

from explorer.runs.listing import list_runs
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, cli, one_line, only_run, start, wait_until

LONG = [*TINY, "--iterations", "3000", "--log-every", "5", "--eval-every", "1000", "--checkpoint-every", "10"]


def test_a_second_trainer_on_the_same_run_is_refused(tmp_path):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *LONG, "--runs-dir", str(runs))
    try:
        run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
        wait_until(lambda: RunDir(run).status().iteration >= 20, proc)
        assert RunDir(run).trainer_pid() == proc.pid
        [info] = list_runs(runs)
        assert info.busy and info.state == "running" and info.pid == proc.pid
        before = (run / "metrics.jsonl").read_bytes()

        second = cli(tmp_path, "train", "--resume", str(run))

        assert second.returncode == 2
        assert one_line(second.stderr) == (
            f"resnet-explorer train: the run {run.name} is already being trained by another process "
            f"(pid {proc.pid}); stop it first or wait for it to end")
        after = (run / "metrics.jsonl").read_bytes()
        assert after.startswith(before) and b'"resume"' not in after[len(before):]  # the second wrote nothing
        assert json.loads((run / "status.json").read_text())["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    # The kernel let the lock go with the dead trainer: the run reads failed, not busy, and resumes.
    status = RunDir(run).status()
    assert (status.state, status.busy) == ("failed", False)
    assert RunDir(run).trainer_pid() is None
