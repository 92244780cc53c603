"""What differs between Linux, macOS and Windows, in one place: the run lock, how a stop is asked for, how a child
is started apart from the app, the CPU load of the other processes and the memory left. Everything else of the
app is written once for every system; nothing POSIX-only (fcntl, resource, termios) is imported at module level
anywhere (tests/test_portable.py imports every module with them blocked, as on Windows).

**The lock** (a run's ``trainer.lock``: held while its trainer lives, let go by the system however it dies):
``flock`` on POSIX, ``msvcrt.locking`` of one byte on Windows. Only the primitive differs; the rest is one path
on every system: the holder's pid is written at the start of the file with plain seeks (Windows has no
``pwrite``), the locked byte lies beyond it (Windows forbids reading a locked range), and a reader probes by
taking the lock for an instant, shared where the system has shared locks (POSIX); Windows' are exclusive only,
so there a probe may meet another reader's and tries again before it concludes that a trainer holds the lock.

**A stop** is a request file naming the pid of the trainer it is for (:func:`request_stop`): the trainer polls it
(:mod:`explorer.training.stop`) and checkpoints and ends "cancelled", on every system. Signals are the second
way (Ctrl-C, a scheduler's SIGTERM); on Windows ``os.kill`` would terminate the process without a checkpoint, so
the app never signals a trainer to stop it, only to kill one that did not stop in time (:func:`kill`).

**A child apart from the app** (a training run may outlive the window): its own session on POSIX, its own
process group without a console window on Windows; either way at a lower priority, so the app's event loop gets
a core at once when it needs one.

**Load and memory**: the other processes' busy cores from ``/proc/stat`` (Linux; elsewhere unknown, and the
trainer takes every core), memory left from ``/proc/meminfo`` and the container's cgroup limit (Linux),
``GlobalMemoryStatusEx`` (Windows) or the pages the system reports free (other POSIX systems).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from explorer.system.files import atomic_write, open_regular_fd, read_regular

WINDOWS = sys.platform == "win32"
LOCK_BYTE = 4096  # the byte Windows locks: beyond the pid at the start of the file, which readers must read
PROBE_TRIES = 3  # on Windows a probe may meet another reader's for microseconds: a few tries tell it from a trainer
PROBE_RETRY_S = 0.001
CHILD_NICENESS = 5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT) + ((signal.SIGBREAK,) if WINDOWS else ())  # Ctrl+Break: SIGBREAK


# -- the run lock ------------------------------------------------------------------------------------------------
def _try_lock(fd: int, shared: bool = False) -> bool:
    """Take the lock of ``fd`` without waiting (``shared``: a reader's, where the system has shared locks);
    False when another process holds it."""
    if WINDOWS:
        import msvcrt

        os.lseek(fd, LOCK_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if WINDOWS:
        import msvcrt

        os.lseek(fd, LOCK_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def take_lock(path: Path, tries: int, retry_s: float) -> int | None:
    """Hold the lock file ``path`` for this process's lifetime: the descriptor (pass it to :func:`release_lock`),
    or None when another process holds it after ``tries`` attempts. This process's pid is written into the file
    for others to name it. Raises OSError when the file cannot be opened (a link, a folder, no permission)."""
    fd = open_regular_fd(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0))
    for attempt in range(tries):
        if _try_lock(fd):
            break
        if attempt + 1 < tries:
            time.sleep(retry_s)
    else:
        os.close(fd)
        return None
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".ljust(32).encode())  # fixed width: no truncation, no stale digits
    except OSError:
        pass  # the lock still holds; only the pid shown to others is missing
    return fd


def release_lock(fd: int) -> None:
    try:
        _unlock(fd)
    except OSError:
        pass  # closing lets it go too
    os.close(fd)


def lock_holder(path: Path) -> int | None:
    """The pid of the process that holds the lock file ``path`` now (-1 when it cannot be read), None when no
    process does (or there is no such file)."""
    try:
        fd = open_regular_fd(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        tries = PROBE_TRIES if WINDOWS else 1  # a shared probe fails only against a trainer's lock
        for attempt in range(tries):
            if _try_lock(fd, shared=True):
                _unlock(fd)
                return None
            if attempt + 1 < tries:
                time.sleep(PROBE_RETRY_S)
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else -1
    except OSError:
        return -1
    finally:
        os.close(fd)


# -- stopping a trainer ----------------------------------------------------------------------------------------
def request_stop(path: Path, pid: int) -> None:
    """Ask process ``pid`` to stop: the request file ``path`` names it (written atomically, so the trainer reads
    a whole pid or none). Raises OSError when the folder takes no file."""
    atomic_write(path, f"{pid}\n", durable=False)


def stop_requested(path: Path, pid: int) -> bool:
    """Whether the request file ``path`` asks process ``pid`` to stop (a request for another pid - an earlier
    trainer of the run - is not for it)."""
    try:
        text = read_regular(path)[:32].decode("ascii", "replace").strip()
    except OSError:
        return False
    return text == str(pid)


def clear_stop_request(path: Path, pid: int, *, only_others: bool = False) -> None:
    """Remove the request file ``path``: the one for ``pid`` (its trainer has ended), or with ``only_others`` one
    left for an earlier trainer, which must not stop the new one (a request for ``pid`` itself stays)."""
    try:
        if stop_requested(path, pid) != only_others:
            path.unlink()
    except OSError:
        pass


def kill(pid: int) -> None:
    """End ``pid`` at once, without a checkpoint (a trainer that did not stop when asked)."""
    try:
        os.kill(pid, signal.SIGTERM if WINDOWS else signal.SIGKILL)  # on Windows SIGTERM is TerminateProcess
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone


# -- children apart from the app --------------------------------------------------------------------------------
def start_detached(argv: list[str], **options) -> subprocess.Popen:
    """``subprocess.Popen(argv, **options)`` in a session (POSIX) or process group (Windows) of its own, so no
    Ctrl-C or hang-up of the app's terminal reaches it and it may outlive the app, at a lower priority: it still
    gets every core while the app is idle. Raises OSError as Popen does."""
    if WINDOWS:
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
        flags |= subprocess.BELOW_NORMAL_PRIORITY_CLASS  # type: ignore[attr-defined]
        return subprocess.Popen(argv, creationflags=flags, **options)
    child = subprocess.Popen(argv, start_new_session=True, **options)
    try:
        os.setpriority(os.PRIO_PROCESS, child.pid, CHILD_NICENESS)
    except (AttributeError, OSError):
        pass
    return child


# -- load and memory -----------------------------------------------------------------------------------------------
def usable_cores() -> set[int]:
    """The cores this process may run on (its affinity where the system tells it, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def busy_and_total_seconds(cores: set[int]) -> tuple[float, float] | None:
    """CPU seconds the whole system spent busy and in all, summed over ``cores`` since boot (``/proc/stat``); None
    where the system does not say per core (macOS, Windows)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            lines = f.read().splitlines()
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    busy = total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cores:
            continue
        fields = [int(v) for v in rest.split()]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        total += sum(fields[:8])
        busy += sum(fields[:8]) - idle
    return busy / tick, total / tick


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping: the kernel's MemAvailable, or less under a container's
    memory limit (Linux); the free physical memory elsewhere; None where the system does not say."""
    if WINDOWS:
        return _windows_available_memory()
    free = _mem_available()
    room = _cgroup_room()
    if free is None or room is None:
        return free if room is None else room
    return min(free, room)


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room() -> int | None:
    """Room left under this process's cgroup memory limit (a container's), v2 or v1; None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            return max(0, limit - usage)
    return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _windows_available_memory() -> int | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total_physical", ctypes.c_ulonglong),
                    ("available_physical", ctypes.c_ulonglong), ("total_page_file", ctypes.c_ulonglong),
                    ("available_page_file", ctypes.c_ulonglong), ("total_virtual", ctypes.c_ulonglong),
                    ("available_virtual", ctypes.c_ulonglong), ("available_extended", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.available_physical)
