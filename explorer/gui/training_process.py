"""Following a run directory, and the training child that writes one.

The run directory is the single source of truth (DESIGN.md): :class:`RunFollower` tails any run folder, live
or finished, started by this app or by the CLI, by byte offset on a QTimer; reading a few new lines is cheap and
never blocks. :class:`TrainingProcess` is that follower plus the child process ``python -m explorer train
--resume RUN_DIR``. Everything here runs on the GUI thread and talks to widgets only through signals; torch is
never imported in this process.

The child is a ``subprocess.Popen`` in its own session rather than a QProcess: a QProcess kills its process when
it is destroyed, so a person could not close the app and keep a long run going, and PySide6's
``QProcess.startDetached`` does not return the pid. ``Popen.poll()`` on the timer never blocks and still tells
a clean exit from a signal; how the run ended is read from ``status.json`` and ``stderr.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from explorer.runs import RunDir

POLL_MS = 150  # ~7 Hz: new lines show up promptly; one read of an append-only file per tick
STATUS_EVERY = 6  # status.json is re-read every sixth tick (about once a second)
STOP_GRACE_S = 120.0  # a checkpoint of several big nets can take a while; kill only after this
CHILD_NICENESS = 5  # the trainer yields the CPU to the app's event loop (see start)
STDERR_TAIL_LINES = 12
TERMINAL_STATES = ("finished", "cancelled", "failed")


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of the child's stderr, where a traceback, a CUDA OOM or an import error ends up."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])



class RunFollower(QObject):
    """Tails ``metrics.jsonl`` of one run folder and watches its ``status.json``.

    ``events`` carries every new complete line, in order, as they appear (a partial last line waits for its
    newline). ``status_changed`` carries ``RunDir.status()`` whenever the state or the message changes. Once the
    run is over (a terminal state and nothing left to read) the timer stops; :meth:`poll` reads on demand.
    """

    events = Signal(list)
    status_changed = Signal(dict)

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run = RunDir(Path(path))
        self._offset = 0
        self._ticks = 0
        self._status: dict = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_tick)

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def status(self) -> dict:
        return dict(self._status)

    def start(self, keep_following: bool = False) -> None:
        """Read what is there now and follow; a finished run stops following at once unless told to keep on
        (a resumed run reads "failed" until its new child writes "running")."""
        self._keep = keep_following
        self.poll(with_status=True)
        if keep_following or self._status.get("state") not in TERMINAL_STATES:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def history(self) -> list[dict]:
        """The events already delivered (from the start of the file up to where this follower has read), for a
        view that starts showing the run midway."""
        events, _ = RunDir(self.path).read_events(0)
        with open(self.run.metrics_path, "rb") as f:
            delivered = f.read(self._offset).count(b"\n")
        return events[:delivered] if delivered < len(events) else events

    def poll(self, with_status: bool = True) -> None:
        events, self._offset = self.run.read_events(self._offset)
        if events:
            self.events.emit(events)
        if with_status:
            status = self.run.status()
            if (status.get("state"), status.get("message"), status.get("iteration")) != (
                self._status.get("state"), self._status.get("message"), self._status.get("iteration")
            ):
                self._status = status
                self.status_changed.emit(status)

    def _on_tick(self) -> None:
        self._ticks += 1
        self.poll(with_status=self._ticks % STATUS_EVERY == 0)
        if not self._keep and self._status.get("state") in TERMINAL_STATES:
            self.poll(with_status=False)  # the last lines written before the final status
            self._timer.stop()


class TrainingProcess(QObject):
    """The training child of one run folder: start, stop, and how it ended.

    ``state_changed`` goes through "starting" (torch loading, no event yet), "running", "stopping", and one of
    "finished", "cancelled", "failed". ``finished(code)`` (0 finished, 1 cancelled) or ``failed(message)``
    (one sentence plus the tail of ``stderr.log``) is emitted once, after the child is gone and every line it
    wrote has been delivered through ``event``.
    """

    event = Signal(dict)
    finished = Signal(int)
    failed = Signal(str)
    state_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._child: subprocess.Popen | None = None
        self._follower: RunFollower | None = None
        self._state = "idle"
        self._stop_sent_at: float | None = None
        self._watch = QTimer(self)
        self._watch.setInterval(POLL_MS)
        self._watch.timeout.connect(self._on_watch)

    @property
    def state(self) -> str:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def run_path(self) -> Path | None:
        return self._follower.path if self._follower else None

    def history(self) -> list[dict]:
        """Every event of the child's run delivered so far through ``event``."""
        return self._follower.history() if self._follower else []

    def is_running(self) -> bool:
        return self._state in ("starting", "running", "stopping")

    def start(self, run_dir: Path, environment: dict[str, str] | None = None) -> bool:
        """Start ``python -m explorer train --resume run_dir`` (from iteration 0 when there is no checkpoint).
        Returns False, after emitting ``failed``, when the process cannot be started."""
        if self.is_running():
            raise RuntimeError("a training child is already running; stop it first")
        run = RunDir(Path(run_dir))
        self._follower = RunFollower(run.path, self)
        self._follower.events.connect(self._on_events)
        self._stop_sent_at = None
        try:
            with open(run.stderr_path, "ab") as stderr:
                self._child = subprocess.Popen(
                    [sys.executable, "-m", "explorer", "train", "--resume", str(run.path)],
                    cwd=run.path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                    env={**os.environ, **(environment or {})},
                    start_new_session=True)  # no SIGINT/SIGHUP from the app's terminal: it may outlive the app
        except OSError as exc:
            self._set_state("failed")
            self.failed.emit(f"could not start the trainer ({sys.executable} -m explorer train): "
                             f"{exc.strerror or exc}; check the Python environment and the run folder")
            return False
        try:
            # The trainer takes every core it can; at a lower priority it still gets them all while the app is
            # idle, and the app's event loop gets a core at once when it needs a few ms (no stalls while drawing).
            os.setpriority(os.PRIO_PROCESS, self._child.pid, CHILD_NICENESS)
        except (AttributeError, OSError):
            pass  # not on this platform: the child runs at the app's priority
        try:  # until the child writes its own (after seconds of `import torch`), the run reads as running
            run.write_status("running", "starting: loading torch", int(run.status().get("iteration") or 0),
                             self._child.pid)
        except OSError:
            pass  # the child reports an unwritable run folder itself, in its stderr
        self._set_state("starting")
        self._follower.start(keep_following=True)
        self._watch.start()
        return True

    def stop(self) -> None:
        """Ask the child to checkpoint and exit (SIGTERM); it is killed only after a generous grace period."""
        if not self.is_running() or self._child is None:
            return
        self._child.terminate()  # SIGTERM on POSIX: the trainer checkpoints and exits "cancelled"
        self._stop_sent_at = time.monotonic()
        self._set_state("stopping")

    def kill(self) -> None:
        if self._child is not None:
            self._child.kill()

    def wait(self, timeout_s: float) -> bool:
        """Block until the child has exited (used only when the app closes); True when it did."""
        if self._child is None:
            return True
        try:
            self._child.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        self._on_watch()
        return True

    def detach(self) -> None:
        """Stop following and leave the child running (the person chose to keep it when closing the app)."""
        self._watch.stop()
        if self._follower is not None:
            self._follower.stop()
        self._child = None
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _on_events(self, events: list) -> None:
        if self._state == "starting":
            self._set_state("running")
        for event in events:
            self.event.emit(event)

    def _on_watch(self) -> None:
        if self._child is None or self._follower is None:
            return
        code = self._child.poll()  # reaps the child when it has exited; never blocks
        if code is None:
            if self._stop_sent_at is not None and time.monotonic() - self._stop_sent_at > STOP_GRACE_S:
                self.kill()
            return
        self._watch.stop()
        self._follower.stop()
        self._follower.poll(with_status=False)  # every line the child wrote before it went
        pid, self._child = self._child.pid, None
        run = self._follower.run
        status = run.status()
        state = status.get("state")
        if state == "finished":
            self._set_state("finished")
            self.finished.emit(0)
        elif state == "cancelled" or (self._stop_sent_at is not None and code == -signal.SIGTERM):
            # A Stop during the child's start-up ends it before its handler is in place: still a cancel,
            # and nothing recorded is lost.
            if state != "cancelled":
                try:
                    run.write_status("cancelled", "stopped before training began; resume to continue",
                                     int(status.get("iteration") or 0), pid)
                except OSError:
                    pass
            self._set_state("cancelled")
            self.finished.emit(1)
        else:
            message = self._failure_message(run, status, pid, code)
            try:
                run.write_status("failed", message.splitlines()[0], int(status.get("iteration") or 0), pid)
            except OSError:
                pass  # the status already reads "failed" (dead pid); the message is still shown
            self._set_state("failed")
            self.failed.emit(message)

    def _failure_message(self, run: RunDir, status: dict, pid: int, code: int) -> str:
        tail = stderr_tail(run.stderr_path)
        if self._stop_sent_at is not None:
            first = "the trainer did not stop in time and was killed; resume to continue from the last checkpoint"
        elif "out of memory" in tail.lower():
            first = ("the trainer ran out of device memory; choose a smaller batch size, fewer or smaller "
                     "networks, or another device, then resume")
        elif "ModuleNotFoundError" in tail or "ImportError" in tail:
            first = "the trainer could not import what it needs; check the Python environment, then resume"
        elif status.get("message") and "pid" not in status.get("message", ""):
            first = status["message"]
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            first = (f"the trainer (pid {pid}) was killed by {name}"
                     f"{' (out of memory?)' if name == 'SIGKILL' else ''}; resume to continue from the last checkpoint")
        else:
            first = (f"the trainer (pid {pid}) exited with code {code} without finishing; "
                     "resume to continue from the last checkpoint")
        return f"{first}\n\n{tail}" if tail else first
