"""Make docs/theme-{light,dark}-{figure6,analysis}.png: the real window, on a desktop with a window manager, in the
Light and the Dark theme (chosen through View → Theme, as a person does): Figure 6 of a finished run on the
Training tab, and its loss landscape on the Analysis tab.

    xvfb-run -s "-screen 0 1600x1000x24" sh -c 'openbox & sleep 1; \
        .venv/bin/python scripts/theme_screenshots.py --run RUN_DIR --out docs'

RUN_DIR is a finished run with its landscape analysed, e.g. (a few minutes on a CPU):

    resnet-explorer train --dataset synthetic --synthetic-size 4000 --depths 8,20 --batch-size 32 \
        --iterations 400 --eval-every 40 --log-every 10 --precision fp32 --name figure6 --runs-dir /tmp/runs
    resnet-explorer analyze RUN_DIR --what landscape --points 15 --subset 300
    resnet-explorer analyze RUN_DIR --what landscape --two-d --points 9 --subset 300

Each picture is the window with its frame, grabbed from the screen. Re-run it after every visual change, and look
at them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from diagram_screenshots import wait
from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow


def grab(app: QApplication, window: MainWindow, path: Path) -> None:
    for _ in range(25):  # the window manager's frame and the last repaints
        app.processEvents()
        time.sleep(0.02)
    frame = window.frameGeometry()
    image = app.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    if not image.save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path} ({image.width()}x{image.height()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run with its landscape analysed")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    app = make_application([])
    with tempfile.TemporaryDirectory(prefix="explorer-theme-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, args.run.parent)
        window.resize(width, height)
        window.move(40, 40)
        window.show()
        for theme in ("light", "dark"):
            window.action(f"theme{theme.title()}").trigger()
            window.tabs.setCurrentWidget(window.training)
            window.training.open_run(args.run)
            curves = window.training.view.curves
            wait(app, lambda: "main" in curves.keys() and all(n.test.n > 3 for n in curves.series().networks.values()),
                 what="Figure 6 was not drawn")
            curves.flush()
            grab(app, window, args.out / f"theme-{theme}-figure6.png")
            window.tabs.setCurrentWidget(window.analysis)
            window.analysis.views.setCurrentWidget(window.analysis.landscape)
            wait(app, lambda: window.analysis.landscape.rows()[1], what="the landscape was not shown")
            grab(app, window, args.out / f"theme-{theme}-analysis.png")
        window.training.shutdown(keep_running=False)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
