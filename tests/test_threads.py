"""The trainer's thread count follows what the other processes take now, measured, not the load average."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from explorer.training import threads
from explorer.training.threads import ThreadGovernor, choose_threads

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 20: pass"
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def test_the_others_are_what_the_cores_did_less_what_this_process_did():
    # busy, total, own jiffies: 2 cores, 100 jiffies each in between; this process took 60, the others 90
    assert threads._others((0, 0, 0), (150, 200, 60), 2) == pytest.approx(0.9)
    assert threads._others((0, 0, 0), (60, 200, 60), 2) == 0.0
    assert threads._choice({0, 1}, 0.9, 0.25).threads == 1
    assert threads._choice({0, 1}, 0.3, 0.25).threads == 2
    assert threads._choice({0, 1}, 5.0, 0.25).threads == 1  # never below one


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="measured through /proc")
def test_a_run_started_right_after_busy_work_ends_takes_every_core(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = choose_threads()  # whatever else this machine runs now (on a quiet one: every core)
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(CORES)]
    try:
        time.sleep(0.3)
        busy = choose_threads()
        assert busy.threads == 1 and "other processes kept" in busy.reason
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    # The load average still counts the work that just ended; the measurement does not.
    after = choose_threads()
    assert after.threads == before.threads, (before.reason, after.reason)


def test_omp_num_threads_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    applied = []
    governor = ThreadGovernor(applied.append, recheck_s=0.0)
    assert applied == [1] and governor.choice.reason == "OMP_NUM_THREADS=1"
    assert governor.maybe_recheck() is None
