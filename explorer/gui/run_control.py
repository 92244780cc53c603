"""The trainer of a run, as the app controls it: a child it started, or a live run it adopted.

A child is ``python -m explorer train --run-dir DIR`` (a fresh run the app prepared) or ``--resume DIR``, a
``subprocess.Popen`` apart from the app (:func:`explorer.system.host.start_detached`) rather than a QProcess: a
QProcess kills its process when it is destroyed, so a person could not close the app and keep a long run going,
and PySide6's ``QProcess.startDetached`` does not return the pid. A run the app did not start - one left
training in the background by an earlier window, or started from the command line - is *adopted*: its
trainer's pid comes from the run's lock, Stop asks it through the run's stop request like the app's own child
(on every system; no signal), and its end is seen when the lock goes.
Everything runs on the GUI thread on a timer; how a run ended is read from ``status.json`` (the trainer alone
writes it) and ``stderr.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from explorer.system import host
from explorer.system.files import NO_LINKS, open_regular, open_regular_fd
from explorer.system.launch import CHILD_CWD, child_argv
from explorer.runs.folder import RunDir, RunDirError, os_reason

POLL_MS = 150
STOP_GRACE_S = 120.0  # a checkpoint of several big nets can take a while; kill only after this
STDERR_TAIL_LINES = 12
LIVE = ("starting", "running", "stopping")


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of the child's stderr, where a traceback, a CUDA OOM or an import error ends up."""
    try:
        with open_regular(path, links=False) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class RunControl(QObject):
    """``state_changed`` goes through "starting" (the trainer is loading), "running", "stopping" and ends in
    "finished", "cancelled" or "failed"; ``ended(state, message)`` is emitted once, after the trainer is gone.
    The message is one sentence, then (after a blank line) the tail of ``stderr.log`` when that says more."""

    state_changed = Signal(str)
    ended = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._child: subprocess.Popen | None = None
        self._pid: int | None = None
        self._run: RunDir | None = None
        self._state = "idle"
        self._stop_sent_at: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_tick)

    @property
    def state(self) -> str:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def run_path(self) -> Path | None:
        return self._run.path if self._run is not None else None

    @property
    def adopted(self) -> bool:
        return self._pid is not None and self._child is None

    def is_live(self) -> bool:
        return self._state in LIVE

    def start(self, run_dir: Path, resume: bool, environment: dict[str, str] | None = None) -> str | None:
        """Start the trainer of ``run_dir``; returns a sentence instead when it cannot be started: the trainer's
        own refusals of a run folder with links, or of a resume that would lose the run's record, are said here,
        before a child is started (its stderr.log is opened here, never through a link)."""
        if self.is_live():
            return f"{self.run_path.name} is still training; stop it first"
        run = RunDir(Path(run_dir))
        try:
            run.check_resumable() if resume else run.check_own()
        except RunDirError as exc:
            return str(exc)
        try:
            stderr_fd = open_regular_fd(run.stderr_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_LINKS)
        except OSError as exc:
            return f"cannot write {run.stderr_path}: {os_reason(exc)}"
        try:
            with os.fdopen(stderr_fd, "ab") as stderr:
                child = host.start_detached(
                    child_argv("train", "--resume" if resume else "--run-dir", str(run.path.resolve())),
                    cwd=CHILD_CWD, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                    env={**os.environ, **(environment or {})})  # it may outlive the app, at a lower priority
        except OSError as exc:
            return (f"could not start the trainer ({sys.executable} -m explorer train): {exc.strerror or exc}; "
                    "check the Python environment and the run folder")
        self._child, self._pid, self._run = child, child.pid, run
        self._begin("starting")
        return None

    def adopt(self, run_dir: Path) -> bool:
        """Take control of the trainer that holds ``run_dir`` now; False when none does."""
        if self.is_live():
            return self.run_path == Path(run_dir)
        run = RunDir(Path(run_dir))
        pid = run.trainer_pid()
        if pid is None or pid <= 0:
            return False
        self._child, self._pid, self._run = None, pid, run
        self._begin("running")
        return True

    def _begin(self, state: str) -> None:
        self._stop_sent_at = None
        self._set_state(state)
        self._timer.start()

    def stop(self) -> None:
        """Ask the trainer to checkpoint and exit (the run's stop request, which it sees at its next step); it is
        killed only after a generous grace period."""
        if not self.is_live() or self._pid is None or self._state == "stopping":
            return
        try:
            host.request_stop(self._run.stop_path, self._pid)  # the trainer checkpoints and exits "cancelled"
        except OSError:
            pass  # a folder that takes no file: the grace period ends in a kill, said as such
        self._stop_sent_at = time.monotonic()
        self._set_state("stopping")

    def wait(self, timeout_s: float) -> bool:
        """Block until the trainer has exited (used only when the app closes); True when it did."""
        deadline = time.monotonic() + timeout_s
        while self.is_live() and time.monotonic() < deadline:
            if self._child is not None:
                try:
                    self._child.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return False
            else:
                time.sleep(0.05)
            self._on_tick()
        return not self.is_live()

    def kill(self) -> None:
        if self._pid is not None:
            host.kill(self._pid)

    def detach(self) -> None:
        """Stop watching and leave the trainer running (the person chose to keep it when closing the app)."""
        self._timer.stop()
        self._child = None
        self._pid = None
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _on_tick(self) -> None:
        if self._pid is None or self._run is None:
            return
        if self._child is not None:
            code = self._child.poll()  # reaps the child when it has exited; never blocks
            gone = code is not None
        else:
            code, gone = None, self._run.trainer_pid() != self._pid
        if not gone:
            if self._state == "starting" and not self._run.status().starting:
                self._set_state("running")
            if self._stop_sent_at is not None and time.monotonic() - self._stop_sent_at > STOP_GRACE_S:
                self.kill()
            return
        self._timer.stop()
        pid, self._child, self._pid = self._pid, None, None
        state, message = self._ending(self._run.status(), pid, code)
        self._set_state(state)
        self.ended.emit(state, message)

    def _ending(self, status: dict, pid: int, code: int | None) -> tuple[str, str]:
        state = status.state
        tail = stderr_tail(self._run.stderr_path)
        if state in ("finished", "cancelled"):
            return state, status.message
        if state == "failed" and not status.died:  # the trainer's own sentence
            first = status.message or "the trainer failed"
        elif self._stop_sent_at is not None and code in (None, 0, -signal.SIGTERM):
            # Stopped before the trainer could say so (early in its start-up): a cancel, nothing recorded lost.
            return "cancelled", "stopped before training began; resume to continue"
        elif self._stop_sent_at is not None:
            first = "the trainer did not stop in time and was killed; resume to continue from the last checkpoint"
        elif "ModuleNotFoundError" in tail or "ImportError" in tail:
            first = "the trainer could not import what it needs; check the Python environment, then resume"
        elif code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            first = (f"the trainer (pid {pid}) was killed by {name}"
                     f"{' (out of memory?)' if name == 'SIGKILL' else ''}; resume to continue from the last checkpoint")
        elif code is not None:
            first = (f"the trainer (pid {pid}) exited with code {code} without finishing; resume to continue "
                     "from the last checkpoint")
        else:
            first = f"the trainer (pid {pid}) stopped without finishing; resume to continue from the last checkpoint"
        return "failed", (f"{first}\n\n{tail}" if tail and first not in tail else first)
