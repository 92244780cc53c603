"""Whether a process is alive, by its pid: the one answer for a trainer that left no word (a run from before the
lock existed) and for a temporary file whose writer may have been killed (:mod:`explorer.system.files`). On
Windows ``os.kill(pid, 0)`` would terminate the process, so the process is opened and asked instead."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PID_MAX = 2**22  # Linux's pid_max is at most 4M; anything larger read from a file is no pid


def alive(pid: object) -> bool:
    """True while ``pid`` names a running process (someone else's counts); a zombie is dead for our purpose."""
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < PID_MAX:
        return False
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except (OSError, OverflowError):
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] not in "ZX"
    except (OSError, ValueError, IndexError):
        return True


def _windows_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
