"""The trainers the app controls: children it started and live runs it adopted, with no Qt (a test holds it so).

A child is ``python -m explorer train --run-dir DIR`` (a fresh run the app prepared) or ``--resume DIR``, a
``subprocess.Popen`` apart from the app (:func:`explorer.system.host.start_detached`) rather than a QProcess: a
QProcess kills its process when it is destroyed, so a person could not close the app and keep a long run going,
and PySide6's ``QProcess.startDetached`` does not return the pid. A run the app did not start - one left
training in the background by an earlier window, or started from the command line - is *adopted*: its
trainer's pid comes from the run's lock, Stop asks it through the run's stop request like the app's own child
(on every system; no signal), and its end is seen when the lock goes.

:class:`RunController` is the one registry of them, shared by the Training and the Runs tabs; it only acts when
asked and reports what changed when polled (the Qt adapter, :mod:`explorer.gui.widgets.live_runs`, polls it on a
timer and turns the changes into signals). How a run ended is read from ``status.json`` (the trainer alone
writes it) and ``stderr.log``. Starting a child and asking a trainer to stop are each one small function
(:func:`launch`, :func:`request_stop`), over what differs between operating systems (:mod:`explorer.system.host`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from explorer.runs.folder import RunDir, RunDirError
from explorer.system import host
from explorer.system.files import NO_LINKS, open_regular, open_regular_fd
from explorer.system.launch import CHILD_CWD, child_argv

STOP_GRACE_S = 120.0  # a checkpoint of several big nets can take a while; kill only after this
STDERR_TAIL_LINES = 12
LIVE = ("starting", "running", "stopping")


class TrainerError(Exception):
    """A trainer that could not be started: ``str()`` is one sentence saying why and what to do."""


def launch(run_dir: Path, resume: bool, environment: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the trainer of ``run_dir`` as a child apart from the app (it may outlive it, at a lower priority).
    The trainer's own refusals of a run folder with links, or of a resume that would lose the run's record, are
    raised here (RunDirError) before a child is started; its stderr.log is opened here, never through a link.
    Raises OSError when the child or its log cannot be made."""
    run = RunDir(Path(run_dir))
    run.check_resumable() if resume else run.check_own()
    with os.fdopen(open_regular_fd(run.stderr_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_LINKS), "ab") as stderr:
        return host.start_detached(
            child_argv("train", "--resume" if resume else "--run-dir", str(run.path.resolve())),
            cwd=CHILD_CWD, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, **(environment or {})})


def request_stop(run: RunDir, pid: int) -> None:
    """Ask the trainer ``pid`` of ``run`` to checkpoint and exit "cancelled": the run's stop request, which it sees
    at its next step on every system. A folder that takes no file: the grace period ends in a kill, said as such."""
    try:
        host.request_stop(run.stop_path, pid)
    except OSError:
        pass


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of the child's stderr, where a traceback, a CUDA OOM or an import error ends up."""
    try:
        with open_regular(path, links=False) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Change:
    """What a poll found of one run: its trainer's new ``state``; ``ended`` once, when the trainer is gone, with
    how it ended in ``message`` (one sentence, then after a blank line the tail of ``stderr.log`` when that says
    more)."""

    path: Path
    state: str
    ended: bool = False
    message: str = ""


