"""How a run stands, one owner of the words: the states a run can be in, which of them a trainer writes, which may
be resumed, which no longer change by themselves, and the status a reader derives from ``status.json`` and the
run's lock. No torch, no Qt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

STATUS_FILE = "status.json"
# status.json is padded to this size, so that on a full disk the trainer can still overwrite it in place
# (the blocks are already the file's) with how the run ended.
STATUS_BYTES = 1024


class RunState(str, Enum):
    """A str enum: it compares equal to its value, and JSON writes it as that text."""

    CREATED = "created"  # a folder the app prepared; no trainer has started it yet
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNREADABLE = "unreadable"  # a folder whose config or status cannot be read (the runs list says why)

    def __str__(self) -> str:
        return self.value

    @property
    def written(self) -> bool:
        """A state the trainer writes into status.json (the others are a reader's conclusions)."""
        return self in WRITTEN

    @property
    def resumable(self) -> bool:
        """A run in this state may be continued (when no trainer holds it)."""
        return self in (RunState.CREATED, RunState.CANCELLED, RunState.FAILED)

    @property
    def settled(self) -> bool:
        """Nothing changes this state by itself: only a person starting a trainer does."""
        return self is not RunState.RUNNING


WRITTEN = (RunState.RUNNING, RunState.FINISHED, RunState.CANCELLED, RunState.FAILED)


@dataclass(frozen=True)
class RunStatus:
    """A run's status as its readers need it. ``busy``: a trainer holds the run's lock now; ``died``: the last
    trainer ended without saying how; ``problem``: what was wrong with status.json."""

    state: RunState
    message: str = ""
    iteration: int = 0
    pid: int | None = None
    busy: bool = False
    problem: str = ""
    died: bool = False

    @property
    def resumable(self) -> bool:
        return not self.busy and self.state.resumable

    @property
    def starting(self) -> bool:
        """A trainer holds the run but has not taken its first step (it loads data, builds networks)."""
        return self.busy and self.state is RunState.RUNNING and self.message == "starting"


def encode_status(state: RunState, message: str, iteration: int, pid: int | None) -> bytes:
    """status.json's bytes, padded to :data:`STATUS_BYTES` (a long message is cut to fit)."""
    if not isinstance(state, RunState) or not state.written:
        raise ValueError(f"state {state!r} is not one a trainer writes ({', '.join(s.value for s in WRITTEN)})")
    status = {"state": state.value, "message": message, "iteration": int(iteration), "pid": pid}
    data = json.dumps(status).encode()
    if len(data) > STATUS_BYTES - 1:
        status["message"] = message[: max(0, len(message) - (len(data) - STATUS_BYTES + 8))] + "…"
        data = json.dumps(status).encode()
    return data.ljust(STATUS_BYTES - 1) + b"\n"


def decode_status(text: str) -> tuple[dict, str]:
    """What status.json says, checked field by field: (the valid fields, the problem in words or "")."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return {}, f"{STATUS_FILE} is not valid JSON"
    if not isinstance(raw, dict):
        return {}, f"{STATUS_FILE} is not a JSON object"
    written = [s.value for s in WRITTEN]
    checks = (("state", lambda v: v in written, "one of " + ", ".join(written)),
              ("message", lambda v: isinstance(v, str), "a text"),
              ("iteration", lambda v: type(v) is int and v >= 0, "a whole number"),
              ("pid", lambda v: v is None or type(v) is int, "a process id"))
    clean = {}
    for key, ok, what in checks:
        if key in raw and not ok(raw[key]):
            return clean, f"{STATUS_FILE} is invalid ({key} {raw[key]!r} is not {what})"
        if key in raw:
            clean[key] = raw[key]
    if "state" not in clean:
        return clean, f"{STATUS_FILE} is invalid (it has no state)"
    clean["state"] = RunState(clean["state"])
    return clean, ""


def derive_status(raw: dict, problem: str, holder: int | None, *, has_file: bool, started: bool) -> RunStatus:
    """The status a reader concludes: "running" while a trainer holds the lock (``holder``), "failed" when the
    last trainer died without saying how it ended, "created" for a folder no trainer has started yet."""
    state = raw.get("state")
    message, iteration = raw.get("message", ""), raw.get("iteration", 0)
    pid = holder if holder is not None else raw.get("pid")
    if holder is not None:
        if state not in (RunState.FINISHED, RunState.CANCELLED, RunState.FAILED):
            state = RunState.RUNNING
        return RunStatus(state, message, iteration, pid, busy=True, problem=problem)
    if problem and not has_file:
        if not started:
            return RunStatus(RunState.CREATED, "not started yet; Resume starts it", iteration, pid)
        return RunStatus(RunState.FAILED, "the trainer stopped without saying how (no status was written); resume "
                         "to continue from the last checkpoint", iteration, pid, died=True)
    if problem or state is RunState.RUNNING:
        message = (f"{problem}; resume to continue from the last checkpoint" if problem else
                   f"the trainer stopped without finishing (pid {raw.get('pid')}); resume to continue from the last "
                   "checkpoint")
        return RunStatus(RunState.FAILED, message, iteration, pid, problem=problem, died=True)
    return RunStatus(state, message, iteration, pid, problem=problem)
