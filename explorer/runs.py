"""The run directory, the single source of truth of a training run; no torch here.

``<runs-dir>/<YYYYmmdd-HHMMSS>-<name>/`` holds ``config.json`` (written once, atomically), ``status.json``
(replaced atomically), ``metrics.jsonl`` (append-only, one JSON object a line, flushed per line) and
``checkpoints/<model>.pt``. The trainer writes it; the GUI and ``resnet-explorer runs`` read it, live or
finished, tolerating a partial last line and a trainer that died without a word.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, IO

from explorer.config import RunConfig

STATES = ("running", "finished", "cancelled", "failed")
CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"


class RunDirError(Exception):
    """A run directory that cannot be created, written or read; the message is one sentence for a person."""


def default_runs_dir() -> Path:
    """``$RESNET_EXPLORER_RUNS``, else ``$XDG_DATA_HOME`` (or ``~/.local/share``) ``/resnet-explorer/runs``."""
    explicit = os.environ.get("RESNET_EXPLORER_RUNS")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "resnet-explorer" / "runs"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file is in the way where a folder should be"
    return (exc.strerror or str(exc)).lower()


def _write_error(where: Path | str, exc: OSError) -> RunDirError:
    return RunDirError(f"cannot write runs to {where}: {_reason(exc)}; choose another --runs-dir")


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync it and rename it over ``path``: readers see the old
    file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finite(value: Any) -> Any:
    """Replace NaN and infinities by None, so every line is strict JSON (losses can be NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] not in "ZX"
    except (OSError, ValueError, IndexError):
        return True


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")
    return cleaned[:80] or "run"


