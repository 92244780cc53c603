"""Stopping on request: the run's stop request (:func:`explorer.system.host.request_stop`: the app's Stop, on every
system) or a signal - SIGTERM (a cluster's scheduler), SIGINT (Ctrl-C), SIGBREAK (Ctrl+Break on Windows), SIGHUP
(the terminal was closed) - sets a flag that the trainer polls between steps, so it finishes the step, saves its
checkpoint set and reports "cancelled". A thread watches the request file (a stat every :data:`WATCH_S` seconds),
so a request is seen the same at every step of every run, whatever the system. A SIGHUP the trainer was started
ignoring (``nohup``) stays ignored: that trainer was detached from its terminal on purpose (the app's children are
in a session of their own and never get one).

When a stop may also cut work short (``KeyboardInterrupt``) is chosen per section: during start-up (loading
data, building models: nothing to save yet) the first stop does, a request too (the watcher interrupts the main
thread as a signal would); during a training step or an evaluation a second *signal* does (the last checkpoint
set stays current; a request is only ever a first stop); while a checkpoint, an event or the status is being
written, nothing does, so a person hammering Ctrl-C or a scheduler sending SIGTERM twice still gets a consistent
run that ends "cancelled". Once the run has said how it ended, a late signal is ignored, so a flood of them still
ends the process with the run's exit code (Python's own shutdown would otherwise put the default action back, and
die of it). No torch here: the flag is set up before torch is imported."""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Iterator

from explorer.system import host

NEVER, SECOND, FIRST = "never", "second", "first"
WATCH_S = 0.2
HANGUP = getattr(signal, "SIGHUP", None)  # none on Windows
STOP_SIGNALS = tuple(s for s in (*host.STOP_SIGNALS, HANGUP) if s is not None)


class StopFlag:
    """A context manager that installs the handlers; calling it says whether a stop was asked for.
    ``restore=False`` ignores those signals after the block (a process that is about to exit must not die of
    a late signal's default action, exit 143, while it flushes or shuts down). :meth:`watch` adds the run's stop
    request."""

    def __init__(self, restore: bool = True) -> None:
        self.requested = False
        self._signalled = False  # a signal came: a second one may cut a step short
        self._mode = NEVER
        self._restore = restore
        self._previous: dict[int, object] = {}
        # The watcher's look at the mode against the main thread's change of it; reentrant: a signal's handler
        # runs on the main thread, maybe while it holds the lock.
        self._lock = threading.RLock()
        self._cut_for_request = False  # the interrupt the watcher raised, not a signal
        self._request: Path | None = None
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None

    def _handle(self, signum: int, frame: object) -> None:
        with self._lock:
            if self._cut_for_request:
                self._cut_for_request = False
                cut = self._mode == FIRST
            else:
                cut = self._mode == FIRST or (self._mode == SECOND and self._signalled)
                self.requested = self._signalled = True
            if cut:
                self._mode = NEVER  # what follows (the final report) is not cut again
        if cut:
            raise KeyboardInterrupt

    def __call__(self) -> bool:
        return self.requested

    @contextlib.contextmanager
    def interruptible(self, at_first: bool = False) -> Iterator[None]:
        """A section a stop may cut short: at the first stop (``at_first``) or at the second signal."""
        with self._lock:
            if at_first and self.requested:
                raise KeyboardInterrupt
            previous, self._mode = self._mode, FIRST if at_first else SECOND
        try:
            yield
        finally:
            with self._lock:
                if self._mode != NEVER:  # NEVER here: a stop cut this section, and nothing is cut again
                    self._mode = previous

    def watch(self, request: Path) -> None:
        """Stop also when ``request`` (the run's stop request) names this process. A request left for an earlier
        trainer of the run is removed first: it is not for this one."""
        host.clear_stop_request(request, os.getpid(), only_others=True)
        self._request = request
        self._watcher = threading.Thread(target=self._watch, name="stop-request", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        pid = os.getpid()
        while not self._done.wait(WATCH_S):
            if host.stop_requested(self._request, pid):
                self._requested()
                return

    def _requested(self) -> None:
        """On the watcher's thread: a first stop; in start-up it ends the section at once, as a signal does."""
        with self._lock:
            self.requested = True
            if self._mode == FIRST:
                self._cut_for_request = True
                _thread.interrupt_main(signal.SIGTERM)  # runs _handle on the main thread, as a signal would

    def __enter__(self) -> "StopFlag":
        for sig in STOP_SIGNALS:
            if sig == HANGUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started with nohup: detached from the terminal on purpose
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode = NEVER
        self._done.set()
        if self._watcher is not None:
            self._watcher.join()
            host.clear_stop_request(self._request, os.getpid())  # answered: the trainer is ending
        for sig, handler in self._previous.items():
            # SIG_IGN, not our handler: at shutdown Python puts SIG_DFL back in place of a Python handler.
            signal.signal(sig, handler if self._restore else signal.SIG_IGN)
