"""The shape of each event line in ``metrics.jsonl`` (DESIGN.md "Run directory"), checked by every reader.

A line that parses as JSON can still be wrong: a hand-edited file, another program's, a disk that garbled a
block. Readers keep only the events whose fields have the types below, so a plot, the runs list or an export
never meets ``"iteration": "abc"`` or ``1e999``. Unknown event types pass (a newer trainer may write more);
unknown fields are ignored.
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


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _ints(v: Any) -> bool:
    return isinstance(v, list) and all(_int(x) for x in v)


def _numbers_or_none(v: Any) -> bool:
    return isinstance(v, list) and all(_number_or_none(x) for x in v)


# type -> (required fields, optional fields); each field with its check
SCHEMA: dict[str, tuple[dict[str, Callable[[Any], bool]], dict[str, Callable[[Any], bool]]]] = {
    "start": ({}, {"models": _texts, "iterations": _int, "milestones": _ints, "batch_size": _int,
                   "device": _text, "precision": _text, "dataset": _text, "resumed_from": _int, "threads": _int,
                   "threads_reason": _text,
                   "seeds": _int, "world": _int, "time": _number}),
    "resume": ({"iteration": _int}, {"time": _number}),
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
