"""Export… on the Training tab: the curves shown as PNG or SVG (titled with the run, its dataset and the line key),
or the metrics of every run shown as CSV, named for the run by default."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from explorer.config.run import DATASET_LABELS
from explorer.gui.widgets.figure_export import FORMATS, export
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.runs.folder import RunDirError


class CurvesExport(QObject):
    status_message = Signal(str)

    def __init__(self, settings: QSettings, view, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._view = settings, view

    def title(self) -> str:
        """What the exported figure says it is: Figure 6 of which run, on which data, beside which overlays."""
        config = self._view.config
        if config is None:
            return "ResNet Explorer: Figure 6"
        others = [p.name for p in self._view.overlays()]
        overlaid = f" · overlaid: {', '.join(others)}" if others else ""
        return f"Figure 6 — {config.name} ({DATASET_LABELS.get(config.data.dataset, config.data.dataset)}){overlaid}"

    def ask(self, parent: QWidget) -> None:
        name = f"{self._view.config.name}-figure6.png" if self._view.config else "figure6.png"
        path = ask_save_path(parent, self._settings, "Export curves or metrics", name, FORMATS)
        if path:
            self.write(path)

    def write(self, path: Path) -> bool:
        """PNG or SVG of the curves, or CSV of the shown runs' metrics, by the file's suffix; says how it went."""
        self._view.curves.flush()
        runs = [p for p in (self._view.path, *self._view.overlays()) if p is not None]
        try:
            what = export(self._view.curves.layout_widget, runs, Path(path), self.title())
        except (OSError, ValueError, RunDirError) as exc:
            self.status_message.emit(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}; choose "
                                     "another file")
            return False
        remember(self._settings, path)
        self.status_message.emit(f"Saved {what} to {path}")
        return True
