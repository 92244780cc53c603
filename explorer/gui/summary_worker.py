"""Summaries off the GUI thread: requests debounced, computed on the thread pool, outdated results dropped.

``summarize`` builds the model with torch (seconds for ResNet-1202 on a busy 2-core machine), so it runs on
``QThreadPool.globalInstance()``; the task talks back only through a signal (DESIGN, convention 5). torch is
imported by the first task, never by the GUI thread, so the window shows before torch has loaded.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, SignalInstance

from explorer.config import ModelConfig

DEBOUNCE_MS = 150
SHUTDOWN_WAIT_S = 10.0  # ResNet-1202 on a busy machine, plus importing torch


class _Latest:
    """The generation the GUI wants; a task whose generation is older skips its work."""

    def __init__(self) -> None:
        self.generation = 0


class _Reply(QObject):
    done = Signal(int, object)  # generation, Summary
    failed = Signal(int, str)  # generation, message for a person


class _SummaryTask(QRunnable):
    def __init__(self, config: ModelConfig, generation: int, latest: _Latest, reply: _Reply) -> None:
        super().__init__()
        self._config = config
        self._generation = generation
        self._latest = latest
        self._reply = reply
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            if self._generation != self._latest.generation:
                self._answer(self._reply.failed, "")  # outdated before it started: nothing to compute
                return
            try:
                from explorer.summary import summarize  # imports torch: on this thread, after the window shows

                summary = summarize(self._config)
            except Exception as exc:  # noqa: BLE001 - a worker must answer, or the busy indicator spins forever
                reason = str(exc) or type(exc).__name__
                self._answer(self._reply.failed, f"Could not summarise {self._config.name}: {reason}.")
            else:
                self._answer(self._reply.done, summary)
        finally:
            self.finished.set()

    def _answer(self, signal: SignalInstance, value: object) -> None:
        try:
            signal.emit(self._generation, value)
        except RuntimeError:  # the window closed while this ran: nobody is waiting for the answer
            pass


class SummaryWorker(QObject):
    """``request(config)`` and, a moment later, ``computed(Summary)`` for the latest config only."""

    computed = Signal(object)  # Summary
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._latest = _Latest()
        self._pending: ModelConfig | None = None
        self._in_flight: dict[int, _Reply] = {}  # keeps each reply alive until its queued signal arrives
        self._tasks: list[_SummaryTask] = []
        self._busy = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._on_debounce_timeout)

    @property
    def busy(self) -> bool:
        return self._busy

    def request(self, config: ModelConfig) -> None:
        """Summarise ``config`` once the changes stop for a moment; any older result is then dropped."""
        self._pending = config
        self._latest.generation += 1  # an in-flight result is outdated from now on
        self._set_busy(True)
        self._debounce.start()

    def shutdown(self) -> None:
        """Drop whatever is pending, and wait for a task still running: it must not outlive the window (it
        would meet a deleted receiver, or an interpreter that is shutting down, half-way through importing torch)."""
        self._debounce.stop()
        self._pending = None
        self._latest.generation += 1
        for task in self._tasks:
            task.finished.wait(SHUTDOWN_WAIT_S)
        self._tasks.clear()
        self._set_busy(False)

    def _on_debounce_timeout(self) -> None:
        config, self._pending = self._pending, None
        if config is None:
            return
        generation = self._latest.generation
        reply = _Reply()
        reply.done.connect(self._on_done)
        reply.failed.connect(self._on_failed)
        self._in_flight[generation] = reply
        task = _SummaryTask(config, generation, self._latest, reply)
        task.setAutoDelete(False)  # kept in self._tasks until it has finished, so shutdown can wait for it
        self._tasks = [t for t in self._tasks if not t.finished.is_set()] + [task]
        QThreadPool.globalInstance().start(task)

    def _on_done(self, generation: int, summary: object) -> None:
        if self._in_flight.pop(generation, None) is not None and generation == self._latest.generation:
            self._set_busy(False)
            self.computed.emit(summary)

    def _on_failed(self, generation: int, message: str) -> None:
        if self._in_flight.pop(generation, None) is not None and generation == self._latest.generation:
            self._set_busy(False)
            self.failed.emit(message)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
