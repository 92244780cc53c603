"""The Runs tab's table: plain rows of :class:`RunInfo` (one per run folder) and the job that lists them off the
GUI thread (``list_runs`` reads every ``metrics.jsonl``, which grows with the runs)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QRunnable, Qt, Signal

from explorer.config.run import DATASET_LABELS
from explorer.gui.widgets.theme import text_colour
from explorer.runs.listing import RunInfo, list_runs
from explorer.runs.state import RunState
from explorer.system.formatting import networks, size

(COL_STATE, COL_DATE, COL_NAME, COL_DATASET, COL_MODELS, COL_ITERATIONS, COL_BEST, COL_DEVICE,
 COL_DISK) = range(9)
HEADERS = ("State", "Date", "Name", "Dataset", "Networks", "Iterations", "Best test error", "Device", "Checkpoints")


def _best(info: RunInfo) -> list[tuple[str, str]]:
    """(label, best test error as text) per network, the best first."""
    labels = {m.name: m.label for m in info.model_configs}
    return [(labels.get(name, name), info.best_text(name))
            for name, _ in sorted(info.best_test_error.items(), key=lambda kv: kv[1])]


class RunsModel(QAbstractTableModel):
    """Plain rows of :class:`RunInfo`; ``Qt.UserRole`` of any cell is the run's folder."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RunInfo] = []

    def set_rows(self, rows: list[RunInfo]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def info(self, row: int) -> RunInfo:
        return self._rows[row]

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt)
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        info, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.UserRole:
            return str(info.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_BEST and info.best_test_error:
                return "\n".join(f"{label}: {text}" for label, text in _best(info))
            return f"{info.path}\n{info.message}" if info.message else str(info.path)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATE:
            return text_colour(info.state.value)
        if role == Qt.ItemDataRole.EditRole and col == COL_DATE:
            return info.created  # sorts by time, not by the text
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return None
        return self._text(info, col)

    @staticmethod
    def _text(info: RunInfo, col: int) -> str:
        if col == COL_STATE:
            return f"{info.state} (pid {info.pid})" if info.busy and info.pid else info.state
        if col == COL_DATE:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created)) if info.created else ""
        if col == COL_NAME:
            return info.name
        if info.state is RunState.UNREADABLE:
            return info.message if col == COL_MODELS else ""
        if col == COL_DATASET:
            return DATASET_LABELS.get(info.dataset, info.dataset)
        if col == COL_MODELS:
            return networks(info.model_configs)
        if col == COL_ITERATIONS:
            return f"{info.iteration:,} / {info.iterations:,}"
        if col == COL_BEST:
            return " · ".join(f"{label} {text}" for label, text in _best(info)) or "–"
        if col == COL_DEVICE:
            return info.how
        if col == COL_DISK:
            return size(info.checkpoint_bytes) if info.checkpoint_bytes else "–"
        return ""


class ListJob(QRunnable):
    """``list_runs`` off the GUI thread; the result crosses back through a queued signal."""

    class Signals(QObject):
        done = Signal(object, list, str)  # runs folder, rows, what went wrong reading it

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.signals = ListJob.Signals()

    def run(self) -> None:
        rows, problem = [], ""
        try:
            rows = list_runs(self.runs_dir)
        except Exception as exc:  # noqa: BLE001 - the answer must come, or the page never lists again
            problem = str(exc)
        self.signals.done.emit(self.runs_dir, rows, problem)
