"""A full disk while training - under the metrics, the status or a checkpoint set - ends in one sentence; the
status does not read "running"; no partial temporary file is left taking space; everything written before is
kept; and once space is freed, the run resumes to the end. The disk is a real tmpfs, really full."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.runs.events import effective_events
from explorer.runs.events import valid_event
from tests.faults.harness import TINY, env

SCENARIO = Path(__file__).with_name("full_disk_scenario.py")
ARGS = [*TINY, "--iterations", "40", "--log-every", "1", "--eval-every", "20"]


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces_work(),
                                      reason="a private tmpfs needs unshare with user and mount namespaces")


@needs_namespaces
@pytest.mark.parametrize("free, every", [
    (0, 1000),  # no set until the lr drop at 20: the status, then the metrics' next page meet the full disk
    (96 * 1024, 4),  # room for lines, not for the next checkpoint set
])
def test_a_full_disk_ends_in_one_sentence_keeps_everything_and_resumes(tmp_path, free, every):
    spec = {"runs": str(tmp_path / "runs"), "size": "16m", "free": free,
            "args": [*ARGS, "--checkpoint-every", str(every)]}
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, str(SCENARIO),
                           json.dumps(spec)], capture_output=True, text=True, timeout=600, env=env(tmp_path),
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] == 1, report["stderr"]
    final = [l for l in report["stderr"].splitlines() if l.startswith("failed at iteration")]
    assert len(final) == 1 and "Traceback" not in report["stderr"], report["stderr"]
    assert "cannot write to the run folder" in final[0] and "the disk is full; free some space, then resume" in final[0]
    assert report["status"]["state"] == "failed" and "the disk is full" in report["status"]["message"]
    assert report["leftovers"] == []  # no half-written file left filling the disk
    lines = [json.loads(l) for l in report["lines"]]
    assert all(valid_event(e) for e in lines)  # every line written before the disk filled is whole
    trained = [e["iteration"] for e in lines if e["type"] == "train"]
    assert trained and trained == sorted(trained)
    latest = int(report["latest"].removeprefix("iter-"))
    assert 0 < latest <= max(trained) and latest % every in (0, 20 % every)

    resumed = report["resumed"]
    assert resumed["code"] == 0, resumed["stderr"]
    assert resumed["status"]["state"] == "finished" and resumed["status"]["iteration"] == 40
    events = effective_events([json.loads(l) for l in resumed["lines"]])
    points = [(e["model"], e["iteration"]) for e in events if e["type"] == "train"]
    assert sorted(points) == [(m, i) for m in ("plain-8", "resnet-8") for i in range(1, 41)]
    assert resumed["lines"][:len(report["lines"])] == report["lines"]  # nothing written before is lost
