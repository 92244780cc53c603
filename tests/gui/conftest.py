"""GUI test fixtures: offscreen Qt, settings and runs folder isolated per test, and a guard that fails any test
leaving a thread, a pool task or an active timer behind (docs/architecture.md, convention 7). Child processes are guarded for
every test, GUI or not, by ``no_child_process_left_behind`` in tests/conftest.py."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt creates the QApplication

import pytest
from PySide6.QtCore import QEvent, QSettings, QStandardPaths, QThread, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from dialogs import answer_next_dialog, dismiss_dialogs
from seen import is_training

GRACE_S = 0.5  # a pool task that is returning as the test ends gets this long before it counts as left behind


def _live(cls: type) -> list:
    """Python-held Qt objects of ``cls`` whose C++ side still exists (type(), not isinstance: torch has lazy
    modules that warn when their ``__class__`` is looked at)."""
    return [o for o in gc.get_objects() if issubclass(type(o), cls) and _alive(o)]


def _running_qthreads() -> list[QThread]:
    return [t for t in _live(QThread) if t.isRunning()]


def _active_timer_ids() -> set[int]:
    return {id(t) for t in _live(QTimer) if t.isActive()}


def _alive(obj: object) -> bool:
    try:
        obj.objectName()  # type: ignore[attr-defined]
    except RuntimeError:  # the C++ object is gone
        return False
    return True


def _active_timers(before: set[int]) -> list[str]:
    """Timers started during the test and still running: created in Python anywhere, or in C++ inside a
    window that is still alive after pytest-qt closed it."""
    timers = {id(t): t for t in _live(QTimer) if t.isActive() and id(t) not in before}
    for widget in QApplication.topLevelWidgets():
        if _alive(widget):
            timers.update({id(t): t for t in widget.findChildren(QTimer) if t.isActive() and id(t) not in before})
    return [f"{type(t.parent()).__name__}.{t.objectName() or 'QTimer'} ({t.interval()} ms)"
            for t in timers.values()]


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    return True


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch, qapp):
    """No test reads or writes the user's settings, data or runs: everything lives under ``tmp_path``."""
    QStandardPaths.setTestModeEnabled(True)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(fmt, scope, str(tmp_path / "settings"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RESNET_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the default CIFAR folder is the test's own
    monkeypatch.delenv("RESNET_EXPLORER_DATA", raising=False)
    yield


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """A settings file of this test only."""
    return QSettings(str(tmp_path / "explorer.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    path = tmp_path / "runs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def nothing_left_behind(qapp):
    """Fail the test if it leaves a running thread, pool task or active timer behind.

    It runs after pytest-qt has closed the test's widgets, so a widget that keeps a timer running after it is
    closed fails here."""
    threads_before = set(threading.enumerate())
    timers_before = _active_timer_ids()
    yield
    pool = QThreadPool.globalInstance()
    problems = []
    if not _wait(lambda: pool.activeThreadCount() == 0, GRACE_S):
        problems.append(f"{pool.activeThreadCount()} thread-pool task(s) still running")
        pool.waitForDone(30_000)  # so the next test starts clean
    qthreads = _running_qthreads()
    if qthreads:
        problems.append(f"running QThread(s): {', '.join(type(t).__name__ for t in qthreads)}")
        for thread in qthreads:
            thread.wait(30_000)
    threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    if threads:
        problems.append(f"running Python thread(s): {', '.join(t.name for t in threads)}")
    timers = _active_timers(timers_before)
    if timers:
        problems.append(f"active timer(s): {', '.join(sorted(set(timers)))}")
    for widget in QApplication.topLevelWidgets():  # the next test starts without this one's windows
        widget.close()
        widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # deleted now, not in the next test
    if problems:
        pytest.fail("left behind by the test: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def window(qtbot, settings, runs_dir):
    """The main window on this test's settings and runs folder, shown at 1280 × 800; closed after the test,
    stopping a run it left training."""
    from explorer.gui.main_window import MainWindow

    win = MainWindow(settings, runs_dir)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    yield win
    if win.isVisible():
        if is_training(win):
            answer_next_dialog("Stop and quit")
        else:
            dismiss_dialogs()  # a question a failed test left open would hold the teardown for ever
        win.close()


@pytest.fixture
def live_run(runs_dir):
    """A run folder held by a live "trainer" (a process holding its lock, as a trainer does; no torch)."""
    from run_writer import hold, write_run

    run = write_run(runs_dir, state="running", name="live")
    holder = hold(run)
    yield run, holder
    if holder.poll() is None:
        holder.kill()
    holder.wait()


@pytest.fixture(scope="session")
def trained_once(tmp_path_factory) -> Path:
    """One tiny finished run, trained once for the whole session by the real trainer (``python -m explorer
    train``, as the app starts it): plain-8 and ResNet-8, 30 iterations on 160 synthetic images (few images: the
    analyses run over them all), checkpoints at 0, 15, 22 and 30. Tests that need a trained run copy it
    (:func:`trained_run`) instead of training their own."""
    import subprocess
    import sys

    runs = tmp_path_factory.mktemp("trained-once")
    subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "synthetic", "--synthetic-size", "160",
                    "--depths", "8", "--compare", "both", "--iterations", "30", "--batch-size", "16",
                    "--precision", "fp32", "--runs-dir", str(runs), "--name", "tiny"],
                   check=True, capture_output=True, timeout=600)
    [run] = list(runs.iterdir())
    return run


@pytest.fixture
def trained_run(trained_once, runs_dir) -> Path:
    """This test's own copy of the session's trained run, in its runs folder."""
    import shutil

    return Path(shutil.copytree(trained_once, runs_dir / trained_once.name))
