"""Writing a file so that a reader, a crash or a full disk never leaves half of it: the one atomic writer.

The new bytes go to a temporary file beside the target, created with ``O_EXCL | O_NOFOLLOW`` under a name no one
can predict (so a link planted in a data or run folder is never followed: the write cannot land anywhere but in
a fresh file of our own), are fsynced, and are renamed over the target. ``os.replace`` replaces a link at the
target itself rather than what it points to. On any failure the temporary file is removed, so a full disk is not
left fuller, and the old file is still there. No torch here; ``torch.save`` writes through :func:`atomic_writer`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import IO, Iterator


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); where a folder cannot be opened this way, skip it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _RecordingFile:
    """Passes writes through and remembers the first OSError: ``torch.save`` turns a full disk into a bare
    RuntimeError, and the caller wants the real reason back."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str):
        return getattr(self._f, name)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, *, durable: bool = True) -> Iterator[IO[bytes]]:
    """``with atomic_writer(p) as f: f.write(...)``: ``p`` holds the old bytes or all the new ones, never a mix.

    Raises OSError (ENOSPC for a full disk, EROFS, EACCES, ...) for any failure to write, also when the writer
    inside the block raised something else because a write failed underneath it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o644)
    recording = None
    try:
        with os.fdopen(fd, "wb") as f:
            recording = _RecordingFile(f)
            try:
                yield recording  # type: ignore[misc]
            except OSError:
                raise
            except Exception:
                if recording.error is not None:  # e.g. torch.save's RuntimeError over an ENOSPC
                    raise recording.error from None
                raise
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_folder(path.parent)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` (text is written as UTF-8) atomically."""
    with atomic_writer(path, durable=durable) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


def overwrite_in_place(path: str | os.PathLike, data: bytes) -> bool:
    """Last resort when the disk is full: write ``data`` over the blocks ``path`` already has, padded with
    spaces to its old length (JSON allows trailing whitespace), so no new block is needed. True when it worked;
    the file must already be at least as long as ``data`` and must not be a link."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        if size < len(data):
            return False
        os.pwrite(fd, data + b" " * (size - len(data)), 0)
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
