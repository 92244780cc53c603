"""The run controller (:mod:`explorer.gui.run_control`) as the window meets it: a timer that polls it while a
trainer lives, and signals for what changed. The Training and the Runs tabs share one; neither keeps trainers of
its own."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from explorer.gui.run_control import Change, RunController, Trainer

POLL_MS = 150


class LiveRuns(QObject):
    """``state_changed(path, state)`` as a trainer goes through "starting", "running" and "stopping";
    ``ended(path, state, message)`` once, after it is gone ("finished", "cancelled" or "failed")."""

    state_changed = Signal(object, str)
    ended = Signal(object, str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = RunController()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_tick)

    def start(self, path: Path, resume: bool, environment: dict[str, str] | None = None) -> Trainer:
        """Raises TrainerError (one sentence) when the trainer cannot be started."""
        trainer = self.controller.start(path, resume, environment)
        self._announce(Change(Path(path), trainer.state))
        return trainer

    def adopt(self, path: Path) -> Trainer | None:
        known = self.controller.is_live(path)
        trainer = self.controller.adopt(path)
        if trainer is not None and not known:
            self._announce(Change(Path(path), trainer.state))
        return trainer

    def stop(self, path: Path) -> bool:
        """Stop the run's trainer, whoever started it; False when none trains it."""
        known = self.controller.is_live(path)
        stopped = self.controller.stop(path)
        if stopped or (not known and self.controller.is_live(path)):
            self._announce(Change(Path(path), self.controller.trainer(path).state))
        return stopped

    def shutdown(self, keep_running: bool) -> None:
        self._timer.stop()
        self.controller.shutdown(keep_running)

    def _announce(self, change: Change) -> None:
        self.state_changed.emit(change.path, change.state)
        self._timer.start()

    def _on_tick(self) -> None:
        for change in self.controller.poll():
            self.state_changed.emit(change.path, change.state)
            if change.ended:
                self.ended.emit(change.path, change.state, change.message)
        if not self.controller.live_runs():
            self._timer.stop()
