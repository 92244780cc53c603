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
4. What ran during each stall: a watchdog thread samples the GUI thread's Python stack while it is late, and
   garbage collections are timed through ``gc.callbacks``; the stalls over 30 ms are listed with the frames
   the GUI thread was in.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer

from explorer.config.run import RunConfig
from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow
from explorer.runs.folder import RunDir
from tests.gui.seen import fill, is_training, shown_text

PROBE_MS = 10
REPORT_MS = 30


class Watchdog(threading.Thread):
    """Samples the GUI thread's stack every 5 ms while the event loop is late; counts what it was doing."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.gui = threading.main_thread().ident
        self.last_tick = time.monotonic()
        self.stalls: list[tuple[float, collections.Counter]] = []
        self._current: collections.Counter | None = None
        self._since = 0.0
        self.running = True
        self.gc_ms: list[float] = []
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_ms.append(1000 * (time.perf_counter() - self._gc_start))

    def tick(self) -> None:
        now = time.monotonic()
        if self._current is not None and (now - self._since) * 1000 > REPORT_MS:
            self.stalls.append(((now - self._since) * 1000, self._current))
        self._current = None
        self.last_tick = now

    def run(self) -> None:
        while self.running:
            time.sleep(0.005)
            late = (time.monotonic() - self.last_tick) * 1000
            if late < PROBE_MS * 2:
                continue
            frame = sys._current_frames().get(self.gui)
            if frame is None:
                continue
            current = self._current  # the GUI thread's tick() may reset it at any moment: one read
            if current is None:
                current = self._current = collections.Counter()
                self._since = self.last_tick
            where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)[-4:]]
            current[" < ".join(reversed(where))] += 1

    def stop(self) -> None:
        self.running = False
        gc.callbacks.remove(self._on_gc)


def median_images_per_sec(run: Path, after: float) -> float:
    events, _ = RunDir(run).read_events()
    rates = [e["images_per_sec"] for e in events if e.get("type") == "train" and e.get("time", 0) >= after
             and isinstance(e.get("images_per_sec"), (int, float))]
    return statistics.median(rates) if rates else 0.0


def measure_gui(args: argparse.Namespace, tmp: Path) -> dict:
    app = make_application([])  # noqa: F841 - held for the measurement
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, tmp / "runs")
    window.resize(1280, 800)
    window.show()
    gc.freeze()  # as run_app does
    window.summaries.computed.connect(lambda *_: gc.freeze())
    window.tabs.setCurrentWidget(window.training)
    page = window.training
    form = page.form
    fill(form, "synthetic", "both", args.depth_list, args.iterations, args.batch_size, name="responsiveness")
    window.action("startRun").trigger()
    deadline = time.monotonic() + 60  # Start's checks (data, memory estimate) come before the child
    while not is_training(window) and time.monotonic() < deadline and not shown_text(form, "formProblem"):
        QApplication.processEvents()
        time.sleep(0.02)
    if not is_training(window):
        raise SystemExit(f"the run did not start: {shown_text(form, 'formProblem') or 'no answer in 60 s'}")
    curves = page.view.curves
    watchdog = Watchdog()

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
        watchdog.tick()
        if not state["measuring"]:
            if curves.frames > 0:  # training is in progress and its first points are drawn
                state.update(measuring=True, started=time.monotonic(), frames0=curves.frames,
                             wall0=time.time())
                watchdog.start()
                watchdog.gc_ms.clear()
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
    watchdog.stop()
    print("measured; stopping the run", file=sys.stderr, flush=True)
    frames = curves.frames - state["frames0"]
    run_path = page.view.path
    trainer = window.trainers.controller.trainer(run_path)
    window.action("stopRun").trigger()
    trainer.wait(120)
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
        "stalls": watchdog.stalls, "gc_ms": sorted(watchdog.gc_ms), "gaps": gaps,
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
    parser.add_argument("--iterations", type=int, default=3000,
                        help="the run's length; the log interval derived from it (15 at 3000) sets how often curve "
                        "points arrive (3000)")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    args.depth_list = [int(d) for d in args.depths.split(",")]
    with tempfile.TemporaryDirectory(prefix="explorer-responsiveness-") as tmp:
        gui = measure_gui(args, Path(tmp))
        cli_ips = measure_cli(args, gui["run"], Path(tmp))
    print(f"event loop, {gui['ticks']} probe ticks of {PROBE_MS} ms over {args.seconds:.0f} s while training:")
    print(f"  longest stall {gui['longest_stall_ms']:.1f} ms, 99th percentile {gui['p99_stall_ms']:.1f} ms, "
          f"{gui['stalls_over_50ms']} stalls over 50 ms (target: none)")
    gaps = gui["gaps"]
    marks = ", ".join(f"p{q:g} {gaps[min(len(gaps) - 1, int(q / 100 * len(gaps)))]:.1f}" for q in (50, 90, 99, 99.9))
    print(f"  distribution of the lateness of a {PROBE_MS} ms tick (ms): {marks}, max {gaps[-1]:.1f}; "
          f"over 20 ms: {sum(g > 20 for g in gaps)}, over 30 ms: {sum(g > 30 for g in gaps)}")
    print(f"  curve updates: {gui['frames_per_sec']:.1f} frames/s")
    print(f"  garbage collections: {len(gui['gc_ms'])}, longest {max(gui['gc_ms'], default=0):.1f} ms")
    for ms, where in sorted(gui["stalls"], key=lambda s: -s[0])[:8]:
        print(f"  stall {ms:.0f} ms, the GUI thread was in: {where.most_common(1)[0][0] if where else '?'}")
    ratio = gui["images_per_sec"] / cli_ips if cli_ips else float("nan")
    print(f"child images/s: {gui['images_per_sec']:.1f} under the GUI, {cli_ips:.1f} from the CLI: "
          f"{100 * ratio:.1f}% (target: at least 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
