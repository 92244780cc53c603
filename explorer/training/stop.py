"""Stopping on request: SIGTERM (the GUI's Stop, a cluster's scheduler) or SIGINT (Ctrl-C) sets a flag that
the trainer polls between steps, so it finishes the step, saves its checkpoints and reports "cancelled".
A second signal stops at once. No torch here: the flag is set up before torch is imported, so a stop
during the seconds of start-up is honoured too."""

from __future__ import annotations

import signal


class StopFlag:
    """A context manager that installs the handlers; calling it says whether a stop was asked for."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
