"""The Runs tab: every run folder in the runs directory, newest first (state, date, models, iterations, best test
errors), to open, overlay, delete or reveal in the file manager.

Listing reads every ``metrics.jsonl`` (``explorer.runs.list_runs``), which grows with the runs, so it runs on a
worker thread of this page's own pool and comes back as a signal; the table model holds plain rows. Refreshed
when the folder changes (QFileSystemWatcher) and every few seconds while a run is live.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel, QFileSystemWatcher, QModelIndex, QObject, QRunnable, QSortFilterProxyModel, Qt,
    QThreadPool, QTimer, QUrl, Signal,
)
from PySide6.QtGui import QAction, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QTableView, QToolButton,
    QVBoxLayout, QWidget,
)

from explorer.gui.actions import make_action
from explorer.gui.curves import parse_model
from explorer.runs import RunDir, RunInfo, list_runs

COL_STATE, COL_DATE, COL_NAME, COL_MODELS, COL_ITERATIONS, COL_BEST, COL_DEVICE = range(7)
HEADERS = ("State", "Date", "Name", "Networks", "Iterations", "Best test error", "Device")
REFRESH_MS = 3000  # only while the page is shown; each listing runs on the worker thread
STATE_COLOURS = {"running": "#1565c0", "finished": "#2e7d32", "cancelled": "#8d6e00", "failed": "#b00020"}


def models_text(models) -> str:
    """``plain-20/56, ResNet-20/56``: the networks of a run, grouped by kind."""
    groups: dict[str, list[str]] = {}
    for name in models:
        label = parse_model(name)[2]
        kind, _, depth = label.rpartition("-")
        groups.setdefault(kind, []).append(depth)
    return ", ".join(f"{kind}-{'/'.join(depths)}" for kind, depths in groups.items())


def _best(info: RunInfo) -> list[tuple[str, float]]:
    return sorted(info.best_test_error.items(), key=lambda kv: kv[1])


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
            if col == COL_BEST:
                return "\n".join(f"{parse_model(m)[2]}: {100 * e:.2f}%" for m, e in _best(info)) or None
            return f"{info.path}\n{info.message}" if info.message else str(info.path)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATE:
            return QColor(STATE_COLOURS.get(info.state, "#000"))
        if role == Qt.ItemDataRole.InitialSortOrderRole:
            return Qt.SortOrder.DescendingOrder
        if role == Qt.ItemDataRole.EditRole and col == COL_DATE:
            return info.created  # sorts by time, not by the text
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return None
        if col == COL_STATE:
            return info.state
        if col == COL_DATE:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
        if col == COL_NAME:
            return info.name
        if col == COL_MODELS:
            return models_text(info.models)
        if col == COL_ITERATIONS:
            return f"{info.iteration:,} / {info.iterations:,}"
        if col == COL_BEST:
            return " · ".join(f"{parse_model(m)[2]} {100 * e:.2f}%" for m, e in _best(info)) or "–"
        if col == COL_DEVICE:
            return f"{info.device} / {info.precision}"
        return None


class _ListJob(QRunnable):
    """``list_runs`` off the GUI thread; the result crosses back through a queued signal."""

    class Signals(QObject):
        done = Signal(object, list)

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.signals = _ListJob.Signals()

    def run(self) -> None:
        try:
            rows = list_runs(self.runs_dir)
        except OSError:
            rows = []
        self.signals.done.emit(self.runs_dir, rows)


class RunsPage(QWidget):
    open_requested = Signal(Path)
    overlay_requested = Signal(Path)
    runs_dir_changed = Signal(Path)
    status_message = Signal(str)

    def __init__(self, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs_dir = Path(runs_dir)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._listing = False
        self._again = False
        self._job: _ListJob | None = None
        self.model = RunsModel(self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.model)
        self._proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self._build()
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_tick)
        self.set_runs_dir(self._runs_dir)

    def _build(self) -> None:
        self.table = QTableView()
        self.table.setModel(self._proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_DATE, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_BEST, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_open)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        specs = (
            ("Open run", "Ctrl+O", "Show the selected run's curves (live while it trains)", self._on_open),
            ("Overlay", None, "Add the selected run to the curves as fainter lines, to compare", self._on_overlay),
            ("Reveal in file manager", None, "Open the run's folder in the file manager", self._on_reveal),
            ("Delete…", None, "Delete the run's folder (asks first; not while it trains)", self._on_delete),
            ("Choose runs folder…", None, "Look for runs in another folder", self._on_choose_folder),
            ("Refresh", "F5", "Read the runs folder again", self.refresh),
        )
        self._actions = []
        buttons = QHBoxLayout()
        for text, shortcut, tip, slot in specs:
            action = make_action(self, text, shortcut, tip, slot)
            self._actions.append(action)
            self.table.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self._update_actions()

    # --- interface ------------------------------------------------------------------------------------------
    @property
    def actions(self) -> list[QAction]:  # type: ignore[override]
        """Open run (Ctrl+O) first, then overlay, reveal, delete, choose folder, refresh."""
        return list(self._actions)

    @property
    def runs_dir(self) -> Path:
        return self._runs_dir

    def set_runs_dir(self, runs_dir: Path) -> None:
        self._runs_dir = Path(runs_dir)
        self._watch_folder()
        self.folder_label.setText(f"Runs folder: {self._runs_dir}")
        self.refresh()

    def refresh(self) -> None:
        """List the runs on the worker thread; a refresh asked for while one runs is done right after it."""
        if self._listing:
            self._again = True
            return
        self._listing = True
        self._job = _ListJob(self._runs_dir)  # kept until its answer arrives, with its signals object
        self._job.signals.done.connect(self._on_listed)
        self._pool.start(self._job)

    def wait_idle(self, timeout_ms: int = 5000) -> bool:
        """Wait for a listing in flight (tests, and the app before it quits)."""
        return self._pool.waitForDone(timeout_ms)

    def selected_path(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return Path(self._proxy.data(rows[0], Qt.ItemDataRole.UserRole))

    def select_path(self, path: Path) -> bool:
        for row in range(self._proxy.rowCount()):
            index = self._proxy.index(row, 0)
            if Path(self._proxy.data(index, Qt.ItemDataRole.UserRole)) == Path(path):
                self.table.selectRow(row)
                return True
        return False

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().hideEvent(event)
        self._timer.stop()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        """While shown, the list is read every few seconds too: a live run's iteration changes inside its
        folder, which the watcher (on the runs folder itself) does not see."""
        super().showEvent(event)
        self._timer.start()
        self.refresh()

    def _watch_folder(self) -> None:
        """Watch the runs folder, or, until it exists, the nearest folder above it that does."""
        folder = self._runs_dir
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        if self._watcher.directories() != [str(folder)]:
            if self._watcher.directories():
                self._watcher.removePaths(self._watcher.directories())
            self._watcher.addPath(str(folder))

    # --- handlers -------------------------------------------------------------------------------------------
    def _on_listed(self, runs_dir: Path, rows: list) -> None:
        self._listing, self._job = False, None
        if runs_dir != self._runs_dir:
            rows, self._again = [], True  # the folder changed while listing the old one
        selected = self.selected_path()
        self.model.set_rows(rows)
        if selected is not None:
            self.select_path(selected)
        self._watch_folder()
        self.empty_label.setText("" if rows else
                                 f"No runs in {self._runs_dir} yet. Start one on the Training tab, or run "
                                 "resnet-explorer train --runs-dir with this folder.")
        self.empty_label.setVisible(not rows)
        self._update_actions()
        if self._again:
            self._again = False
            self.refresh()

    def _on_tick(self) -> None:
        self.refresh()

    def _selected_info(self) -> RunInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.info(self._proxy.mapToSource(rows[0]).row()) if rows else None

    def _update_actions(self) -> None:
        has = self._selected_info() is not None
        for action in self._actions[:4]:
            action.setEnabled(has)

    def _on_open(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.open_requested.emit(path)

    def _on_overlay(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.overlay_requested.emit(path)

    def _on_reveal(self) -> None:
        path = self.selected_path()
        if path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def _on_delete(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        if RunDir(info.path).status()["state"] == "running":
            QMessageBox.information(self, "Run is training",
                                    f"{info.path.name} is still training; stop it first, then delete it.")
            return
        answer = QMessageBox.question(
            self, "Delete run", f"Delete the run folder {info.path} with its metrics and checkpoints?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            shutil.rmtree(info.path)
        except OSError as exc:
            self.status_message.emit(f"Could not delete {info.path}: {exc.strerror or exc}; check its permissions")
        else:
            self.status_message.emit(f"Deleted {info.path.name}")
        self.refresh()

    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self._runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))
            self.runs_dir_changed.emit(Path(folder))
