"""The run directory, the single source of truth of a training run; no torch here.

``<runs-dir>/<YYYYmmdd-HHMMSS>-<name>/`` holds ``config.json`` (written once, atomically), ``status.json``
(replaced atomically; written by the trainer alone), ``metrics.jsonl`` (append-only, one JSON object a line,
flushed per line), ``trainer.lock`` (held by the one trainer of the run while it lives; the lock itself is
:mod:`explorer.system.host`'s), ``stop.request`` (a request to the trainer to stop, written by whoever stops it)
and ``checkpoints/`` (:mod:`explorer.runs.checkpoints`). The GUI and ``resnet-explorer runs`` read it, live or finished, tolerating a
partial last line, lines of the wrong shape and a trainer that died without a word.

A run folder may come from someone else (a shared drive, an archive of runs), so nothing here reads or writes
through a link in it: its files are opened with ``O_NOFOLLOW``, and :meth:`RunDir.check_own` refuses, in one
sentence, a folder that holds a link where one of its own files or folders belongs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

from explorer.system import host
from explorer.system.files import (
    NO_LINKS, atomic_write, is_disk_full, is_link, open_regular, open_regular_fd, overwrite_in_place, read_text,
    remove_stale_temporaries, unwritable,
)
from explorer.system.processes import alive
from explorer.config.run import RunConfig
from explorer.runs import checkpoints
from explorer.runs.events import check_event, effective_events, valid_event
from explorer.runs.state import STATUS_FILE, RunState, RunStatus, decode_status, derive_status, encode_status

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = "trainer.lock"
STOP_FILE = "stop.request"
CHECKPOINT_DIR = "checkpoints"
ANALYSIS_DIR = "analysis"
STDERR_FILE = "stderr.log"
ERROR_FILE = "error.log"
# Every name a run folder holds of its own: none of them may be a link.
OWN_ENTRIES = (CONFIG_FILE, STATUS_FILE, METRICS_FILE, LOCK_FILE, STDERR_FILE, ERROR_FILE, CHECKPOINT_DIR,
               ANALYSIS_DIR)
LOCK_TRIES = 40  # a reader holds the lock shared for microseconds; a trainer that meets one tries again
LOCK_RETRY_S = 0.025


class RunDirError(Exception):
    """A run directory that cannot be created, written or read; the message is one sentence for a person."""


def default_runs_dir() -> Path:
    """``$RESNET_EXPLORER_RUNS``, else ``$XDG_DATA_HOME`` (or ``~/.local/share``) ``/resnet-explorer/runs``."""
    explicit = os.environ.get("RESNET_EXPLORER_RUNS")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "resnet-explorer" / "runs"


def os_reason(exc: OSError) -> str:
    """An OSError as the end of a sentence: 'the disk is full', 'permission denied'."""
    if is_disk_full(exc):
        return "the disk is full"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file is in the way where a folder should be"
    if exc.errno == errno.ELOOP:
        return "it is a link, and a run folder's files must be its own"
    return (exc.strerror or str(exc)).lower()


def _write_error(where: Path | str, exc: OSError) -> RunDirError:
    return RunDirError(f"cannot write runs to {where}: {os_reason(exc)}; choose another runs folder")


def check_runs_dir(runs_dir: str | Path) -> Path:
    """Refuse a runs folder that clearly cannot take a run (a file, below a file, read-only) before any work is
    done, with the sentence :meth:`RunDir.create` would give; nothing is made here."""
    runs_dir = Path(runs_dir).expanduser()
    try:
        if runs_dir.exists() and not runs_dir.is_dir():
            raise RunDirError(f"cannot write runs to {runs_dir}: it is a file, not a folder; choose another runs "
                              "folder")
        existing = runs_dir
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
    except OSError as exc:  # Path.exists() raises where a folder above cannot be searched
        raise _write_error(runs_dir, exc) from None
    if not existing.is_dir():
        raise RunDirError(f"cannot write runs to {existing}: a file is in the way where a folder should be; choose "
                          "another runs folder")
    refused = unwritable(existing)
    if refused is not None:
        raise RunDirError(f"cannot write runs to {runs_dir}: {os_reason(refused)}; choose another runs folder")
    return runs_dir


def _finite(value: Any) -> Any:
    """Replace NaN and infinities by None, so every line is strict JSON (losses can be NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")
    return cleaned[:80] or "run"


class TrainerLock:
    """The run's ``trainer.lock`` held by this process: the system lets it go when the process dies, however it
    dies, so a live lock means a live trainer (no stale pid files, no pid reuse)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            host.release_lock(self._fd)
            self._fd = None


class RunDir:
    """One run's folder. Create it with :meth:`create` (the GUI and the CLI), open an existing one with
    :meth:`open`. Writing events keeps ``metrics.jsonl`` open; :meth:`close` releases it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._events: int | None = None  # metrics.jsonl opened for appending, by the trainer

    @classmethod
    def create(cls, runs_dir: str | Path, config: RunConfig) -> "RunDir":
        """Make ``<runs_dir>/<YYYYmmdd-HHMMSS>-<name>/`` (``-2``, ``-3`` … on a clash) and write ``config.json``.
        Raises :class:`RunDirError` when the folder cannot be written: read-only, not a folder, disk full."""
        runs_dir = check_runs_dir(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(runs_dir, exc) from None
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_safe_name(config.name)}"
        for attempt in range(1, 1000):
            path = runs_dir / (stem if attempt == 1 else f"{stem}-{attempt}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise _write_error(runs_dir, exc) from None
        else:
            raise RunDirError(f"cannot write runs to {runs_dir}: too many runs named {stem}; choose another name")
        try:
            # config.json doubles as the probe write: a read-only or full disk fails here, before any training.
            atomic_write(path / CONFIG_FILE, config.to_json() + "\n")
        except OSError as exc:
            try:
                path.rmdir()
            except OSError:
                pass
            raise _write_error(runs_dir, exc) from None
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run folder, refused in one sentence when it is none or holds a link (:meth:`check_own`)."""
        path = Path(path).expanduser()
        if not (path / CONFIG_FILE).is_file():
            raise RunDirError(f"{path} is not a run folder (it has no {CONFIG_FILE}); choose a folder made by "
                              "resnet-explorer train")
        run = cls(path)
        run.check_own()
        return run

    def config(self) -> RunConfig:
        try:
            return RunConfig.from_json(read_text(self.path / CONFIG_FILE, links=False))
        except FileNotFoundError:
            raise RunDirError(f"{self.path} has no {CONFIG_FILE} (the run's settings), so it cannot be shown or "
                              "resumed") from None
        except OSError as exc:
            raise RunDirError(f"cannot read {self.path / CONFIG_FILE}: {os_reason(exc)}") from None
        except RecursionError:
            raise RunDirError(f"{self.path / CONFIG_FILE} is not a usable run config: it nests too deep") from None
        except Exception as exc:  # noqa: BLE001 - whatever a hand-made config does, it is one sentence
            raise RunDirError(f"{self.path / CONFIG_FILE} is not a usable run config: {exc}") from None

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def stderr_path(self) -> Path:
        """Where the GUI sends the training child's stderr."""
        return self.path / STDERR_FILE

    @property
    def error_path(self) -> Path:
        """Where the trainer writes the traceback of an internal error."""
        return self.path / ERROR_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    # -- what the folder holds -----------------------------------------------------------------------------
    def check_own(self) -> None:
        """Refuse, in one sentence, a folder that holds a link where one of its own files or folders belongs, or
        among its checkpoint sets: whoever made the folder could point our reads, writes and deletions anywhere."""
        for path in self._own_entries():
            if is_link(path):
                try:
                    target = f" (to {os.readlink(path)})"
                except OSError:
                    target = ""
                raise RunDirError(f"{path} is a link{target}, and a run folder's files must be its own; replace the "
                                  "link by what it points to, or remove it, then try again")

    def _own_entries(self) -> list[Path]:
        entries = [self.path / name for name in OWN_ENTRIES]
        sets = self.checkpoint_dir
        if sets.is_dir() and not is_link(sets):
            with contextlib.suppress(OSError):
                for entry in sets.iterdir():
                    entries.append(entry)
                    if entry.is_dir() and not is_link(entry):
                        entries.extend(entry.iterdir())
        return entries

    def check_resumable(self) -> None:
        """Refuse a resume that would lose what the run recorded: a folder with links (:meth:`check_own`), or one
        whose events recorded training while its checkpoints are gone (a person freeing disk) - continuing from
        iteration 0 would supersede every recorded point."""
        self.check_own()
        if checkpoints.latest_set(self.checkpoint_dir) is not None:
            return
        recorded = self.recorded_iteration()
        if recorded > 0:
            raise RunDirError(f"{self.path.name} recorded training up to iteration {recorded:,}, but its checkpoints "
                              f"are gone ({self.checkpoint_dir} holds no checkpoint set), so it cannot continue from "
                              "there; train its settings again as a new run (its curves here stay as they are)")

    def recorded_iteration(self) -> int:
        """The furthest iteration the run's events or status recorded (0 when none)."""
        events, _ = self.read_events()
        points = [e["iteration"] for e in effective_events(events) if e["type"] in ("train", "eval")]
        return max([self._read_status()[0].get("iteration", 0), *points])

    def remove_leftovers(self) -> list[str]:
        """What killed writers left here (the atomic writer's temporaries, half-written checkpoint sets) whose
        process is gone; the trainer calls this once it holds the run. Returns what was removed."""
        return remove_stale_temporaries(self.path) + checkpoints.remove_stale(self.checkpoint_dir)

    # -- one trainer per run ------------------------------------------------------------------------------
    def lock(self) -> TrainerLock:
        """Become the run's one trainer, or raise RunDirError naming the one that already is."""
        try:
            fd = host.take_lock(self.path / LOCK_FILE, LOCK_TRIES, LOCK_RETRY_S)
        except OSError as exc:
            raise RunDirError(f"cannot use the run folder {self.path}: {os_reason(exc)}") from None
        if fd is None:
            pid = self.trainer_pid()
            raise RunDirError(f"the run {self.path.name} is already being trained by another process"
                              f"{f' (pid {pid})' if pid and pid > 0 else ''}; stop it first or wait for it to end")
        return TrainerLock(fd)

    def trainer_pid(self) -> int | None:
        """The pid of the trainer that holds the run's lock now (-1 if it cannot be read), None if none does."""
        return host.lock_holder(self.path / LOCK_FILE)

    @property
    def stop_path(self) -> Path:
        """Where a stop is asked of the run's trainer (:func:`explorer.system.host.request_stop`)."""
        return self.path / STOP_FILE

    # -- events -------------------------------------------------------------------------------------------
    def append_event(self, event: dict) -> None:
        """One strict-JSON line in one write, so a reader (or a crash) sees every whole line written so far.
        A write the disk cuts short is taken back: the file never ends in half a line of ours. No fsync per
        line: a power cut may lose the last lines, a killed process loses nothing written."""
        if self._events is None:
            self._events = open_regular_fd(self.metrics_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | NO_LINKS)
            self._end_partial_line()
        event = _finite(event)
        check_event(event)
        line = (json.dumps(event, allow_nan=False) + "\n").encode("utf-8")
        size = os.fstat(self._events).st_size
        try:
            if os.write(self._events, line) != len(line):  # a short write: the disk took only part of it
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.metrics_path))
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._events, size)
            raise

    def _end_partial_line(self) -> None:
        """A trainer killed mid-line left a partial last line (or a hand or a tool left one without its newline):
        end it before appending, so the next event - a resume marker first of all - starts a line of its own.
        Nothing is cut: a fragment is a line every reader skips, a whole event without its newline stays one,
        and the file's bytes are never shortened, whatever they are."""
        size = os.fstat(self._events).st_size
        if size:
            os.lseek(self._events, size - 1, os.SEEK_SET)  # no pread on Windows; O_APPEND writes go to the end
            if os.read(self._events, 1) != b"\n":
                os.write(self._events, b"\n")

    def close(self) -> None:
        if self._events is not None:
            os.close(self._events)
            self._events = None

    def read_events(self, offset: int = 0, skip: bytes | None = None) -> tuple[list[dict], int]:
        """Events from byte ``offset`` to the last complete line, and the offset to read from next time.
        A partial last line (still being written) is left for the next call; lines that are not an event of
        the right shape are skipped, and so are lines containing ``skip`` (the runs list passes over the many
        ``train`` lines unparsed)."""
        try:
            with open_regular(self.metrics_path, links=False) as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        except OSError:
            return [], offset  # not a regular file, or unreadable: no events (the runs list says why)
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            if skip is not None and skip in line:
                continue
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if valid_event(event):
                events.append(event)
        return events, offset + end

    # -- status -------------------------------------------------------------------------------------------
    def write_status(self, state: RunState, message: str = "", iteration: int = 0, pid: int | None = None) -> None:
        """The trainer's own word on the run (only the trainer calls this). On a full disk the old file is
        overwritten in place, so how the run ended is still recorded."""
        data = encode_status(RunState(state), message, iteration, pid)
        try:
            atomic_write(self.path / STATUS_FILE, data)
        except OSError as exc:
            if not (is_disk_full(exc) and overwrite_in_place(self.path / STATUS_FILE, data)):
                raise

    def status(self) -> RunStatus:
        """How the run stands now (:func:`explorer.runs.state.derive_status`), from status.json and the lock."""
        raw, problem = self._read_status()
        holder = self.trainer_pid()
        legacy = holder is None and not (self.path / LOCK_FILE).exists()
        if legacy and raw.get("state") is RunState.RUNNING and isinstance(raw.get("pid"), int):
            holder = raw["pid"] if alive(raw["pid"]) else None  # a run from before the lock existed
        has_file = (self.path / STATUS_FILE).exists()
        started = self.metrics_path.exists() or self.checkpoint_dir.exists()
        return derive_status(raw, problem, holder, has_file=has_file, started=started)

    def _read_status(self) -> tuple[dict, str]:
        try:
            return decode_status(read_text(self.path / STATUS_FILE, links=False))
        except FileNotFoundError:
            return {}, "no status"
        except OSError as exc:
            return {}, f"cannot read {STATUS_FILE}: {os_reason(exc)}"
        except UnicodeDecodeError:
            return {}, f"{STATUS_FILE} is not valid JSON"
