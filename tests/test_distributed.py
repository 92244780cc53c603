"""torchrun: two gloo processes on the CPU train the run a single process trains, for the same global batch;
rank 0 alone writes the one run folder, each point once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.runs.folder import RunDir

ARGS = ["train", "--dataset", "synthetic", "--synthetic-size", "400", "--depths", "8", "--iterations", "20",
        "--batch-size", "16", "--log-every", "5", "--eval-every", "10", "--precision", "fp32", "--seed", "3"]
# Each rank normalises its 8 images with their own batch statistics where the single process uses all 16 (CPU
# torch has no SyncBatchNorm): the same steps up to that noise. Measured over these 20 steps it moves the mean
# loss of an interval by about 1%; 5% leaves room for another machine's float order, while a rank that trained
# on the wrong slice, or twice the data, or without averaging its gradients, would be off by far more.
RELATIVE = 0.05


def _run(tmp_path: Path, command: list[str], runs: Path) -> RunDir:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RESNET_EXPLORER_RUNS": str(runs)}
    done = subprocess.run([*command, *ARGS, "--runs-dir", str(runs)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = list(runs.iterdir())
    return RunDir(path)


def _points(run: RunDir) -> list[tuple]:
    events, _ = run.read_events()
    return [(e["type"], e["model"], e["iteration"], e.get("loss"), e.get("test_error")) for e in events
            if e["type"] in ("train", "eval")]


@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None,
                    reason="torchrun is not installed beside this Python")
def test_two_gloo_processes_reproduce_the_single_process_run(tmp_path):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    two = _run(tmp_path, [torchrun, "--nproc_per_node", "2", "-m", "explorer"], tmp_path / "two")
    one = _run(tmp_path, [sys.executable, "-m", "explorer"], tmp_path / "one")
    events, _ = two.read_events()
    (start,) = [e for e in events if e["type"] == "start"]
    assert start["world"] == 2 and start["batch_size"] == 16  # the global batch
    ours, theirs = _points(two), _points(one)
    assert [p[:3] for p in ours] == [p[:3] for p in theirs]  # each point once, in the same order
    for a, b in zip(ours, theirs):
        if a[0] == "train":
            assert abs(a[3] - b[3]) <= RELATIVE * b[3], (a, b)
    assert two.status().state == "finished" and json.loads((two.path / "status.json").read_text())["iteration"] == 20
    assert sorted(p.name for p in (two.path / "checkpoints").iterdir())[0] == "LATEST"