class Trainer:
    """One run's trainer: "starting" (loading), "running", "stopping", then "finished", "cancelled" or "failed"."""

    def __init__(self, run: RunDir, pid: int, child: subprocess.Popen | None, state: str) -> None:
        self.run, self.pid, self._child, self.state = run, pid, child, state
        self._stop_sent_at: float | None = None

    @property
    def adopted(self) -> bool:
        return self._child is None

    def is_live(self) -> bool:
        return self.state in LIVE

    def stop(self) -> bool:
        """Ask once; False when there is nothing to ask (a second request would cut the step being finished)."""
        if not self.is_live() or self.state == "stopping":
            return False
        request_stop(self.run, self.pid)
        self._stop_sent_at = time.monotonic()
        self.state = "stopping"
        return True

    def kill(self) -> None:
        host.kill(self.pid)

    def poll(self) -> Change | None:
        """What changed since the last poll (never blocks); a trainer that did not stop in the grace is killed."""
        if not self.is_live():
            return None
        if self._child is not None:
            code = self._child.poll()  # reaps the child when it has exited
            gone = code is not None
        else:
            code, gone = None, self.run.trainer_pid() != self.pid
        if not gone:
            if self.state == "starting" and not self.run.status().starting:
                self.state = "running"
                return Change(self.run.path, self.state)
            if self._stop_sent_at is not None and time.monotonic() - self._stop_sent_at > STOP_GRACE_S:
                self.kill()
            return None
        self._child = None
        self.state, message = self._ending(code)
        return Change(self.run.path, self.state, ended=True, message=message)

    def wait(self, timeout_s: float) -> Change | None:
        """Block until the trainer has exited (only when the app closes); its ending, or None when it lives on."""
        deadline = time.monotonic() + timeout_s
        while self.is_live() and time.monotonic() < deadline:
            if self._child is not None:
                try:
                    self._child.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return None
            else:
                time.sleep(0.05)
            change = self.poll()
            if change is not None and change.ended:
                return change
        return None

    def _ending(self, code: int | None) -> tuple[str, str]:
        status = self.run.status()
        state, pid = status.state, self.pid
        tail = stderr_tail(self.run.stderr_path)
        if state in ("finished", "cancelled"):
            return state.value, status.message
        stopped = self._stop_sent_at is not None
        if state == "failed" and not status.died:  # the trainer's own sentence
            first = status.message or "the trainer failed"
        elif stopped and code in (None, 0, -signal.SIGTERM):
            # Stopped before the trainer could say so (early in its start-up): a cancel, nothing recorded lost.
            return "cancelled", "stopped before training began; resume to continue"
        elif stopped:
            first = "the trainer did not stop in time and was killed; resume to continue from the last checkpoint"
        elif "ModuleNotFoundError" in tail or "ImportError" in tail:
            first = "the trainer could not import what it needs; check the Python environment, then resume"
        elif code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            first = (f"the trainer (pid {pid}) was killed by {name}"
                     f"{' (out of memory?)' if name == 'SIGKILL' else ''}; resume to continue from the last checkpoint")
        elif code is not None:
            first = (f"the trainer (pid {pid}) exited with code {code} without finishing; resume to continue "
                     "from the last checkpoint")
        else:
            first = f"the trainer (pid {pid}) stopped without finishing; resume to continue from the last checkpoint"
        return "failed", (f"{first}\n\n{tail}" if tail and first not in tail else first)


class RunController:
    """Every trainer this app started or adopted, by run folder. One trainer per run: starting a run whose
    trainer lives is refused, adopting it again is a no-op."""

    def __init__(self) -> None:
        self._trainers: dict[Path, Trainer] = {}

    def trainer(self, path: Path | None) -> Trainer | None:
        return self._trainers.get(Path(path)) if path is not None else None

    def is_live(self, path: Path | None) -> bool:
        trainer = self.trainer(path)
        return trainer is not None and trainer.is_live()

    def live_runs(self) -> list[Path]:
        return [path for path, trainer in self._trainers.items() if trainer.is_live()]

    def start(self, path: Path, resume: bool, environment: dict[str, str] | None = None) -> Trainer:
        """Start the trainer of ``path``; raises TrainerError (one sentence) when it cannot be started."""
        path = Path(path)
        if self.is_live(path):
            raise TrainerError(f"{path.name} is still training; stop it first")
        try:
            child = launch(path, resume, environment)
        except RunDirError as exc:
            raise TrainerError(str(exc)) from None
        except OSError as exc:
            raise TrainerError(f"could not start the trainer ({sys.executable} -m explorer train): "
                               f"{exc.strerror or exc}; check the Python environment and the run folder") from None
        trainer = self._trainers[path] = Trainer(RunDir(path), child.pid, child, "starting")
        return trainer

    def adopt(self, path: Path) -> Trainer | None:
        """Take control of the trainer that holds ``path`` now (the one already controlled if it lives); None
        when no trainer does."""
        path = Path(path)
        if self.is_live(path):
            return self._trainers[path]
        run = RunDir(path)
        pid = run.trainer_pid()
        if pid is None or pid <= 0:
            return None
        trainer = self._trainers[path] = Trainer(run, pid, None, "running")
        return trainer

    def stop(self, path: Path) -> bool:
        """Ask the trainer of ``path`` to checkpoint and exit, adopting it first when another window or the
        command line started it; False when nothing trains it (or it is stopping already)."""
        trainer = self.adopt(path)
        return trainer is not None and trainer.stop()

    def poll(self) -> list[Change]:
        """What changed since the last poll, run by run; a trainer's ending is reported once."""
        return [change for trainer in list(self._trainers.values()) if (change := trainer.poll()) is not None]

    def shutdown(self, keep_running: bool) -> list[Change]:
        """The app is closing. Keep: leave every trainer running and forget them. Otherwise stop them all at
        once and wait one grace period for their checkpoints (not one each), killing whichever outlives it."""
        live = [trainer for trainer in self._trainers.values() if trainer.is_live()]
        if keep_running:
            self._trainers.clear()
            return []
        for trainer in live:
            trainer.stop()
        deadline, ended = time.monotonic() + STOP_GRACE_S, []
        for trainer in live:
            change = trainer.wait(max(0.0, deadline - time.monotonic()))
            if change is None:
                trainer.kill()
                change = trainer.wait(5.0)
            ended += [change] if change is not None else []
        return ended
