"""The event vocabulary of ``metrics.jsonl`` (docs/architecture.md, "The run folder"): one owner of the shape of
every event, for the one writer and for every reader, and of the rule a ``resume`` event makes.

The writer (:meth:`explorer.runs.folder.RunDir.append_event`) refuses an event this schema does not know or whose
fields have the wrong types: a new kind of event is added here first. A line that parses as JSON can still be
wrong for a reader - a hand-edited file, another program's, a disk that garbled a block: readers keep only the
events whose fields have the types below, so a plot, the runs list or an export never meets ``"iteration": "abc"``
or ``1e999``. Readers let unknown event types pass (a newer trainer may write more) and ignore unknown fields.
"""

from __future__ import annotations

import math
from typing import Any, Callable


def _int(v: Any) -> bool:
    return type(v) is int and v >= 0


def _number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) < 1e300  # an int of 400 digits is no metric (and math.isfinite overflows on it)
    return isinstance(v, float) and math.isfinite(v)


def _number_or_none(v: Any) -> bool:
    return v is None or _number(v)


def _flag(v: Any) -> bool:
    return isinstance(v, bool)


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _ints(v: Any) -> bool:
    return isinstance(v, list) and all(_int(x) for x in v)


def _numbers_or_none(v: Any) -> bool:
    return isinstance(v, list) and all(_number_or_none(x) for x in v)


def stepping(fused: bool, graphs: bool) -> str:
    """How a run's steps were launched (its start event's ``fused`` and ``graphs``), in the words the command line,
    the Training tab and the runs list show: "" for one network after another, kernels launched one by one."""
    return ", ".join(word for word, on in (("fused", fused), ("CUDA graphs", graphs)) if on)


def stepping_of(start: dict) -> str:
    """:func:`stepping` of a start event (a run from before these fields: "")."""
    return stepping(start.get("fused") is True, start.get("graphs") is True)


def where_and_how(device: str, precision: str, stepped: str = "") -> str:
    """"cpu / bf16", "cuda / bf16, fused, CUDA graphs": where a run trained and how, as the runs list and the
    Training tab's progress line say it."""
    where = " / ".join(w for w in (device, precision) if w)
    return ", ".join(w for w in (where, stepped) if w)


# type -> (required fields, optional fields); each field with its check
SCHEMA: dict[str, tuple[dict[str, Callable[[Any], bool]], dict[str, Callable[[Any], bool]]]] = {
    "start": ({}, {"models": _texts, "iterations": _int, "milestones": _ints, "batch_size": _int,
                   "device": _text, "precision": _text, "dataset": _text, "resumed_from": _int, "threads": _int,
                   "threads_reason": _text, "fused": _flag, "graphs": _flag,
                   "seeds": _int, "world": _int, "time": _number}),
    "resume": ({"iteration": _int}, {"time": _number}),
    "threads": ({"iteration": _int, "threads": _int}, {"reason": _text, "time": _number}),
    "train": ({"model": _text, "iteration": _int},
              {"error": _number_or_none, "loss": _number_or_none, "epoch": _number_or_none, "lr": _number_or_none,
               "images_per_sec": _number_or_none, "time": _number, "seed": _int}),
    "eval": ({"model": _text, "iteration": _int},
             {"test_error": _number_or_none, "test_loss": _number_or_none, "time": _number, "seed": _int}),
    "grad": ({"model": _text, "iteration": _int, "norms": _numbers_or_none},
             {"layers": _texts, "time": _number, "seed": _int}),
    "diverged": ({"model": _text, "iteration": _int}, {"message": _text, "time": _number, "seed": _int}),
    "download": ({}, {"done": _int, "total": _int, "time": _number}),
    "decode": ({"done": _int, "total": _int}, {"time": _number}),
    "end": ({}, {"status": _text, "message": _text, "time": _number}),
}


def valid_event(event: Any) -> bool:
    """True when ``event`` is a dict with a text ``type`` and, for a known type, fields of the right types."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    required, optional = SCHEMA.get(event["type"], ({}, {}))
    for key, check in required.items():
        if key not in event or not check(event[key]):
            return False
    if "layers" in event and "norms" in event and len(event["layers"]) != len(event["norms"]):
        return False
    return all(check(event[key]) for key, check in optional.items() if key in event)


def check_event(event: Any) -> None:
    """For the writer: raise ValueError unless ``event`` is of a type this schema knows, with fields of the
    right types (a reader may be lenient about unknown types; the writer is not)."""
    if not isinstance(event, dict) or event.get("type") not in SCHEMA:
        raise ValueError(f"event type {event.get('type') if isinstance(event, dict) else event!r} is not in the "
                         "event schema (explorer.runs.events.SCHEMA)")
    if not valid_event(event):
        raise ValueError(f"event {event!r} does not fit the event schema")


def superseded(iteration: Any, resumed_at: int) -> bool:
    """The resume rule: a point of ``iteration`` written before a ``resume`` to ``resumed_at`` is superseded
    (a killed trainer logged it after its last checkpoint; the resumed one logs that stretch again)."""
    return isinstance(iteration, int) and iteration > resumed_at


def effective_events(events: list[dict]) -> list[dict]:
    """The events of the run as it continued: each ``resume`` drops the points it supersedes."""
    kept: list[dict] = []
    for event in events:
        if event.get("type") == "resume":
            kept = [e for e in kept if not superseded(e.get("iteration"), event.get("iteration", 0))]
        kept.append(event)
    return kept
