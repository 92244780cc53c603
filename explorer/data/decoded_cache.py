"""Decoded image folders kept on disk, so a folder of one's own images is decoded once, not at every start.

The app checks a folder in one process (every image is decoded to be sure it can be read) and trains in another,
and a run that is resumed loads its data again: without a cache the same images were decoded two or three times.
Each folder, at each input size, is kept as one ``.npy`` file of uint8 ``[N, 3, S, S]`` (the training images,
then the test images) in the per-user cache folder (``$RESNET_EXPLORER_CACHE``, else ``$XDG_CACHE_HOME`` or
``~/.cache``, ``/resnet-explorer/decoded``), never in the image folder itself.

The file is named by a digest of what it was decoded from: the input size and, for every image in order, its
path, label, device, inode, size, mtime_ns and ctime_ns - the stamp the CIFAR checksums use. A program can set a
file's mtime back but not its ctime, so an image changed, replaced, added, removed or relabelled (moved to
another class) gives another name and is decoded again. Entries are written atomically (a temporary file, then a
rename); the least recently used beyond :data:`KEEP` entries or :data:`MAX_BYTES` in all are deleted - only
files of this module's own names, whatever else the folder holds. The cache is a speed-up only: a cache that
cannot be read or written (a full or read-only disk, a damaged file) is passed over and the images are decoded.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import numpy as np

from explorer.system.files import BINARY, open_regular_fd

KEEP = 4  # decoded folders kept; the oldest used goes first
MAX_BYTES = 8 << 30  # and no more than this in all (the newest entry is kept whatever its size)
ENTRY = re.compile(r"[0-9a-f]{40}\.npy")
TEMPORARY = re.compile(r"\.[0-9a-f]{40}\.npy\.\d+\.tmp")
STALE_TEMPORARY_S = 3600  # a temporary file this old is a killed writer's
VERSION = 1  # of the decoding (resize and crop); a change of it must change every name
READ_HEADER = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def cache_dir() -> Path:
    configured = os.environ.get("RESNET_EXPLORER_CACHE")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "resnet-explorer" / "decoded"


def entry_name(items, size: int) -> str | None:
    """The cache file's name for ``items`` ((path, label) pairs: training images, then test images) decoded at
    ``size``; None when an image cannot be looked at (the decoder then names it)."""
    digest = hashlib.sha256(f"v{VERSION} size {size}\n".encode())
    try:
        for path, label in items:
            st = os.stat(path)
            digest.update(f"{os.fsencode(path).hex()} {label} {st.st_dev} {st.st_ino} {st.st_size} "
                          f"{st.st_mtime_ns} {st.st_ctime_ns}\n".encode())
    except OSError:
        return None
    return digest.hexdigest()[:40] + ".npy"


def load(name: str, count: int, size: int) -> np.ndarray | None:
    """The decoded images kept under ``name`` when they are there and whole, else None.

    The entry is opened as the data folders' files are: without blocking and without following a link, and
    passed over unless it is a regular file (a FIFO planted under its name would block a reader forever). Its
    header is checked before anything is allocated: a damaged one that claims a huge array is a miss."""
    try:
        fd = open_regular_fd(cache_dir() / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in READ_HEADER:
                return None
            shape, fortran, dtype = READ_HEADER[version](f)
            if dtype != np.uint8 or fortran or shape != (count, 3, size, size):
                return None
            images = np.empty(shape, dtype=np.uint8)
            if f.readinto(memoryview(images).cast("B")) != images.nbytes:
                return None
            try:
                os.utime(f.fileno())  # recently used: kept the longest
            except (OSError, NotImplementedError):  # a read-only cache, or no utime of a descriptor here
                pass
    except (OSError, ValueError, EOFError, MemoryError):
        return None
    return images


def store(name: str, images: np.ndarray) -> None:
    """Keep ``images`` under ``name``; a cache folder that refuses them is passed over."""
    folder = cache_dir()
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | BINARY, 0o600)
        with os.fdopen(fd, "wb") as f:
            np.save(f, images, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, folder / name)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
        return
    _forget_old(folder)


def _forget_old(folder: Path) -> None:
    """Beyond the :data:`KEEP` most recently used entries (or :data:`MAX_BYTES`) the older go, and so do the
    temporary files a killed writer left; each file on its own, so one that cannot be removed stops nothing."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    entries, stale = [], time.time() - STALE_TEMPORARY_S
    for name in names:
        path = folder / name
        try:
            st = path.lstat()
            if ENTRY.fullmatch(name) and path.is_file() and not path.is_symlink():
                entries.append((st.st_mtime_ns, st.st_size, path))
            elif TEMPORARY.fullmatch(name) and st.st_mtime < stale:
                path.unlink()
        except OSError:
            continue
    total = 0
    for i, (_, size, path) in enumerate(sorted(entries, reverse=True)):
        total += size
        if i >= KEEP or (i > 0 and total > MAX_BYTES):
            try:
                path.unlink()
            except OSError:
                continue
