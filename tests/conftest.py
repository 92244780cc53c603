"""Shared test fixtures. Every test must leave no child process behind (docs/architecture.md, convention 7): a training
child that outlives its test would keep the two cores busy and write into a deleted folder."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest


MAX_WORKERS = 4  # more processes each holding torch and a QApplication cost memory the tests do not win back


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): a worker per core this process may use (the app's own count,
    explorer.system.host.usable_cores), not pytest-xdist's physical cores, which are one on a 2-vCPU machine
    whose vCPUs are hyperthreads (where psutil is installed)."""
    from explorer.system.host import usable_cores

    return max(1, min(MAX_WORKERS, len(usable_cores())))


def pytest_configure(config):
    """Under pytest-xdist each worker's torch gets its share of the cores: two workers each running two threads on
    two cores made the paper run 5x slower (OpenMP threads spinning against each other). Children set their own
    threads (the app's governor, or OMP_NUM_THREADS)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        from explorer.system.host import usable_cores

        torch.set_num_threads(max(1, len(usable_cores()) // workers))


def pytest_collection_modifyitems(config, items):
    """The modules marked slow first (a stable sort: the same order on every xdist worker), so that the longest
    files start at once instead of ending the run alone on one worker."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow)


def _live_children() -> set[int]:
    """Pids of this process's children that are still running (zombies, already dead, do not count)."""
    me = str(os.getpid())
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[1] == me and fields[0] not in "ZX":
            children.add(int(entry.name))
    return children


@pytest.fixture(autouse=True, scope="session")
def own_cache_folder(tmp_path_factory):
    """The decoded-image cache of the suite (and of the children it starts) is its own, not the user's."""
    previous = os.environ.get("RESNET_EXPLORER_CACHE")
    os.environ["RESNET_EXPLORER_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("RESNET_EXPLORER_CACHE", None)
    else:
        os.environ["RESNET_EXPLORER_CACHE"] = previous


@pytest.fixture(autouse=True)
def no_child_process_left_behind():
    before = _live_children()
    yield
    deadline = time.monotonic() + 3.0
    left = _live_children() - before
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _live_children() - before
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"the test left child processes running: {sorted(left)}"
