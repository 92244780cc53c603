"""What an image folder holds, said under its field as soon as it is chosen: its classes and images per class,
and how it is split into training and test images. Listing a big folder takes a while, so it is done on the
thread pool (:class:`LatestWorker`) for the latest folder typed only."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QObject

from explorer.data.errors import DatasetError
from explorer.data.folder_layout import HOLD_OUT, list_folder
from explorer.gui.widgets.latest_worker import LatestWorker

SHOWN_CLASSES = 8


def describe_folder(folder: str) -> str:
    """"3 classes, 15 images: cat 5, dog 5, fish 5; one image in 5 of each class is held out for testing"."""
    listing = list_folder(folder)
    counts = Counter(label for _, label in (*listing.train, *listing.test))
    total = sum(counts.values())
    named = [f"{name} {counts[i]:,}" for i, name in enumerate(listing.classes)]
    if len(named) > SHOWN_CLASSES:
        named = [*named[:SHOWN_CLASSES], f"… {len(named) - SHOWN_CLASSES:,} more"]
    split = (f"its own split: {len(listing.train):,} to train, {len(listing.test):,} to test" if listing.given_split
             else f"one image in {HOLD_OUT} of each class is held out for testing")
    return f"{len(listing.classes):,} classes, {total:,} images: {', '.join(named)}; {split}"


def _failure(folder: str, exc: Exception) -> str:
    return str(exc) if isinstance(exc, DatasetError) else f"the folder {folder} cannot be listed: {exc}"


class FolderSummary(LatestWorker):
    """``request(folder)`` and ``computed(words)``, or ``failed(sentence)`` for a folder that cannot be used."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(describe_folder, _failure, parent, debounce_ms=400)
