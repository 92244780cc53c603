"""Under torchrun, when one process of the job fails: rank 0, the one that writes the run folder, still says so.

A rank that fails leaves its sentence in the job's store (torchrun's rendezvous store) before it exits. Rank 0
then either gets an error from its next collective (gloo: "connection reset by peer") and reports the other
rank's sentence instead of an internal error of its own, or - NCCL, or a rank that hangs - blocks inside a
collective, where no Python runs: not its signal handler, not its error handling. torchrun then sends SIGTERM and,
30 seconds later, SIGKILL, and the run stayed "running" forever. So rank 0 keeps a watch on a thread of its own:
it hears a signal the moment it arrives (the interpreter writes it to a wakeup pipe even while the main thread is
blocked) and sees a failure left in the store. Then, when the main thread stays in one place for :data:`GRACE_S`
(one call into torch that does not return: a collective waiting for a process that is gone), the watch records
the run "failed" and ends the process itself; when it is busy but will not end before torchrun's SIGKILL, the run
is recorded "cancelled" (its last checkpoint set is whole), and the process ends.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

import torch

FAILURE_KEY = "resnet-explorer/failed"
GRACE_S = 5.0  # the main thread handles a signal within one operation, far shorter than this
TORCHRUN_KILLS_S = 30.0  # torchrun's SIGKILL follows its SIGTERM after this long
POLL_S = 0.25


def _store():
    try:
        return torch.distributed.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None


def tell_failure(rank: int, message: str) -> None:
    """Leave this rank's failure where rank 0 finds it (nothing when the job's store is gone)."""
    store = _store()
    if store is not None:
        try:
            store.set(FAILURE_KEY, f"rank {rank} failed: {message}")
        except RuntimeError:
            pass


def failure_told(wait_s: float = 0.0) -> str | None:
    """Another rank's failure sentence, waiting up to ``wait_s`` for it to arrive."""
    store = _store()
    deadline = time.monotonic() + wait_s
    while store is not None:
        try:
            if store.check([FAILURE_KEY]):
                return store.get(FAILURE_KEY).decode("utf-8", "replace")
        except RuntimeError:
            return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    return None


def is_collective_failure(exc: BaseException) -> bool:
    """An error from talking to the other processes (not one of this process's own)."""
    dist_error = getattr(torch.distributed, "DistError", ())
    text = str(exc)
    return isinstance(exc, dist_error) or any(word in text for word in ("gloo", "NCCL", "Connection reset",
                                                                         "Connection closed", "ProcessGroup"))


def peer_failure_message(exc: BaseException | None = None) -> str | None:
    """The sentence rank 0 ends the run with when another rank failed, or None when nothing says one did."""
    told = failure_told(wait_s=2.0 if exc is not None else 0.0)
    if told is not None:
        return f"another process of this torchrun job stopped the run ({told}); fix that, then resume"
    if exc is not None and is_collective_failure(exc):
        return ("another process of this torchrun job stopped (killed or crashed; torchrun's output says why) "
                "while this one waited for it; resume to continue from the last checkpoint")
    return None


class PeerWatch:
    """Rank 0's watch (see the module's words). ``end(state, message)`` records the end (once: the reporter
    ignores a second), ``ended()`` says whether the main thread already did."""

    def __init__(self, end, ended) -> None:
        self._end, self._ended = end, ended
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._done = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="peer-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=2 * POLL_S)
        signal.set_wakeup_fd(self._previous)
        os.close(self._read)
        os.close(self._write)

    def _watch(self) -> None:
        signalled = told = None  # when each was first seen
        where, moved = self._main_position(), time.monotonic()
        while not self._done.is_set():
            if select.select([self._read], [], [], POLL_S)[0]:
                os.read(self._read, 64)
                signalled = signalled or time.monotonic()
            if told is None and failure_told() is not None:
                told = time.monotonic()
            if self._ended() or self._done.is_set():
                return
            now, position = time.monotonic(), self._main_position()
            if position != where:
                where, moved = position, now
            if (signalled or told) and now - moved > GRACE_S:  # stuck in one call that will not return
                return self._give_up("failed", peer_failure_message() or STUCK)
            if signalled and now - signalled > TORCHRUN_KILLS_S - GRACE_S:
                return self._give_up(*(("failed", peer_failure_message()) if told else ("cancelled", SLOW)))

    def _main_position(self):
        """Where the main thread's Python is: the same for as long as it waits inside one call."""
        frame = sys._current_frames().get(self._main)
        return None if frame is None else (id(frame), frame.f_lasti)

    def _give_up(self, state: str, message: str) -> None:
        self._end(state, message)
        os._exit(1 if state == "failed" else 0)  # the main thread will not come back in time


STUCK = ("stopped while waiting for another process of this torchrun job, which did not answer; resume to continue "
         "from the last checkpoint")
SLOW = ("stopped by torchrun before this process had finished its step; resume to continue from the last "
        "checkpoint")
