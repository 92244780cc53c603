"""Where a person's exports go: one remembered folder for every export (curves, analyses, layer tables, ONNX),
the home folder until the first one - never the folder the app happened to be started from."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

EXPORT_DIR_KEY = "training/export_dir"  # the name it has had since the first exports: kept for saved settings


def export_folder(settings) -> Path:
    return Path(str(settings.value(EXPORT_DIR_KEY, str(Path.home()))))


def remember(settings, path: Path) -> None:
    settings.setValue(EXPORT_DIR_KEY, str(Path(path).parent))


def ask_save_path(parent: QWidget, settings, title: str, name: str, filters: str) -> Path | None:
    """The file the person chose (None when they cancelled), offered as ``name`` in the remembered folder."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(export_folder(settings) / name), filters)
    return Path(path) if path else None
