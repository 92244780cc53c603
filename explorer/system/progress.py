"""Progress of long work as lines, one owner of both shapes: JSON lines on stdout for the app that follows a child
(``resnet-explorer … --progress json``), and the text a person reads on a terminal.

A JSON line is one object with a ``type``: ``download`` / ``decode`` / ``progress`` (``done`` of ``total``),
``ready`` and ``done`` (the outcome), each with the fields its writer adds."""

from __future__ import annotations

import json
from typing import Any


def json_line(kind: str, **fields: Any) -> str:
    """The line a child prints for the app: ``{"type": kind, …}``."""
    return json.dumps({"type": kind, **fields})


def parse_line(raw: bytes | str) -> dict | None:
    """A line the app read from a child: the object, or None for anything that is not one of ours."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def text_line(kind: str, done: int, total: int, what: str = "") -> str:
    """A terminal's words for a ``download`` (bytes), a ``decode`` (images) or an analysis's ``progress``."""
    if kind == "download":
        return f"downloading the dataset: {done / 2**20:.1f}/{total / 2**20:.1f} MiB"
    if kind == "decode":
        return f"decoding the images: {done:,}/{total:,}"
    return f"{what}: {done:,}/{total:,}" if what else f"{done:,}/{total:,}"


def show(stream, kind: str, done: int, total: int, what: str = "") -> None:
    """The terminal's line, updated in place (``\\r``) and ended when the work is done; nothing when ``stream`` is
    not a terminal (a log file or a pipe gets no counter)."""
    if stream.isatty():
        stream.write(f"\r\x1b[K{text_line(kind, done, total, what)}" + ("\n" if done >= total else ""))
        stream.flush()
