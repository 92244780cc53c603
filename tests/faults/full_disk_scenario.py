"""Run inside a private mount namespace (``unshare --user --map-root-user --mount``): a tiny tmpfs becomes the
runs folder, a trainer fills it while it trains, then the space is freed and the run resumed. Prints one JSON
report on stdout for the test that started it. Real processes, a real file system that is really full."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    spec = json.loads(sys.argv[1])
    runs, free = Path(spec["runs"]), spec["free"]
    runs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={spec['size']}", "tmpfs", str(runs)], check=True)
    command = [sys.executable, "-m", "explorer", "train", *spec["args"], "--runs-dir", str(runs)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    run = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = [p for p in runs.iterdir() if p.is_dir()]
        latest = found[0] / "checkpoints" / "LATEST" if found else None
        if latest is not None and latest.exists() and latest.read_text().strip() not in ("", "iter-00000000"):
            run = found[0]
            break
        time.sleep(0.01)
    filler = runs / "filler"
    with open(filler, "wb") as f:  # take all the space but `free` bytes
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass
    if free:
        with open(filler, "r+b") as f:
            f.truncate(max(0, os.path.getsize(filler) - free))
    _, stderr = proc.communicate(timeout=240)
    report = {"code": proc.returncode, "stderr": stderr, "run": str(run)}
    if run is not None:
        report["status"] = json.loads((run / "status.json").read_text())
        report["leftovers"] = sorted(str(p.relative_to(run)) for p in run.rglob("*")
                                     if p.name.endswith(".tmp") or p.name.startswith(".partial-"))
        report["lines"] = (run / "metrics.jsonl").read_text().splitlines()
        report["latest"] = (run / "checkpoints" / "LATEST").read_text().strip()
        filler.unlink()
        resumed = subprocess.run([sys.executable, "-m", "explorer", "train", "--resume", str(run)],
                                 capture_output=True, text=True, timeout=240)
        report["resumed"] = {"code": resumed.returncode, "stderr": resumed.stderr,
                             "status": json.loads((run / "status.json").read_text()),
                             "lines": (run / "metrics.jsonl").read_text().splitlines()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
