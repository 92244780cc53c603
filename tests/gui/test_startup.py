"""Start-up in a fresh interpreter: the window shows before torch is imported, and the app exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SHOW_WINDOW = textwrap.dedent(
    """
    import sys, threading, time
    importers = []  # the thread that first imports torch: never the GUI thread


    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" and not importers:
                importers.append(threading.current_thread() is threading.main_thread())
            return None


    sys.meta_path.insert(0, Watch())
    from explorer.gui.app import make_application, make_window
    app = make_application([])
    window = make_window()
    window.show()
    app.processEvents()
    print("shown:", window.isVisible(), flush=True)
    deadline = time.monotonic() + 60
    while window.layer_table.summary is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    print("summary:", window.layer_table.summary is not None, flush=True)
    print("torch after summary:", "torch" in sys.modules, flush=True)
    print("torch imported on the GUI thread:", importers, flush=True)
    window.close()
    """
)

RUN_APP = textwrap.dedent(
    """
    import gc, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from explorer.gui.app import make_application, run_app
    from explorer.gui.main_window import MainWindow

    app = make_application([])
    frozen = []

    def check():
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        frozen.append(gc.get_freeze_count())
        print("visible:", window.isVisible(), "frozen at start:", frozen[0] > 0, flush=True)
        window.summaries.computed.connect(lambda summary: QTimer.singleShot(0, close))

    def close():
        frozen.append(gc.get_freeze_count())
        print("frozen again after torch:", frozen[1] > frozen[0], flush=True)
        for window in QApplication.topLevelWidgets():
            window.close()

    QTimer.singleShot(0, check)
    print("exit code:", run_app([]), flush=True)
    """
)


def run_python(code: str, tmp_path) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), RESNET_EXPLORER_RUNS=str(tmp_path / "runs"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_window_shows_before_torch_is_imported(tmp_path):
    out = run_python(SHOW_WINDOW, tmp_path)
    assert "shown: True" in out and "summary: True" in out
    assert "torch after summary: True" in out
    # The worker imported it, off the GUI thread (whether it had begun by the time the window showed depends on
    # how busy the cores are; the GUI thread never waits for it).
    assert "torch imported on the GUI thread: [False]" in out


def test_run_app_freezes_the_start_up_objects_and_exits_cleanly(tmp_path):
    out = run_python(RUN_APP, tmp_path)
    assert "visible: True frozen at start: True" in out
    assert "frozen again after torch: True" in out
    assert "exit code: 0" in out
    assert (tmp_path / "config" / "resnet-explorer").is_dir()  # QSettings went where XDG says, not to ~


def test_no_display_is_one_sentence_not_a_qt_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "explorer"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("resnet-explorer: no display to open the app on")
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr
