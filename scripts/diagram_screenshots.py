"""Make docs/diagram-*.png: the Architecture tab's diagram as a person sets it up, grabbed from the real window.

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python scripts/diagram_screenshots.py --out docs

Four pictures: ResNet-34 beside plain-34 and VGG-19 (the paper's Figure 3), a bottleneck ResNet-50 (Figure 5's
block), ResNet-1202 with its stages folded, and the selection shared with the layer table (a box clicked, its
row selected, another box under the pointer with its readout). Each is set up through the window's widgets and
mouse clicks, with its own settings file. Re-run it after every visual change to the diagram, and look at them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow
from explorer.config.model import ModelConfig


def wait(app: QApplication, condition, seconds: float = 60, what: str = "the diagram was not drawn") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} within {seconds:.0f} s")
        app.processEvents()
        time.sleep(0.01)
    for _ in range(10):
        app.processEvents()
        time.sleep(0.01)


def show(app: QApplication, window: MainWindow, config: ModelConfig, twin: bool, vgg: bool,
         diagram_width: int) -> None:
    window.diagram.twin.setChecked(twin)
    window.diagram.vgg.setChecked(vgg)
    window.architecture.set_config(config)
    columns = 1 + twin + (vgg and config.family == "imagenet")

    def drawn() -> bool:
        summary = window.layer_table.summary
        return (summary is not None and summary.config == config and not window.summaries.busy
                and window.diagram.shows(config, columns))
    wait(app, drawn)
    sizes = window._splitter.sizes()  # noqa: SLF001 - the pane widths, as a person drags them
    window._splitter.setSizes([sizes[0], diagram_width, sum(sizes) - sizes[0] - diagram_width])  # noqa: SLF001
    app.processEvents()
    window.diagram.view.fit_width()
    window.diagram.view.verticalScrollBar().setValue(0)
    app.processEvents()


def point_of(view, row: str):
    box = next(b for b in view.layout_shown.boxes if b.row == row and b.column == view.layout_shown.main)
    view.centerOn(QPointF(box.x + box.width / 2, box.y + 160))
    return view.mapFromScene(QPointF(box.x + 30, box.y + box.height / 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder of the PNGs (default docs)")
    parser.add_argument("--size", default="1920x1080", help="window size, WIDTHxHEIGHT (default 1920x1080)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    app = make_application([])
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="explorer-diagram-shots-") as tmp:
        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat),
                            Path(tmp) / "runs")
        window.resize(width, height)
        window.show()
        view = window.diagram.view
        shots = [
            ("diagram-resnet34-plain34-vgg19.png", ModelConfig(family="imagenet", depth=34, shortcut="A"), True, True,
             1000),
            ("diagram-resnet50-bottleneck.png", ModelConfig(family="imagenet", depth=50), False, False, 560),
            ("diagram-resnet1202-folded.png", ModelConfig(depth=1202), True, False, 760),
        ]
        for name, config, twin, vgg, pane in shots:
            show(app, window, config, twin, vgg, pane)
            window.grab().save(str(args.out / name))
            written.append(name)

        show(app, window, ModelConfig(depth=56, shortcut="B"), False, False, 560)
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, "layer2.0.conv1"))
        app.processEvents()
        target = point_of(view, "layer2.1.conv2")
        for step in range(5):  # an X server may drop a synthetic move that lands where the pointer already is
            QTest.mouseMove(view.viewport(), target + QPoint(step, 0))
            app.processEvents()
        wait(app, view.readout.isVisible, 10, "the readout did not show")
        window.grab().save(str(args.out / "diagram-selection-shared.png"))
        written.append("diagram-selection-shared.png")
        window.close()
    print(f"wrote {', '.join(written)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
