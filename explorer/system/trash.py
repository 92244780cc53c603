"""Deleting a person's files the undoable way: into the desktop's trash, where they can be restored from the file
manager, as the freedesktop.org Trash specification has it (Linux and the BSDs: ``$XDG_DATA_HOME/Trash``) or
into ``~/.Trash`` on macOS. Only a move within one file system counts (a rename: instant, nothing copied); where
there is no trash on the same file system, :func:`move_to_trash` says so and the caller asks before deleting
for good. (Qt's ``QFile.moveToTrash`` refused every folder on the machines we build on, without a reason.)
"""

from __future__ import annotations

import os
import sys
import time
import urllib.parse
from pathlib import Path


def trash_folder() -> Path | None:
    """Where this user's trash is, or None on a system without one we know."""
    if sys.platform == "darwin":
        return Path.home() / ".Trash"
    if os.name != "posix":
        return None
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Trash"


def _free_name(folder: Path, name: str) -> str:
    candidate, n = name, 1
    while (folder / candidate).exists() or (folder.parent / "info" / f"{candidate}.trashinfo").exists():
        n += 1
        candidate = f"{name}.{n}"
    return candidate


def move_to_trash(path: str | os.PathLike) -> Path | None:
    """Move ``path`` into the trash; returns where it went, or None when there is no trash it can be moved to
    (another file system, no trash on this system). Raises OSError when the move itself fails."""
    path = Path(path).absolute()
    trash = trash_folder()
    if trash is None:
        return None
    files = trash if sys.platform == "darwin" else trash / "files"
    try:
        files.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.stat(files).st_dev != os.stat(path.parent).st_dev:
            return None  # a rename cannot cross file systems; copying a run's checkpoints is no "move"
    except OSError:
        return None
    name = _free_name(files, path.name)
    if sys.platform != "darwin":
        info = trash / "info"
        info.mkdir(exist_ok=True, mode=0o700)
        # Written first, as the specification asks: a file in files/ without its info is lost to the file manager.
        (info / f"{name}.trashinfo").write_text(
            f"[Trash Info]\nPath={urllib.parse.quote(str(path))}\n"
            f"DeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S')}\n", encoding="utf-8")
    try:
        os.rename(path, files / name)
    except OSError:
        if sys.platform != "darwin":
            (trash / "info" / f"{name}.trashinfo").unlink(missing_ok=True)
        raise
    return files / name
