"""Work off the GUI thread for the latest request only: requests debounced, computed on the thread pool,
outdated results dropped. The layer tables (:class:`SummaryWorker`) and the memory estimate of the Training
form (:class:`CostCheck`: memory and time) are two such jobs.

A job may import torch (seconds, the first time), so it runs on ``QThreadPool.globalInstance()``; the task talks
back only through a signal (docs/architecture.md, convention 5). torch is imported by the first task, never by the GUI thread,
so the window shows before torch has loaded.
"""

from __future__ import annotations

import gc
import threading
from typing import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, SignalInstance

from explorer.config.model import ModelConfig

DEBOUNCE_MS = 150
SHUTDOWN_WAIT_S = 10.0  # importing torch on a busy machine, plus the job


class _Latest:
    """The generation the GUI wants; a task whose generation is older skips its work."""

    def __init__(self) -> None:
        self.generation = 0


class _Reply(QObject):
    done = Signal(int, object)  # generation, result
    failed = Signal(int, str)  # generation, message for a person


class _Task(QRunnable):
    def __init__(self, worker: "LatestWorker", request: object, generation: int, reply: _Reply) -> None:
        super().__init__()
        self._job, self._after, self._failure = worker.job, worker.after, worker.failure
        self._request = request
        self._generation = generation
        self._latest = worker._latest
        self._reply = reply
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            if self._generation != self._latest.generation:
                self._answer(self._reply.failed, "")  # outdated before it started: nothing to compute
                return
            try:
                result = self._job(self._request)
            except Exception as exc:  # noqa: BLE001 - a worker must answer, or the busy indicator spins forever
                self._answer(self._reply.failed, self._failure(self._request, exc))
            else:
                self._answer(self._reply.done, result)
                if self._after is not None:
                    self._after()
        finally:
            self.finished.set()

    def _answer(self, signal: SignalInstance, value: object) -> None:
        try:
            signal.emit(self._generation, value)
        except RuntimeError:  # the window closed while this ran: nobody is waiting for the answer
            pass


class LatestWorker(QObject):
    """``request(x)`` and, a moment later, ``computed(job(x))`` for the latest request only; ``failed(message)``
    when the job raised. ``after`` runs on the pool thread once a result has been sent (a warm-up, say)."""

    computed = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, job: Callable[[object], object], failure: Callable[[object, Exception], str],
                 parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS,
                 after: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.job, self.failure, self.after = job, failure, after
        self._latest = _Latest()
        self._pending: object | None = None
        self._in_flight: dict[int, _Reply] = {}  # keeps each reply alive until its queued signal arrives
        self._tasks: list[_Task] = []
        self._busy = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._on_debounce_timeout)

    @property
    def busy(self) -> bool:
        return self._busy

    def request(self, request: object) -> None:
        """Compute for ``request`` once the changes stop for a moment; any older result is then dropped."""
        self._pending = request
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
        request, self._pending = self._pending, None
        if request is None:
            return
        generation = self._latest.generation
        reply = _Reply()
        reply.done.connect(self._on_done)
        reply.failed.connect(self._on_failed)
        self._in_flight[generation] = reply
        task = _Task(self, request, generation, reply)
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


def _summarize(config: ModelConfig):
    from explorer.models.summary import summarize  # imports torch: on the pool thread, after the window shows

    return summarize(config)


def _warm_up_once() -> None:
    """The meta device's one-time cost (ImageNet tables), paid while the person reads the first table."""
    global _warmed
    if not _warmed:
        _warmed = True
        from explorer.models.summary import warm_up

        warm_up()
        gc.freeze()  # what the warm-up imported (torch._dynamo, sympy) must not lengthen every collection


_warmed = False


class SummaryWorker(LatestWorker):
    """``request(ModelConfig)`` and, a moment later, ``computed(Summary)`` for the latest config only."""

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(_summarize, lambda config, exc: f"Could not summarise {config.name}: "
                         f"{str(exc) or type(exc).__name__}.", parent, debounce_ms, after=_warm_up_once)


def _estimate(request: tuple):
    """(RunConfig, free bytes or None for the CPU's, the device's name, runs folder, a GPU found) -> (memory
    Estimate, TimeEstimate): what the run will take, before it starts."""
    from explorer.training.memory import cpu_available_bytes, estimate_run
    from explorer.training.speed import estimate_time, summary_macs

    config, free, where, runs_dir, gpu = request
    memory = estimate_run(config, _summarize, cpu_available_bytes() if free is None else free, where)
    return memory, estimate_time(config, runs_dir, summary_macs, gpu_found=gpu)


class CostCheck(LatestWorker):
    """``request((RunConfig, free_bytes | None, where, runs_dir, gpu_found))`` and ``computed((Estimate,
    TimeEstimate))``: will the run fit, and how long will it take?"""

    def __init__(self, parent: QObject | None = None, debounce_ms: int = 300) -> None:
        super().__init__(_estimate, lambda request, exc: f"could not estimate the run: {exc}", parent,
                         debounce_ms)
