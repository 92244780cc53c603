"""Stopping on request: SIGTERM (the GUI's Stop, a cluster's scheduler), SIGINT (Ctrl-C) or SIGHUP (the terminal
was closed) sets a flag that the trainer polls between steps, so it finishes the step, saves its checkpoint set
and reports "cancelled". A SIGHUP the trainer was started ignoring (``nohup``) stays ignored: that trainer was
detached from its terminal on purpose (the app's children are in a session of their own and never get one).

When a signal may also cut work short (``KeyboardInterrupt``) is chosen per section: during start-up (loading
data, building models: nothing to save yet) the first signal does; during a training step or an evaluation a
second one does (the last checkpoint set stays current); while a checkpoint, an event or the status is being
written, no signal does, so a person hammering Ctrl-C or a scheduler sending SIGTERM twice still gets a
consistent run that ends "cancelled". Once the run has said how it ended, a late signal is ignored, so a flood
of them still ends the process with the run's exit code (Python's own shutdown would otherwise put the default
action back, and die of it). No torch here: the flag is set up before torch is imported."""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

NEVER, SECOND, FIRST = "never", "second", "first"
HANGUP = getattr(signal, "SIGHUP", None)  # none on Windows
STOP_SIGNALS = tuple(s for s in (signal.SIGTERM, signal.SIGINT, HANGUP) if s is not None)


class StopFlag:
    """A context manager that installs the handlers; calling it says whether a stop was asked for.
    ``restore=False`` ignores those signals after the block (a process that is about to exit must not die of
    a late signal's default action, exit 143, while it flushes or shuts down)."""

    def __init__(self, restore: bool = True) -> None:
        self.requested = False
        self._mode = NEVER
        self._restore = restore
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        cut = self._mode == FIRST or (self._mode == SECOND and self.requested)
        self.requested = True
        if cut:
            self._mode = NEVER  # what follows (the final report) is not cut again
            raise KeyboardInterrupt

    def __call__(self) -> bool:
        return self.requested

    @contextlib.contextmanager
    def interruptible(self, at_first: bool = False) -> Iterator[None]:
        """A section a signal may cut short: at the first signal (``at_first``) or at the second."""
        if at_first and self.requested:
            raise KeyboardInterrupt
        previous, self._mode = self._mode, FIRST if at_first else SECOND
        try:
            yield
        finally:
            if self._mode != NEVER:  # NEVER here: a signal cut this section, and nothing is cut again
                self._mode = previous

    def __enter__(self) -> "StopFlag":
        for sig in STOP_SIGNALS:
            if sig == HANGUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started with nohup: detached from the terminal on purpose
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode = NEVER
        for sig, handler in self._previous.items():
            # SIG_IGN, not our handler: at shutdown Python puts SIG_DFL back in place of a Python handler.
            signal.signal(sig, handler if self._restore else signal.SIG_IGN)
