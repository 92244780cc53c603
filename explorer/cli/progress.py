"""The one writer of a command's progress: JSON lines on stdout for the app that started the command as a child
(``--progress json``; shapes in :mod:`explorer.system.progress`), or a counter on the terminal for a person."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from explorer.system.progress import json_line, show

MODES = ("line", "json")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=MODES, default="line", help=argparse.SUPPRESS)  # the app's


class Progress:
    def __init__(self, mode: str = "line") -> None:
        self.json = mode == "json"

    def counter(self, kind: str, what: str = "") -> Callable[..., None]:
        """``count(done, total, **fields)`` for work of ``kind`` ("download", "decode", "progress")."""

        def count(done: int, total: int, **fields: Any) -> None:
            if self.json:
                print(json_line(kind, done=done, total=total, **fields), flush=True)
            else:
                show(sys.stderr, kind, done, total, what)

        return count

    def outcome(self, kind: str, sentence: str, **fields: Any) -> None:
        """How the work ended: a ``kind`` line for the app ("done", "ready"), the sentence for a person."""
        if self.json:
            print(json_line(kind, **fields), flush=True)
        else:
            print(sentence, flush=True)
