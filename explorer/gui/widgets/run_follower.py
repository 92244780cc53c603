"""Following a run directory, live or finished, started by this app, by another, or by the CLI.

The run directory is the single source of truth (docs/architecture.md): :class:`RunFollower` tails ``metrics.jsonl`` by
byte offset on a QTimer and watches ``status.json`` and the run's lock; reading a few new lines is cheap and
never blocks. It talks to widgets only through signals; torch is never imported in this process.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from explorer.runs.folder import RunDir
from explorer.runs.state import RunStatus

POLL_MS = 150  # ~7 Hz: new lines show up promptly; one read of an append-only file per tick
STATUS_EVERY = 6  # the status is re-read every sixth tick (about once a second)


class RunFollower(QObject):
    """``events`` carries every new complete line, in order, as they appear (a partial last line waits for its
    newline). ``status_changed`` carries ``RunDir.status()`` whenever what a person sees of it changes. Once the
    run is over and nothing is left to read, the timer stops; a trainer that takes the run up again (a resume)
    is noticed by :meth:`start` being called again."""

    events = Signal(list)
    status_changed = Signal(object)  # RunStatus

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run = RunDir(Path(path))
        self._offset = 0
        self._ticks = 0
        self._keep = False
        self._status: RunStatus | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_tick)

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def status(self) -> RunStatus | None:
        return self._status

    def start(self, keep_following: bool = False) -> None:
        """Read what is there now and follow; a run that is over stops being followed at once, unless told
        to keep on (a trainer is about to take it up)."""
        self._keep = keep_following
        self.poll(with_status=True)
        if keep_following or self._status is None or self._status.busy or not self._status.state.settled:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self, with_status: bool = True) -> None:
        events, self._offset = self.run.read_events(self._offset)
        if events:
            self.events.emit(events)
        if with_status:
            status = self.run.status()
            seen = ("state", "message", "iteration", "busy")
            if self._status is None or tuple(getattr(status, k) for k in seen) != tuple(
                    getattr(self._status, k) for k in seen):
                self._status = status
                self.status_changed.emit(status)

    def _on_tick(self) -> None:
        self._ticks += 1
        self.poll(with_status=self._ticks % STATUS_EVERY == 0)
        if not self._keep and self._status is not None and not self._status.busy and self._status.state.settled:
            self.poll(with_status=False)  # the last lines written before the final status
            self._timer.stop()

    def keep_following(self, keep: bool) -> None:
        self._keep = keep
        if keep and not self._timer.isActive():
            self._timer.start()
