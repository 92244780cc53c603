"""What the fault tests share: the real CLI in a child process with its own HOME, runs and data folders, and
waits on what the child writes. Nothing here mocks the reader or the file system."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TINY = ["--dataset", "synthetic", "--synthetic-size", "400", "--depths", "8", "--batch-size", "16",
        "--precision", "fp32", "--seed", "3"]


def env(tmp_path: Path, **extra: str) -> dict:
    """A child environment whose HOME, runs and data folders live under ``tmp_path`` (so a write that escapes
    a folder lands where the test can see it, never in the real home)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
            "RESNET_EXPLORER_RUNS": str(tmp_path / "runs"), "RESNET_EXPLORER_DATA": str(tmp_path / "data"),
            **extra}


def cli(tmp_path: Path, *args: str, timeout: float = 240, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], env=popen.pop("env", env(tmp_path)),
                          capture_output=True, text=True, timeout=timeout, **popen)


def start(tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "explorer", *args], env=popen.pop("env", env(tmp_path)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)


def wait_until(condition, proc: subprocess.Popen | None = None, timeout: float = 180, poll: float = 0.01):
    """Poll ``condition()`` until it returns something true; fail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the trainer exited ({proc.returncode}) first: {proc.stderr.read()}")
        time.sleep(poll)
    if proc is not None:
        proc.kill()
        proc.wait()
    raise AssertionError("timed out waiting")


def one_line(stderr: str, prefix: str = "resnet-explorer") -> str:
    """The one sentence the CLI ends with; there must be exactly one, and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stderr
    return lines[0]


def only_run(runs: Path) -> Path:
    (path,) = [p for p in runs.iterdir() if p.is_dir()]
    return path


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files the atomic writers would have removed."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp")
                  or p.name.startswith(".partial-"))