class RunDir:
    """One run's folder. Create it with :meth:`create` (the GUI and the CLI), open an existing one with
    :meth:`open`. Writing events keeps ``metrics.jsonl`` open; :meth:`close` releases it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._events: IO[str] | None = None

    @classmethod
    def create(cls, runs_dir: str | Path, config: RunConfig) -> "RunDir":
        """Make ``<runs_dir>/<YYYYmmdd-HHMMSS>-<name>/`` (``-2``, ``-3`` … on a clash) and write ``config.json``.
        Raises :class:`RunDirError` when the folder cannot be written: read-only, not a folder, disk full."""
        runs_dir = Path(runs_dir).expanduser()
        if runs_dir.exists() and not runs_dir.is_dir():
            raise RunDirError(f"cannot write runs to {runs_dir}: it is a file, not a folder; choose another --runs-dir")
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
            raise RunDirError(f"cannot write runs to {runs_dir}: too many runs named {stem}; choose another --name")
        try:
            # config.json doubles as the probe write: a read-only or full disk fails here, before any training.
            _atomic_write(path / CONFIG_FILE, config.to_json() + "\n")
        except OSError as exc:
            try:
                path.rmdir()
            except OSError:
                pass
            raise _write_error(runs_dir, exc) from None
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        path = Path(path).expanduser()
        if not (path / CONFIG_FILE).is_file():
            raise RunDirError(f"{path} is not a run folder (it has no {CONFIG_FILE}); choose a folder made by "
                              "resnet-explorer train")
        return cls(path)

    def config(self) -> RunConfig:
        try:
            return RunConfig.from_json((self.path / CONFIG_FILE).read_text(encoding="utf-8"))
        except OSError as exc:
            raise RunDirError(f"cannot read {self.path / CONFIG_FILE}: {_reason(exc)}") from None
        except ValueError as exc:
            raise RunDirError(f"{self.path / CONFIG_FILE} is not a usable run config: {exc}") from None

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def stderr_path(self) -> Path:
        """Where the GUI sends the training child's stderr."""
        return self.path / "stderr.log"

    def checkpoint_path(self, model_name: str) -> Path:
        return self.path / CHECKPOINT_DIR / f"{model_name}.pt"

    def append_event(self, event: dict) -> None:
        """One strict-JSON line, flushed so a reader (or a crash) sees every whole line written so far.
        No fsync per line: a power cut may lose the last lines, a killed process loses nothing flushed."""
        if self._events is None:
            self._events = open(self.metrics_path, "a", encoding="utf-8")
        self._events.write(json.dumps(_finite(event), allow_nan=False) + "\n")
        self._events.flush()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    def read_events(self, offset: int = 0, skip: bytes | None = None) -> tuple[list[dict], int]:
        """Events from byte ``offset`` to the last complete line, and the offset to read from next time.
        A partial last line (still being written) is left for the next call; corrupt whole lines are skipped,
        and so are lines containing ``skip`` (the runs list passes over the many ``train`` lines unparsed)."""
        try:
            with open(self.metrics_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            if skip is not None and skip in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events, offset + end

    def write_status(self, state: str, message: str = "", iteration: int = 0, pid: int | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"state {state!r} is not one of {', '.join(STATES)}")
        status = {"state": state, "message": message, "iteration": int(iteration), "pid": pid}
        _atomic_write(self.path / STATUS_FILE, json.dumps(status) + "\n")

    def status(self) -> dict:
        """``status.json``, except that a "running" run whose trainer is gone reads "failed"."""
        try:
            status = json.loads((self.path / STATUS_FILE).read_text(encoding="utf-8"))
            if not isinstance(status, dict) or status.get("state") not in STATES:
                raise ValueError("not a status")
        except (OSError, ValueError):
            return {"state": "failed", "iteration": 0, "pid": None,
                    "message": "the trainer stopped without finishing (no status was written); "
                               "resume to continue from the last checkpoint"}
        status = {"message": "", "iteration": 0, "pid": None, **status}
        pid = status.get("pid")
        if status["state"] == "running" and not (isinstance(pid, int) and _pid_alive(pid)):
            status["state"] = "failed"
            status["message"] = (f"the trainer stopped without finishing (pid {pid}); "
                                 "resume to continue from the last checkpoint")
        return status


def effective_events(events: list[dict]) -> list[dict]:
    """The events of the run as it continued: a ``{"type": "resume", "iteration": k}`` line drops the events
    with iteration > k written before it (a killed trainer logged them after its last checkpoint)."""
    kept: list[dict] = []
    for event in events:
        if event.get("type") == "resume":
            k = event.get("iteration", 0)
            kept = [e for e in kept if not (isinstance(e.get("iteration"), int) and e["iteration"] > k)]
        kept.append(event)
    return kept


@dataclass(frozen=True)
class RunInfo:
    """One line of the runs list (``resnet-explorer runs``, the GUI's runs browser)."""

    path: Path
    name: str
    created: float
    state: str
    message: str
    models: tuple[str, ...]
    iteration: int
    iterations: int
    best_test_error: dict[str, float]
    device: str
    precision: str


def run_info(run: RunDir) -> RunInfo:
    config = run.config()
    status = run.status()
    best: dict[str, float] = {}
    device, precision = config.train.device, config.train.precision
    events, _ = run.read_events(skip=b'"type": "train"')
    for event in effective_events(events):
        if event.get("type") == "start":
            device = event.get("device", device)
            precision = event.get("precision", precision)
        elif event.get("type") == "eval" and isinstance(event.get("test_error"), (int, float)):
            model = event.get("model", "")
            best[model] = min(best.get(model, math.inf), float(event["test_error"]))
    return RunInfo(
        path=run.path, name=config.name, created=(run.path / CONFIG_FILE).stat().st_mtime,
        state=status["state"], message=status.get("message", ""),
        models=tuple(m.name for m in config.model_configs()), iteration=int(status.get("iteration") or 0),
        iterations=config.train.iterations, best_test_error=best, device=device, precision=precision,
    )


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """The runs in ``runs_dir``, newest first. Folders without a readable ``config.json`` are skipped."""
    runs_dir = Path(runs_dir).expanduser()
    if not runs_dir.is_dir():
        return []
    infos = []
    for path in runs_dir.iterdir():
        if not (path / CONFIG_FILE).is_file():
            continue
        try:
            infos.append(run_info(RunDir(path)))
        except (RunDirError, OSError):
            continue
    return sorted(infos, key=lambda info: (info.created, info.path.name), reverse=True)
