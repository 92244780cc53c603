"""The terminal as a process meets it: a person may close it (SIGHUP, then every write fails), or the reader of a
pipe may go away (``resnet-explorer train … 2>&1 | head -3``), while the process still has work to finish.
What a process says on stderr is a courtesy to whoever reads it, never part of its work: a write that finds
nobody there is dropped, and so is everything said after it, instead of ending the work as a failure."""

from __future__ import annotations

import os
from typing import TextIO


class Terminal:
    """``stream`` (stderr) that never raises on writing: once a write or a flush fails, the reader is gone for
    good - the stream's descriptor is pointed at the null device, so that the text still buffered, and Python's
    own flush at exit, meet no closed pipe either (that flush would end the process with code 120)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except (OSError, ValueError):  # ValueError: the stream was closed under us
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._lose()

    def isatty(self) -> bool:
        return not self.gone and self._stream.isatty()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _lose(self) -> None:
        self.gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._stream.fileno())
            finally:
                os.close(null)
            self._stream.flush()  # what it still buffers goes to the null device now
        except (OSError, ValueError):
            pass
