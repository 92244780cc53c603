"""Files in folders nobody vouches for (a data folder, a run folder): the one atomic writer, and reads that never
hang or follow a trap.

Reading: a FIFO, a device or a socket planted where a file belongs would block a reader forever, so every file
the app reads from such a folder is opened non-blocking and refused unless it is a regular file
(:func:`open_regular`, :func:`read_regular`). The files of a folder of our own (a run folder) are also never read
through a link (``links=False``): a run folder may come from someone else, and what it holds must be its own.

Writing: a file is replaced so that a reader, a crash or a full disk never leaves half of it.

The new bytes go to a temporary file beside the target, created with ``O_EXCL | O_NOFOLLOW`` under a name no one
can predict (so a link planted in a data or run folder is never followed: the write cannot land anywhere but in
a fresh file of our own), are fsynced, and are renamed over the target. ``os.replace`` replaces a link at the
target itself rather than what it points to. On any failure the temporary file is removed, so a full disk is not
left fuller, and the old file is still there. No torch here; ``torch.save`` writes through :func:`atomic_writer`.
A writer killed between the write and the rename leaves its temporary file behind; the next writer of the folder
removes those whose process is gone (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import IO, Iterator

from explorer.system.processes import alive

NO_LINKS = getattr(os, "O_NOFOLLOW", 0)
# The atomic writer's temporary name: ".<target>.<pid>-<8 hex>.tmp", the pid that of its writer.
_TEMPORARY = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")
BINARY = getattr(os, "O_BINARY", 0)  # Windows opens descriptors as text (a write of \n gives \r\n) without it


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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_LINKS | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags | BINARY, 0o644)
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
        fd = os.open(path, os.O_WRONLY | NO_LINKS | getattr(os, "O_CLOEXEC", 0) | BINARY)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        if size < len(data):
            return False
        os.lseek(fd, 0, os.SEEK_SET)  # not os.pwrite: Windows has none
        os.write(fd, data + b" " * (size - len(data)))
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def open_regular(path: str | os.PathLike, *, links: bool = True) -> IO[bytes]:
    """``path`` opened for reading, refused with OSError(EINVAL) unless it is a regular file (a FIFO would block,
    a device would never end). Links to a regular file are followed, unless ``links=False`` (then a link at
    ``path`` is refused with OSError(ELOOP)): a run folder's own files."""
    return os.fdopen(open_regular_fd(path, os.O_RDONLY | (0 if links else NO_LINKS)), "rb")


def open_regular_fd(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """A descriptor of ``path`` opened with ``flags`` without blocking (a FIFO opened for writing with no reader
    would block forever), refused unless what is there, or what gets made, is a regular file. Windows has no
    FIFOs to open and no ``O_NONBLOCK``: there the file is opened as it is."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | nonblocking | getattr(os, "O_CLOEXEC", 0) | BINARY, mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if nonblocking:
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, *, links: bool = True) -> bytes:
    with open_regular(path, links=links) as f:
        return f.read()


def read_text(path: str | os.PathLike, *, links: bool = True) -> str:
    """The UTF-8 text of a regular file (UnicodeDecodeError for other bytes, OSError for anything else)."""
    return read_regular(path, links=links).decode("utf-8")


def is_link(path: str | os.PathLike) -> bool:
    """Whether ``path`` itself is a symbolic link (False when it cannot be looked at)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def unwritable(folder: str | os.PathLike) -> OSError | None:
    """Why nothing can be written into ``folder`` (a read-only file system, no permission), or None: asked before
    minutes of work whose result would have nowhere to go."""
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    if read_only:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        return OSError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    return None


def own_folder(path: str | os.PathLike) -> Path:
    """``path`` as a folder of our own, made if need be: OSError(ELOOP) when a link is there (nothing is made in,
    or removed from, a folder someone pointed elsewhere), FileExistsError when a file is."""
    path = Path(path)
    if is_link(path):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    path.mkdir(exist_ok=True)
    return path


def remove_entry(path: str | os.PathLike) -> None:
    """Remove ``path`` whatever it is, never following a link: a link or a file is unlinked (what a link points
    to stays), a folder is removed with what it holds (``shutil.rmtree`` does not follow the links inside)."""
    path = Path(path)
    if path.is_dir() and not is_link(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def writer_gone(name: str, pid_pattern: re.Pattern = _TEMPORARY) -> bool:
    """Whether ``name`` is a temporary of ours (``pid_pattern``'s first group is its writer's pid) whose writer is
    no longer alive: a process killed between writing it and renaming it, never to come back for it."""
    match = pid_pattern.match(name)
    if match is None:
        return False
    pid = int(match.group(1))
    return pid == os.getpid() or not alive(pid)  # this process is not writing it now: it is about to write anew


def remove_stale_temporaries(folder: str | os.PathLike, pid_pattern: re.Pattern = _TEMPORARY) -> list[str]:
    """Remove the temporaries in ``folder`` (the atomic writer's files, or what ``pid_pattern`` names) whose
    writer is gone; returns their names. A folder that is a link, or cannot be listed, is left alone."""
    if is_link(folder):
        return []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    stale = [name for name in names if writer_gone(name, pid_pattern)]
    for name in stale:
        remove_entry(Path(folder) / name)
    return stale


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
