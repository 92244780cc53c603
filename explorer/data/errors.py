"""The one error a dataset raises: ``str()`` is one sentence for a person (the file, what is wrong, what to do),
worded for the GUI and the command line alike."""

from __future__ import annotations

import socket


class DatasetError(Exception):
    """A dataset that cannot be used."""


def reason(exc: BaseException) -> str:
    """What went wrong, as the end of a sentence: in a person's words where the system's are an internal's
    ("[errno -2] name or service not known" is no internet connection)."""
    cause = getattr(exc, "reason", None)  # urllib wraps the socket's error
    for failure in (exc, cause):
        if isinstance(failure, socket.gaierror):
            return "no internet connection (the server's name could not be looked up)"
        if isinstance(failure, (ConnectionRefusedError, ConnectionResetError, TimeoutError, socket.timeout)):
            return "the server could not be reached (no internet connection, or it is down)"
    found = cause or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(found).lower() if isinstance(exc, OSError) else str(found)


def too_large(what: str, path: object, size: int, limit: int) -> DatasetError:
    """A file larger than any faithful copy of it can be, refused before it is hashed or read."""
    return DatasetError(f"{what} file {path} is {size:,} bytes, more than the {limit:,} a {what} file of that name "
                        "can have; delete it and download again")
