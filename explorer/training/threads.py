"""How many intra-op threads the CPU trainer uses: chosen by measuring what the other processes take now.

OpenMP threads wait for each other at every operator, so a thread on a core another process is using makes
every step wait for it: on a 2-core machine 2 threads are about twice as fast as 1 when the machine is free,
and several times slower as soon as another job runs. The load average cannot tell: it decays over a minute,
so a run started right after other CPU work still counts that work and took 1 thread for the whole run.

Here the system's per-core busy time (:func:`explorer.system.host.busy_and_total_seconds`) is sampled over a
short window, minus this process's own CPU time (``os.times``), which gives the cores the *others* keep busy now.
The trainer takes the rest, and re-checks every :data:`RECHECK_S` seconds, so it backs off when another job
starts and comes back when it ends. Where the system does not tell the busy time per core (macOS, Windows)
every core is used. ``OMP_NUM_THREADS`` set by the person always wins. No torch here; the caller applies the
count.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from explorer.system import host

WINDOW_S = 0.25
RECHECK_S = 30.0
BUSY_CORE = 0.5  # another process taking half a core or more counts as a core in use


@dataclass(frozen=True)
class Choice:
    threads: int
    reason: str


def _snapshot(cores: set[int]) -> tuple[float, float, float] | None:
    """(busy, total, this process's own) CPU seconds."""
    seconds = host.busy_and_total_seconds(cores)
    if seconds is None:
        return None
    own = os.times()
    return (*seconds, own.user + own.system)


def _others(before: tuple[float, float, float], after: tuple[float, float, float], cores: int) -> float | None:
    """Cores the other processes kept busy between two snapshots."""
    if after[1] <= before[1]:
        return None
    per_core = (after[1] - before[1]) / cores  # seconds each core had in between
    return max(0.0, ((after[0] - before[0]) - (after[2] - before[2])) / per_core)


def _choice(cores: set[int], busy: float | None, window_s: float) -> Choice:
    if busy is None:
        return Choice(len(cores), f"all {len(cores)} cores (the other processes' load cannot be measured here)")
    taken = int(busy // 1 + (1 if busy % 1 >= BUSY_CORE else 0))
    threads = max(1, len(cores) - taken)
    return Choice(threads, f"{threads} of {len(cores)} cores: other processes kept {busy:.1f} busy over the "
                           f"last {window_s:.2f} s")


def _environment_choice() -> Choice | None:
    value = os.environ.get("OMP_NUM_THREADS", "")
    if not value:
        return None
    return Choice(max(1, int(value)) if value.isdigit() else 1, f"OMP_NUM_THREADS={value}")


def _fixed_choice(kept: int | None, window_s: float) -> Choice:
    """A deterministic run's count, the same for the whole run (a sum split over another number of threads adds
    in another order): the person's OMP_NUM_THREADS, else the count of the run's first start (``kept``), else
    chosen now and kept from here on."""
    fixed = _environment_choice()
    if fixed is not None:
        return fixed
    if kept:
        return Choice(kept, f"{kept} threads, as at the run's first start (deterministic: kept for the whole run)")
    chosen = choose_threads(window_s)
    return Choice(chosen.threads, f"{chosen.reason}; kept for the whole run (deterministic)")


def choose_threads(window_s: float = WINDOW_S) -> Choice:
    """The intra-op thread count for now, and why, in words for the run's start event: the cores the other
    processes leave free over the next ``window_s`` seconds."""
    fixed = _environment_choice()
    if fixed is not None:
        return fixed
    cores = host.usable_cores()
    before = _snapshot(cores)
    if before is None:
        return _choice(cores, None, window_s)
    time.sleep(window_s)
    after = _snapshot(cores)
    return _choice(cores, _others(before, after, len(cores)) if after else None, window_s)


class ThreadGovernor:
    """Applies :func:`choose_threads` at start, then re-measures every ``recheck_s`` seconds over the time since
    the last check (no pause: the snapshots are compared, this process's own time taken out); ``apply(n)``
    sets the count."""

    def __init__(self, apply, recheck_s: float = RECHECK_S, window_s: float = WINDOW_S, share: int = 1,
                 fixed: bool = False, kept: int | None = None) -> None:
        self._apply, self._recheck_s = apply, recheck_s
        self._cores = host.usable_cores()
        self._share = share
        self._fixed = fixed
        self.choice = self._shared(_fixed_choice(kept, window_s) if fixed else choose_threads(window_s))
        self._apply(self.choice.threads)
        self._checked = time.monotonic()
        self._last = _snapshot(self._cores)

    def _shared(self, choice: Choice) -> Choice:
        """Under torchrun the processes of a machine share its free cores (each measures the others as busy
        once they train, so they divide what was free at the start instead)."""
        if self._share <= 1 or _environment_choice() is not None:
            return choice
        threads = max(1, len(self._cores) // self._share)
        return Choice(threads, f"{threads} of {len(self._cores)} cores: one share of {self._share} processes")

    def maybe_recheck(self) -> Choice | None:
        """Between steps: measure again when it is time; returns the new choice when the count changed."""
        now = time.monotonic()
        if self._share > 1 or self._fixed:
            return None
        if _environment_choice() is not None or self._last is None or now - self._checked < self._recheck_s:
            return None
        current = _snapshot(self._cores)
        if current is None:
            return None
        busy = _others(self._last, current, len(self._cores))
        choice = self._shared(_choice(self._cores, busy, now - self._checked))
        self._last, self._checked = current, now
        if choice.threads == self.choice.threads:
            return None
        self.choice = choice
        self._apply(choice.threads)
        return choice
