"""The Runs tab: every run folder in the runs directory, newest first (state, date, name, dataset, networks,
iterations, best test errors, device, checkpoints on disk), to open, overlay, resume, reveal or delete.

Listing reads every ``metrics.jsonl`` (``explorer.runs.listing.list_runs``), which grows with the runs, so it runs on
a worker thread of this page's own pool and comes back as a signal; the table model holds plain rows. A broken
run folder is a row that says what is wrong, never a failed list. Refreshed when the folder changes
(QFileSystemWatcher) and every few seconds while the page is shown.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel, QFileSystemWatcher, QModelIndex, QObject, QRunnable, QSortFilterProxyModel, Qt,
    QThreadPool, QTimer, QUrl, Signal,
)
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QTableView, QToolButton,
    QVBoxLayout, QWidget,
)

from explorer.config.run import DATASET_LABELS
from explorer.system.formatting import networks, size
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.theme import text_colour
from explorer.runs.listing import RunInfo, list_runs
from explorer.runs.state import RunState
from explorer.runs.folder import RunDir

(COL_STATE, COL_DATE, COL_NAME, COL_DATASET, COL_MODELS, COL_ITERATIONS, COL_BEST, COL_DEVICE,
 COL_DISK) = range(9)
HEADERS = ("State", "Date", "Name", "Dataset", "Networks", "Iterations", "Best test error", "Device", "Checkpoints")
REFRESH_MS = 3000  # only while the page is shown; each listing runs on the worker thread


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
            return f"{info.device} / {info.precision}"
        if col == COL_DISK:
            return size(info.checkpoint_bytes) if info.checkpoint_bytes else "–"
        return ""


class _ListJob(QRunnable):
    """``list_runs`` off the GUI thread; the result crosses back through a queued signal."""

    class Signals(QObject):
        done = Signal(object, list, str)  # runs folder, rows, what went wrong reading it

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.signals = _ListJob.Signals()

    def run(self) -> None:
        rows, problem = [], ""
        try:
            rows = list_runs(self.runs_dir)
        except Exception as exc:  # noqa: BLE001 - the answer must come, or the page never lists again
            problem = str(exc)
        self.signals.done.emit(self.runs_dir, rows, problem)


class RunsPage(QWidget):
    shown_requested = Signal()  # Open with nothing selected: show this page, to pick a run
    open_requested = Signal(Path)
    overlay_requested = Signal(Path)
    resume_requested = Signal(Path)
    deleted = Signal(Path)
    runs_dir_changed = Signal(Path)
    status_message = Signal(str)

    def __init__(self, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs_dir = Path(runs_dir)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._listing = False
        self._again = False
        self._problem = ""
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
        self._timer.timeout.connect(self.refresh)
        self.set_runs_dir(self._runs_dir)

    def _build(self) -> None:
        self.table = QTableView(objectName="runsTable")
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
            ("openRun", "Open run", "Ctrl+O", "Show the selected run's curves (live while it trains)", self._on_open),
            ("overlayRun", "Overlay", None, "Add the selected run to the curves shown, as dash-dotted lines",
             self._on_overlay),
            ("resumeSelected", "Resume", None, "Continue the selected run from its last checkpoint",
             self._on_resume),
            ("revealRun", "Reveal in file manager", None, "Open the run's folder in the file manager",
             self._on_reveal),
            ("deleteRun", "Delete…", "Delete", "Delete the run's folder (asks first; not while it trains)",
             self._on_delete),
            ("chooseRunsFolder", "Choose runs folder…", None, "Look for runs in another folder (new runs go there "
             "too)", self._on_choose_folder),
            ("refreshRuns", "Refresh", "F5", "Read the runs folder again", self.refresh),
        )
        self._actions: dict[str, QAction] = {}
        buttons = QHBoxLayout()
        for name, text, shortcut, tip, slot in specs:
            action = make_action(self, text, shortcut, tip, slot, name=name)
            if shortcut == "Delete":
                action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self._actions[name] = action
            self.table.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.folder_label = QLabel(objectName="runsFolder")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_label = QLabel(objectName="runsEmpty")
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
    def action(self, name: str) -> QAction:
        return self._actions[name]

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
        info = self._selected_info()
        return info.path if info is not None else None

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
    def _on_listed(self, runs_dir: Path, rows: list, problem: str = "") -> None:
        self._listing, self._job = False, None
        if problem and problem != self._problem:
            self.status_message.emit(problem[:1].upper() + problem[1:])
        self._problem = problem
        if runs_dir != self._runs_dir:
            rows, self._again = [], True  # the folder changed while listing the old one
        selected = self.selected_path()
        self.model.set_rows(rows)
        if selected is not None:
            self.select_path(selected)
        self._watch_folder()
        self.empty_label.setText("" if rows else problem or
                                 f"No runs in {self._runs_dir} yet. Start one on the Training tab, or choose the "
                                 "folder your runs are in (Choose runs folder…).")
        self.empty_label.setVisible(not rows)
        self._update_actions()
        if self._again:
            self._again = False
            self.refresh()

    def _selected_info(self) -> RunInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.info(self._proxy.mapToSource(rows[0]).row()) if rows else None

    def _update_actions(self) -> None:
        info = self._selected_info()
        readable = info is not None and info.state is not RunState.UNREADABLE
        self._actions["overlayRun"].setEnabled(readable)
        self._actions["openRun"].setEnabled(info is None or readable)  # with nothing selected: pick one here
        for name in ("revealRun", "deleteRun"):
            self._actions[name].setEnabled(info is not None)
        self._actions["resumeSelected"].setEnabled(readable and info.state.resumable and not info.busy)

    def _on_open(self) -> None:
        info = self._selected_info()
        if info is None:
            self.shown_requested.emit()
            self.status_message.emit("Select a run in the list, then Open run (Ctrl+O) or double-click it")
        elif info.state is not RunState.UNREADABLE:
            self.open_requested.emit(info.path)
        elif info is not None:
            self.status_message.emit(f"{info.path.name} cannot be shown: {info.message}")

    def _on_overlay(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.overlay_requested.emit(path)

    def _on_resume(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.resume_requested.emit(path)

    def _on_reveal(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            box = QMessageBox(QMessageBox.Icon.Information, "No file manager",
                              f"No file manager is set up to open folders here. The run's folder is:\n\n{path}",
                              QMessageBox.StandardButton.Close, self)
            copy = box.addButton("Copy path", QMessageBox.ButtonRole.AcceptRole)
            box.exec()
            if box.clickedButton() is copy:
                QGuiApplication.clipboard().setText(str(path))
                self.status_message.emit(f"Copied {path}")

    def _on_delete(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        training = f"{info.path.name} is still training; stop it first, then delete it."
        if info.busy or RunDir(info.path).trainer_pid() is not None:  # asked now: the list may be seconds old
            QMessageBox.information(self, "Run is training", training)
            return
        answer = QMessageBox.question(
            self, "Delete run", f"Delete the run folder {info.path} with its metrics and checkpoints?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        if RunDir(info.path).trainer_pid() is not None:
            QMessageBox.information(self, "Run is training", training)
            return
        self.deleted.emit(info.path)  # whatever shows it lets it go first
        try:
            shutil.rmtree(info.path)
        except OSError as exc:
            message = f"Could not delete {info.path}: {(exc.strerror or str(exc)).lower()}; check its permissions"
            QMessageBox.warning(self, "Could not delete", message)
            self.status_message.emit(message)
        else:
            self.status_message.emit(f"Deleted {info.path.name}")
        self.refresh()

    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self._runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))
            self.runs_dir_changed.emit(Path(folder))
            self.status_message.emit(f"Runs folder: {folder} (new runs are made there too)")
