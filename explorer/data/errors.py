"""The one error a dataset raises: ``str()`` is one sentence for a person (the file, what is wrong, what to do),
worded for the GUI and the command line alike."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset that cannot be used."""


def reason(exc: BaseException) -> str:
    """What went wrong, as the end of a sentence."""
    found = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(found).lower() if isinstance(exc, OSError) else str(found)


def too_large(what: str, path: object, size: int, limit: int) -> DatasetError:
    """A file larger than any faithful copy of it can be, refused before it is hashed or read."""
    return DatasetError(f"{what} file {path} is {size:,} bytes, more than the {limit:,} a {what} file of that name "
                        "can have; delete it and download again")
