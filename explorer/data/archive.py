"""Extracting a dataset archive that nobody vouches for, so that nothing lands outside the data folder.

torchvision's ``extract_archive`` follows the archive's member names: ``../../.bashrc``, an absolute path, or a
link followed by a file written "through" it escape the folder. Here only the regular files the dataset needs
are taken, by name, under the one folder they belong in; links, devices, ``..`` and absolute names are refused
with a sentence; each file is written through the atomic writer (a fresh file of our own, never a link planted
in the folder) and only into a real folder (a link where the folder should be is refused too). tarfile's
``data`` filter, where the Python has it, is asked as well.

Nothing an archive says is believed about sizes either: a 1.1 MB archive can hold a member of 400 MB of zeros,
so every member larger than the dataset's file of that name can be (any other member: than its largest file)
is refused by its header before a byte is written, and so is an archive of more members than a genuine one
could have. A file that is not a .tar.gz, or one damaged on the way, is one sentence naming it; a disk that
cannot take the files is another.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, Mapping

from explorer.system.files import atomic_writer
from explorer.data.errors import DatasetError, reason

CHUNK = 1 << 20
MAX_MEMBERS = 64  # the official archives hold a folder and a handful of files
# What reading a damaged gzip stream or tar can raise (BadGzipFile is an OSError).
DAMAGED = (OSError, EOFError, tarfile.TarError, zlib.error)


class _Damaged(Exception):
    """A member's bytes could not be read: the archive's fault, not the disk's."""


def _refuse(archive: Path, what_it_has: str) -> DatasetError:
    return DatasetError(f"archive {archive} was refused: {what_it_has}, which no genuine archive has; delete it "
                        "and download again")


def real_folder_or_absent(path: Path, what: str) -> None:
    """Refuse a link or a file where the dataset's own folder belongs (nothing may be written through it)."""
    if path.is_symlink():
        raise DatasetError(f"{path} is a link, not a folder; the {what} folder must hold its files itself - "
                           "remove the link and try again")
    if path.exists() and not path.is_dir():
        raise DatasetError(f"{path} is a file where the {what} folder should be; remove it and try again")


def real_folder(path: Path, what: str) -> Path:
    """``path`` as a real folder (made if missing); a link or a file there is refused with a sentence."""
    real_folder_or_absent(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot make the {what} folder {path} ({reason(exc)}); choose another data folder") from None
    return path


def safe_extract(archive: Path, root: Path, folder: str, limits: Mapping[str, int], what: str) -> None:
    """Write ``root/folder/<name>`` for each name of ``limits`` (the most bytes that file can have) from
    ``archive`` (a .tar.gz), checking every member before anything of it is written."""
    wanted = {str(PurePosixPath(folder, name)): name for name in limits}
    largest = max(limits.values())
    target = real_folder(root / folder, what)
    found: set[str] = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise _refuse(archive, f"it has more than {MAX_MEMBERS} members")
                path = str(PurePosixPath(member.name))
                _check_member(archive, member, limits[wanted[path]] if path in wanted else largest)
                if member.isdir() or path not in wanted:
                    continue  # only the dataset's own files are written
                if hasattr(tarfile, "data_filter"):
                    tarfile.data_filter(member, str(root))  # raises tarfile.FilterError for anything unsafe
                source = tar.extractfile(member)
                if source is None:
                    raise _refuse(archive, f"its member {member.name!r} has no content")
                _write(source, target / wanted[path], what)
                found.add(path)
    except DatasetError:
        raise
    except (_Damaged, *DAMAGED) as exc:
        why = reason(exc.__cause__ if isinstance(exc, _Damaged) else exc)
        raise DatasetError(f"{what} archive {archive} is damaged or is not a .tar.gz archive ({why}); delete it and "
                           f"download again, or put the genuine {archive.name} there") from None
    missing = sorted(set(wanted) - found)
    if missing:
        raise DatasetError(f"{what} archive {archive} lacks {missing[0]}; delete it and download again")


def _check_member(archive: Path, member: tarfile.TarInfo, limit: int) -> None:
    """Refuse a member that points outside, is no plain file or folder, or is larger than ``limit`` bytes."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or member.name.startswith(("/", "\\")):
        raise _refuse(archive, f"its member {member.name!r} points outside the folder")
    if member.issym() or member.islnk():
        raise _refuse(archive, f"its member {member.name!r} is a link")
    if not (member.isfile() or member.isdir()):
        raise _refuse(archive, f"its member {member.name!r} is a device or another special file")
    if member.size > limit:
        raise _refuse(archive, f"its member {member.name!r} is {member.size:,} bytes, more than the {limit:,} a "
                               "file of that name can have")


def _write(source: IO[bytes], path: Path, what: str) -> None:
    """Copy a member to ``path`` (atomically, never through a link); a failure to read it is the archive's
    (``_Damaged``), a failure to write it the disk's (one sentence here)."""
    try:
        with source, atomic_writer(path) as out:
            while True:
                try:
                    chunk = source.read(CHUNK)
                except DAMAGED as exc:
                    raise _Damaged() from exc
                if not chunk:
                    break
                out.write(chunk)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    except OSError as exc:
        raise DatasetError(f"could not write {what} file {path} ({reason(exc)}); free some space or choose another "
                           "data folder") from None
