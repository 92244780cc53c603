"""Downloading one file from the internet into place: streamed, checked against a SHA-256 prefix, written
atomically (the file is there whole and checked, or not at all), with progress in bytes and a failure said in a
person's words ("no internet connection", not "[Errno -2] Name or service not known")."""

from __future__ import annotations

import hashlib
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from explorer.system.files import atomic_writer

CHUNK = 1 << 20
TIMEOUT_S = 60


class DownloadError(Exception):
    """``str()`` is the end of a sentence: why the download failed."""


def why(exc: BaseException) -> str:
    """A failed download's reason in words."""
    inner = getattr(exc, "reason", exc)
    if isinstance(inner, socket.gaierror) or isinstance(exc, ConnectionRefusedError):
        return "no internet connection"
    if isinstance(inner, (socket.timeout, TimeoutError)):
        return "the server did not answer in time"
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} ({exc.reason})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(inner) or type(exc).__name__


def download(url: str, path: Path, sha256_prefix: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch ``url`` into ``path``; DownloadError when it fails or its hash does not start with ``sha256_prefix``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer, atomic_writer(path) as out:
            total, done = int(answer.headers.get("Content-Length") or 0), 0
            while chunk := answer.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, max(total, done))
            if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
                raise DownloadError("the download is corrupt (its checksum does not match)")
    except DownloadError:
        raise
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise DownloadError(why(exc)) from None
    return path
