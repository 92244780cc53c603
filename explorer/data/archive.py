"""Extracting a dataset archive that nobody vouches for, so that nothing lands outside the data folder.

torchvision's ``extract_archive`` follows the archive's member names: ``../../.bashrc``, an absolute path, or a
link followed by a file written "through" it escape the folder. Here only the regular files the dataset needs
are taken, by name, under the one folder they belong in; links, devices, ``..`` and absolute names are refused
with a sentence; each file is written through the atomic writer (a fresh file of our own, never a link planted
in the folder) and only into a real folder (a link where the folder should be is refused too). tarfile's
``data`` filter, where the Python has it, is asked as well.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path, PurePosixPath

from explorer.system.files import atomic_writer
from explorer.data.errors import DatasetError, reason

CHUNK = 1 << 20


def _refuse(archive: Path, member: tarfile.TarInfo, why: str) -> DatasetError:
    return DatasetError(f"archive {archive} was refused: its member {member.name!r} {why}, which no genuine "
                        "archive has; delete it and download again")


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


def safe_extract(archive: Path, root: Path, folder: str, names: tuple[str, ...], what: str) -> None:
    """Write ``root/folder/<name>`` for each of ``names`` from ``archive`` (a .tar.gz), checking every member."""
    wanted = {str(PurePosixPath(folder, name)): name for name in names}
    target = real_folder(root / folder, what)
    found: set[str] = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or member.name.startswith(("/", "\\")):
                    raise _refuse(archive, member, "points outside the folder")
                if member.issym() or member.islnk():
                    raise _refuse(archive, member, "is a link")
                if not (member.isfile() or member.isdir()):
                    raise _refuse(archive, member, "is a device or another special file")
                if member.isdir() or str(path) not in wanted:
                    continue  # only the dataset's own files are written
                if hasattr(tarfile, "data_filter"):
                    tarfile.data_filter(member, str(root))  # raises tarfile.FilterError for anything unsafe
                source = tar.extractfile(member)
                if source is None:
                    raise _refuse(archive, member, "has no content")
                with source, atomic_writer(target / wanted[str(path)]) as out:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                os.chmod(target / wanted[str(path)], stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
                found.add(str(path))
    except DatasetError:
        raise
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DatasetError(f"{what} archive {archive} could not be extracted ({reason(exc)}); delete it and "
                           "download again") from None
    missing = sorted(set(wanted) - found)
    if missing:
        raise DatasetError(f"{what} archive {archive} lacks {missing[0]}; delete it and download again")
