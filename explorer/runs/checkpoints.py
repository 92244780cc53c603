"""Checkpoints as sets: where they live, which one is current, which are kept; no torch here.

``checkpoints/iter-00000400/`` holds one file per model and ``trainer.pt``, all of one iteration. A new set is
written into a hidden ``.partial-…`` folder beside the others and renamed to its ``iter-…`` name only when every
file is complete; then ``checkpoints/LATEST`` (one line: the set's name) is replaced atomically. A kill at any
instant leaves LATEST naming a complete set: the old one until the switch, the new one after. The previous set
is deleted only after the switch, unless it is one of the kept iterations (the start, each lr drop, the end),
which analyses compare. Readers here never need torch: the iteration is in the set's name.

Nothing here reads, writes or deletes through a link: a set or a file that is a link is no set of ours, a
``checkpoints/`` that is a link is refused before anything is made or removed in it, and removing a set never
follows a link inside it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from explorer.system.files import atomic_write, own_folder, read_text, remove_entry, remove_stale_temporaries

POINTER = "LATEST"
TRAINER_FILE = "trainer.pt"
_SET = re.compile(r"^iter-(\d{8})$")
PARTIAL_PREFIX = ".partial-"
_PARTIAL = re.compile(r"^\.partial-iter-\d{8}-(\d+)$")  # the writer's pid last


class CheckpointError(Exception):
    """Checkpoints that cannot be used (missing, damaged, foreign); the message is one sentence for a person."""


def set_name(iteration: int) -> str:
    return f"iter-{iteration:08d}"


def _own_file(path: Path) -> bool:
    """A regular file, not a link to one."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _own_folder(path: Path) -> bool:
    """A folder, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def complete_sets(folder: Path) -> dict[int, Path]:
    """Every complete set in ``folder`` by iteration (a set is complete once it has its final name); a set that
    is a link, or a ``folder`` that is one, is none of ours."""
    found = {}
    if not _own_folder(Path(folder)):
        return {}
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return {}
    for path in entries:
        match = _SET.match(path.name)
        if match and _own_folder(path) and _own_file(path / TRAINER_FILE):
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def latest_set(folder: Path) -> Path | None:
    """The current set: the one LATEST names, else the newest complete set (LATEST lost or dangling), else the
    folder itself when it holds checkpoints in the first layout (one file per model beside trainer.pt)."""
    folder = Path(folder)
    if not _own_folder(folder):
        return None
    try:
        named = read_text(folder / POINTER, links=False).strip()
    except (OSError, UnicodeDecodeError):
        named = ""
    if _SET.match(named) and _own_folder(folder / named) and _own_file(folder / named / TRAINER_FILE):
        return folder / named
    sets = complete_sets(folder)
    if sets:
        return sets[max(sets)]
    return folder if _own_file(folder / TRAINER_FILE) else None


def latest_iteration(folder: Path) -> int | None:
    """The iteration a resume continues from; None when there is no set (or only one of the first layout)."""
    current = latest_set(folder)
    match = _SET.match(current.name) if current is not None else None
    return int(match.group(1)) if match else None


def chosen_iteration(folder: Path, iteration: int | None, run_name: str) -> int:
    """The kept set to read: ``iteration``, or the current one; a sentence when there is none."""
    sets = complete_sets(folder)
    if iteration is None:
        latest = latest_iteration(folder)
        if latest is None:
            raise CheckpointError(f"{run_name} has no checkpoint yet; train it a little first")
        return latest
    if iteration not in sets:
        kept = ", ".join(f"{i:,}" for i in sets) or "none"
        raise CheckpointError(f"{run_name} keeps no checkpoint at iteration {iteration:,}; kept: {kept}")
    return iteration


def remove_stale(folder: Path) -> list[str]:
    """Half-written sets and temporaries (a new LATEST) whose writer is gone: a trainer killed while writing."""
    if not _own_folder(Path(folder)):
        return []
    return remove_stale_temporaries(folder, _PARTIAL) + remove_stale_temporaries(folder)


def partial_folder(folder: Path, iteration: int, writer: int) -> Path:
    """A fresh hidden folder for the set being written; stale ones of a killed writer are removed first."""
    folder = own_folder(folder)
    for stale in folder.glob(f"{PARTIAL_PREFIX}*"):
        remove_entry(stale)
    partial = folder / f"{PARTIAL_PREFIX}{set_name(iteration)}-{writer}"
    partial.mkdir()
    return partial


def commit(folder: Path, partial: Path, iteration: int, keep: tuple[int, ...] = ()) -> Path:
    """Make the complete set in ``partial`` the current one, then delete the sets that are neither current
    nor kept. Raises OSError (a full disk, say) with the old set still current."""
    folder = own_folder(folder)
    final = folder / set_name(iteration)
    remove_entry(final)  # written before by a trainer killed before its switch: this one replaces it
    partial.rename(final)
    try:
        atomic_write(folder / POINTER, final.name + "\n")
    except BaseException:
        remove_entry(final)  # not current: it must not take the space a resume needs
        raise
    for other_iteration, path in complete_sets(folder).items():
        if other_iteration != iteration and other_iteration not in keep:
            remove_entry(path)
    for legacy in folder.glob("*.pt"):  # the first layout's files, superseded by the first set
        legacy.unlink(missing_ok=True)
    return final


def discard(partial: Path) -> None:
    """Remove a set that could not be completed (a full disk must not be left fuller)."""
    remove_entry(partial)


def checkpoint_disk_bytes(folder: Path) -> int:
    """What the run's checkpoints take on disk (what links point to is not theirs)."""
    total = 0
    if not _own_folder(Path(folder)):
        return total
    try:
        for path in Path(folder).rglob("*"):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    except OSError:
        return total
    return total
