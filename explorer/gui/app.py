"""Start-up: the QApplication, its style and identity, and the main window, shown before torch is loaded.

torch takes seconds to import; the window must not wait for it. Only the summary worker imports it, on the
thread pool, after the window is on screen. Once the start-up imports are done, ``gc.freeze()`` moves the
hundreds of thousands of objects they created out of the collector's reach: a full collection over them stalls
the event loop for 140–210 ms (docs/architecture.md, "Measured").
"""

from __future__ import annotations

import gc
import os
import sys

from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from explorer.gui.main_window import MainWindow
from explorer.runs.folder import default_runs_dir

APP_NAME = "ResNet Explorer"
ORGANIZATION = "resnet-explorer"


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the names QSettings files are kept under, and a clean, platform-neutral style."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        # Fractional scales (125 %, 150 %) as they are, rather than rounded to blurry or tiny.
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(sys.argv[:1] if argv is None else argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setStyle("Fusion")
    return app


def make_window() -> MainWindow:
    """The main window with the user's settings and runs folder."""
    return MainWindow(QSettings(), default_runs_dir())


def _freeze_once_torch_is_loaded(window: MainWindow) -> None:
    """Freeze again after the first summary: by then the worker has imported torch into this process."""

    def on_first_summary() -> None:
        window.summaries.computed.disconnect(on_first_summary)
        gc.freeze()

    window.summaries.computed.connect(on_first_summary)


def missing_display() -> str | None:
    """On Linux without an X or Wayland display Qt aborts the process; say what to do instead."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") \
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("resnet-explorer: no display to open the app on (DISPLAY and WAYLAND_DISPLAY are unset); run it on "
                "a desktop, under xvfb-run, or use the command line: resnet-explorer --help")
    return None


def run_app(argv: list[str] | None = None) -> int:
    """Show the main window and run the event loop; returns the exit code."""
    problem = missing_display()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = make_application(argv)
    window = make_window()
    window.show()
    gc.freeze()
    _freeze_once_torch_is_loaded(window)
    code = app.exec()
    # A summary still running on the pool must not meet an interpreter that is shutting down.
    QThreadPool.globalInstance().waitForDone()
    return code
