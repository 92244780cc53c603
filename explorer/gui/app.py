"""Start-up: the QApplication and its identity (name, version, icon, the desktop entry it belongs to), and the main
window, shown before torch is loaded. Its style and palette are the theme's (:mod:`explorer.gui.widgets.theme`,
applied by the window from the saved choice): the platform's own unless Light or Dark was chosen.

torch takes seconds to import; the window must not wait for it. Only the summary worker imports it, on the
thread pool, after the window is on screen. Once the start-up imports are done, ``gc.freeze()`` moves the
hundreds of thousands of objects they created out of the collector's reach: a full collection over them stalls
the event loop for 140–210 ms (docs/architecture.md, "Measured").
"""

from __future__ import annotations

import gc
import os
import sys
from importlib import resources

from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from explorer import __version__
from explorer.gui.main_window import MainWindow
from explorer.runs.folder import default_runs_dir

APP_NAME = "ResNet Explorer"
ORGANIZATION = "resnet-explorer"
DESKTOP_FILE = "resnet-explorer"  # explorer/resources/resnet-explorer.desktop: docks match the window to it
ICON = "resnet-explorer.svg"


def app_icon() -> QIcon:
    """Our icon (a residual block and its shortcut), drawn as SVG: sharp at every size a desktop asks for."""
    return QIcon(str(resources.files("explorer.resources").joinpath(ICON)))


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (the running one, if any) with the names QSettings files are kept under, its version,
    icon and desktop entry."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            # Fractional scales (125 %, 150 %) as they are, rather than rounded to blurry or tiny.
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(sys.argv[:1] if argv is None else argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
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
