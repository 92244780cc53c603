"""``tensorboard --logdir RUNS_DIR`` itself (its data server, as a person starts it) over three runs of ours: a
finished one, one killed after points past its last checkpoint and resumed, and a live one. Each tag TensorBoard
serves is compared with what the run's metrics.jsonl says (the resume rule applied); the live run twice, to see it
grow. Needs the tensorboard extra; tiny synthetic runs on the CPU, about two minutes.

    .venv/bin/python scripts/tensorboard_check.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from explorer.runs.checkpoints import latest_iteration
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from explorer.training.tensorboard_log import scalars

TINY = ["--dataset", "synthetic", "--synthetic-size", "400", "--depths", "8", "--batch-size", "16",
        "--precision", "fp32", "--log-every", "5", "--eval-every", "10", "--seeds", "2"]


def train(runs: Path, *args: str, wait: bool = True) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "train", *TINY, *args, "--runs-dir", str(runs)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait:
        assert proc.wait() == 0
    return proc


def newest(runs: Path) -> Path:
    return max((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime_ns)


def wanted(run: Path) -> dict[str, list[list[float]]]:
    points: dict[str, list[list[float]]] = {}
    for event in effective_events(RunDir(run).read_events()[0]):
        if event["type"] in ("train", "eval"):
            for tag, value in scalars(event):
                points.setdefault(tag, []).append([event["iteration"], value])
    return points


def served(port: int, run: str) -> dict[str, list[list[float]]]:
    def get(path: str, **query) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}") as reply:
            return json.load(reply)

    tags = get("/data/plugin/scalars/tags").get(run, {})
    return {tag: [[step, value] for _, step, value in get("/data/plugin/scalars/scalars", run=run, tag=tag)]
            for tag in tags}


def compare(name: str, seen: dict, expected: dict, prefix: bool = False) -> int:
    """Points compared; raises when TensorBoard shows anything metrics.jsonl does not say (or, for a finished
    run, misses anything)."""
    assert set(seen) == set(expected), (name, sorted(set(seen) ^ set(expected)))
    count = 0
    for tag, points in seen.items():
        reference = expected[tag][:len(points)] if prefix else expected[tag]
        assert [p[0] for p in points] == [p[0] for p in reference], (name, tag, points, reference)
        assert all(abs(a[1] - b[1]) <= 1e-6 * max(1.0, abs(b[1])) for a, b in zip(points, reference)), (name, tag)
        count += len(points)
    return count


def main() -> None:
    runs = Path(tempfile.mkdtemp(prefix="tensorboard-check-")) / "runs"
    train(runs, "--iterations", "30", "--name", "finished")
    finished = newest(runs)
    killed = train(runs, "--iterations", "80", "--checkpoint-every", "40", "--name", "resumed", wait=False)
    while not any(runs.glob("*-resumed")) or (latest_iteration(next(runs.glob("*-resumed")) / "checkpoints") or 0) < 40:
        time.sleep(0.05)
    resumed = next(runs.glob("*-resumed"))
    while max([e["iteration"] for e in RunDir(resumed).read_events()[0] if e["type"] == "train"] or [0]) < 55:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    orphans = max(e["iteration"] for e in RunDir(resumed).read_events()[0] if e["type"] == "train")
    subprocess.run([sys.executable, "-m", "explorer", "train", "--resume", str(resumed)], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    live_proc = train(runs, "--iterations", "4000", "--name", "live", wait=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(runs), "--host",
                               "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        live = None
        while time.monotonic() < deadline:
            try:
                live = next(runs.glob("*-live"))
                if served(port, live.name) and served(port, resumed.name) and served(port, finished.name):
                    break
            except (OSError, StopIteration):
                pass
            time.sleep(0.5)
        print(f"tensorboard --logdir {runs} (port {port})")
        n = compare("finished", served(port, finished.name), wanted(finished))
        print(f"finished run: {n} points over {len(wanted(finished))} tags, equal to metrics.jsonl")
        n = compare("resumed", served(port, resumed.name), wanted(resumed))
        print(f"resumed run (killed at iteration {orphans}, checkpoint 40): {n} points, each step once, equal to "
              "metrics.jsonl after the resume rule")
        first = compare("live", served(port, live.name), wanted(live), prefix=True)
        time.sleep(6)
        second = compare("live", served(port, live.name), wanted(live), prefix=True)
        print(f"live run: {first} points, {second} points 6 s later, each equal to metrics.jsonl's")
        assert second > first
    finally:
        live_proc.kill()
        live_proc.wait()
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
