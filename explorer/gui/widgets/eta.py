"""Time left of long work, from the rate since its first report: the one ETA of the app's progress bars (an
analysis, an image folder's decoding). Counted from the start instead, the seconds before the first report
(importing torch, loading the networks) made the first minutes' estimates 1.4-1.8x too long. No Qt."""

from __future__ import annotations


class Eta:
    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None

    def reset(self) -> None:
        self._first = None

    def seconds_left(self, done: int, total: int, now: float) -> float | None:
        """The time left at ``now`` with ``done`` of ``total``; None until there is a rate to go by."""
        if self._first is None or done < self._first[1]:
            self._first = (now, done)  # the first report (or work started again): the clock starts here
            return None
        since, first = self._first
        if done <= first or now <= since:
            return None
        return (now - since) / (done - first) * max(0, total - done)
