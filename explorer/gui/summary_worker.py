"""Summaries off the GUI thread: debounced requests, one task at a time on the thread pool, stale results dropped.

``summarize`` builds the model with torch (about a second for ResNet-1202), so it runs on
``QThreadPool.globalInstance()``; the task talks back only through a signal (DESIGN, convention 5). torch is
imported by the first task, never by the GUI thread, so the window shows before torch has loaded.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from explorer.config import ModelConfig

DEBOUNCE_MS = 150


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

    def run(self) -> None:
        if self._generation != self._latest.generation:
            self._reply.failed.emit(self._generation, "")  # outdated before it started: nothing to compute
            return
        try:
            from explorer.summary import summarize  # imports torch: on this thread, after the window shows

            summary = summarize(self._config)
        except (ValueError, RuntimeError, MemoryError) as exc:
            self._reply.failed.emit(self._generation, f"Could not summarise {self._config.name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a worker must answer, or the busy indicator spins forever
            self._reply.failed.emit(
                self._generation, f"Summarising {self._config.name} failed ({type(exc).__name__}: {exc})."
            )
        else:
            self._reply.done.emit(self._generation, summary)


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
        """Drop whatever is pending or in flight; a running task finishes on its own and is ignored."""
        self._debounce.stop()
        self._pending = None
        self._latest.generation += 1
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
        QThreadPool.globalInstance().start(_SummaryTask(config, generation, self._latest, reply))

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
