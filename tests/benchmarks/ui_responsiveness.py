"""Is the app responsive while it trains, and does the GUI slow the training child down?

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python tests/benchmarks/ui_responsiveness.py --seconds 60

1. The real main window (as ``resnet-explorer`` starts it: shown, then ``gc.freeze()``) on the Training tab
   starts a synthetic-data run with the Start button. Once the first training line is drawn, a 10 ms QTimer
   probe measures for ``--seconds`` how late each tick fires (an event-loop stall) and the curves count the
   redraws that changed something (frame rate of curve updates). Then the run is stopped.
2. The same config is trained by ``python -m explorer train --resume`` from a shell, with no GUI, for as long.
3. Reported: the longest stall, the 99th percentile, stalls over 50 ms, curve frames per second, and the
   child's median images/s under the GUI against the CLI run (target: ≥ 95%). Ratios, not absolutes: both
   runs share the machine with whatever else runs on it, so run it when it is quiet.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer

from explorer.config import RunConfig
from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow
from explorer.runs import RunDir

PROBE_MS = 10


def median_images_per_sec(run: Path, after: float) -> float:
    events, _ = RunDir(run).read_events()
    rates = [e["images_per_sec"] for e in events if e.get("type") == "train" and e.get("time", 0) >= after
             and isinstance(e.get("images_per_sec"), (int, float))]
    return statistics.median(rates) if rates else 0.0


def measure_gui(args: argparse.Namespace, tmp: Path) -> dict:
    app = make_application([])
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, tmp / "runs")
    window.resize(1280, 800)
    window.show()
    gc.freeze()  # as run_app does
    window.summaries.computed.connect(lambda *_: gc.freeze())
    window.tabs.setCurrentWidget(window.training)
    page = window.training
    page.dataset.setCurrentIndex(page.dataset.findData("synthetic"))
    for depth, box in page.depth_checks.items():
        box.setChecked(depth in args.depth_list)
    page.recipe.setCurrentIndex(page.recipe.count() - 1)  # Custom
    page.iterations.setValue(args.iterations)
    page.batch_size.setValue(args.batch_size)
    page.run_name.setText("responsiveness")
    page.start_action.trigger()
    if not page.is_training():
        raise SystemExit(f"the run did not start: {page.validation.text()}")

    gaps: list[float] = []
    clock = QElapsedTimer()
    state = {"measuring": False, "started": 0.0, "frames0": 0, "wall0": 0.0}
    probe = QTimer()
    probe.setInterval(PROBE_MS)
    # A loop of our own: QApplication.quit() would close the window, which asks whether to stop the training.
    loop = QEventLoop()

    def on_probe() -> None:
        elapsed = clock.nsecsElapsed() / 1e6
        clock.restart()
        if not state["measuring"]:
            if page.curves.frames > 0:  # training is in progress and its first points are drawn
                state.update(measuring=True, started=time.monotonic(), frames0=page.curves.frames,
                             wall0=time.time())
                print(f"training in progress; measuring for {args.seconds:.0f} s", file=sys.stderr, flush=True)
            return
        gaps.append(elapsed - PROBE_MS)
        if time.monotonic() - state["started"] >= args.seconds:
            probe.stop()
            loop.quit()

    probe.timeout.connect(on_probe)
    clock.start()
    probe.start()
    loop.exec()
    print("measured; stopping the run", file=sys.stderr, flush=True)
    frames = page.curves.frames - state["frames0"]
    run_path = page.process.run_path
    page.stop_action.trigger()
    page.process.wait(120)
    window.close()
    gaps.sort()
    return {
        "run": run_path, "wall0": state["wall0"],
        "longest_stall_ms": gaps[-1] if gaps else float("nan"),
        "p99_stall_ms": gaps[int(0.99 * (len(gaps) - 1))] if gaps else float("nan"),
        "stalls_over_50ms": sum(g > 50 for g in gaps),
        "ticks": len(gaps),
        "frames_per_sec": frames / args.seconds,
        "images_per_sec": median_images_per_sec(run_path, state["wall0"]),
    }


def measure_cli(args: argparse.Namespace, gui_run: Path, tmp: Path) -> float:
    """The same config, trained from the command line with no GUI, for as long."""
    config = RunConfig.from_json((gui_run / "config.json").read_text())
    run = RunDir.create(tmp / "cli-runs", config)
    started = time.time()
    child = subprocess.Popen([sys.executable, "-m", "explorer", "train", "--resume", str(run.path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.time() - started < args.seconds + 8 and child.poll() is None:  # + the torch import
            time.sleep(0.5)
    finally:
        child.terminate()
        child.wait(120)
    return median_images_per_sec(run.path, started + 8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring time of each phase (60)")
    parser.add_argument("--depths", default="20", help="depths trained, plain and residual (20)")
    parser.add_argument("--iterations", type=int, default=100000, help="more than the time allows (100000)")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    args.depth_list = [int(d) for d in args.depths.split(",")]
    with tempfile.TemporaryDirectory(prefix="explorer-responsiveness-") as tmp:
        gui = measure_gui(args, Path(tmp))
        cli_ips = measure_cli(args, gui["run"], Path(tmp))
    print(f"event loop, {gui['ticks']} probe ticks of {PROBE_MS} ms over {args.seconds:.0f} s while training:")
    print(f"  longest stall {gui['longest_stall_ms']:.1f} ms, 99th percentile {gui['p99_stall_ms']:.1f} ms, "
          f"{gui['stalls_over_50ms']} stalls over 50 ms (target: none)")
    print(f"  curve updates: {gui['frames_per_sec']:.1f} frames/s")
    ratio = gui["images_per_sec"] / cli_ips if cli_ips else float("nan")
    print(f"child images/s: {gui['images_per_sec']:.1f} under the GUI, {cli_ips:.1f} from the CLI: "
          f"{100 * ratio:.1f}% (target: at least 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
