"""How long the GUI thread stalls when the Architecture tab switches to ResNet-1202, and how much of it is the diagram.

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python tests/benchmarks/diagram_stall.py

The real main window (shown, ``gc.freeze()`` after start-up and after the first summary, as run_app does) goes through the steps below as a person would
(the panel's network, a click on a fold); a 5 ms QTimer probe measures how late each tick fires until the table and
the diagram show the result, and a watchdog samples the GUI thread's stack during stalls over 30 ms
(ui_responsiveness.Watchdog). Then each layout the diagram received is handed to the view again and painted
whole, timed alone: the diagram's own share of the GUI thread. Baseline, side by side in the same process: the
switch to ResNet-56, which the diagram draws unfolded. Target: no stall over 50 ms.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.gui.app import make_application  # noqa: E402
from explorer.gui.main_window import MainWindow  # noqa: E402
from explorer.config.model import ModelConfig  # noqa: E402
from ui_responsiveness import Watchdog  # noqa: E402
from machine import cpu_model  # noqa: E402

PROBE_MS = 5
SETTLE_S = 0.3  # probe ticks counted after both views are done


def settled(window: MainWindow, config: ModelConfig, folded: tuple[str, ...] | None) -> bool:
    summary = window.layer_table.summary
    return (summary is not None and summary.config == config and not window.summaries.busy
            and window.diagram.shows(config) and (folded is None or window.diagram.view.layout_shown.folded == folded))


def measure(app: QApplication, window: MainWindow, act, config: ModelConfig, folded=None) -> dict:
    """Do ``act()``; until the window has settled, how late the probe's ticks came, and what ran meanwhile."""
    watchdog = Watchdog()
    gaps: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setInterval(PROBE_MS)

    def on_probe() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6 - PROBE_MS)
        clock.restart()
        watchdog.tick()

    probe.timeout.connect(on_probe)
    clock.start()
    probe.start()
    watchdog.start()
    started = time.perf_counter()
    act()
    done = None
    while time.perf_counter() - started < 60:
        app.processEvents()
        if done is None and settled(window, config, folded):
            done = time.perf_counter()
        if done is not None and time.perf_counter() - done > SETTLE_S:
            break
        time.sleep(0.001)
    probe.stop()
    watchdog.stop()
    layout = window.diagram.view.layout_shown
    view = window.diagram.view
    timer = time.perf_counter()
    view.set_layout(layout)
    view.viewport().repaint()
    diagram_ms = 1000 * (time.perf_counter() - timer)
    return {"longest": max(gaps, default=0.0), "over_50": sum(g > 50 for g in gaps), "ticks": len(gaps),
            "seconds": (done or time.perf_counter()) - started, "diagram_ms": diagram_ms,
            "boxes": len(layout.boxes), "stalls": watchdog.stalls, "gc": max(watchdog.gc_ms, default=0)}


def main() -> int:
    app = make_application([])
    with tempfile.TemporaryDirectory(prefix="explorer-diagram-stall-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, Path(tmp) / "runs")
        window.resize(1920, 1080)
        window.show()
        gc.freeze()  # as run_app does, and once more after the first summary (torch imported by then)
        deadline = time.monotonic() + 60
        while not settled(window, ModelConfig(), None) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        gc.freeze()
        panel, view = window.architecture, window.diagram.view

        def fold(stage: str):
            return lambda: view.stage_clicked.emit(stage)  # what a click on the fold's box emits

        resnet = ModelConfig(depth=1202)
        steps = [
            ("ResNet-20 -> ResNet-56 (baseline)", lambda: panel.set_config(ModelConfig(depth=56)),
             ModelConfig(depth=56), ()),
            ("ResNet-56 -> ResNet-1202 (folded)", lambda: panel.set_config(resnet), resnet,
             ("layer1", "layer2", "layer3")),
            ("open layer2 of ResNet-1202 (400 boxes)", fold("layer2"), resnet, ("layer1", "layer3")),
            ("open layer1 and layer3 too (1,200 boxes)", lambda: (fold("layer1")(), fold("layer3")()), resnet, ()),
            ("fold all three again", lambda: [fold(s)() for s in ("layer1", "layer2", "layer3")], resnet,
             ("layer1", "layer2", "layer3")),
            ("open layer2 again", fold("layer2"), resnet, ("layer1", "layer3")),
            ("fold it again", fold("layer2"), resnet, ("layer1", "layer2", "layer3")),
            ("open layer2 a third time", fold("layer2"), resnet, ("layer1", "layer3")),
            ("ResNet-1202 -> ResNet-20", lambda: panel.set_config(ModelConfig()), ModelConfig(), ()),
            ("ResNet-20 -> ResNet-1202 again (twin shown)", lambda: (window.diagram.twin.setChecked(True),
                                                                     panel.set_config(resnet)), resnet, None),
        ]
        results = [(name, measure(app, window, act, config, folded)) for name, act, config, folded in steps]
        window.close()
    print(f"{cpu_model()}, {QApplication.platformName()} platform, {PROBE_MS} ms probe; summaries in float32 "
          "(no arithmetic on the GUI thread)")
    print(f"{'step':<46} {'longest stall':>13} {'>50 ms':>7} {'settled in':>10} {'diagram':>9} {'boxes':>6}")
    baseline = results[0][1]["longest"] or 1.0
    for name, r in results:
        print(f"{name:<46} {r['longest']:10.1f} ms {r['over_50']:>7} {1000 * r['seconds']:7.0f} ms "
              f"{r['diagram_ms']:6.1f} ms {r['boxes']:>6} gc {r['gc']:.0f} ms   ({r['longest'] / baseline:.2f}x the baseline's stall)")
    print("'diagram': the view's own GUI-thread time for that layout (set_layout and a full repaint), timed alone.")
    for name, r in results:
        for ms, where in sorted(r["stalls"], key=lambda s: -s[0])[:3]:
            print(f"  {name}: stall {ms:.0f} ms in {where.most_common(1)[0][0] if where else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
