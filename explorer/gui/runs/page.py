"""The Runs tab: every run folder in the runs directory, newest first (state, date, name, dataset, networks,
iterations, best test errors, device, checkpoints on disk), to open, overlay, resume, reveal or delete.

Listing reads every ``metrics.jsonl`` (``explorer.runs.listing.list_runs``), which grows with the runs, so it runs on
a worker thread of this page's own pool and comes back as a signal; the table model holds plain rows. A broken
run folder is a row that says what is wrong, never a failed list. Refreshed when the folder changes
(QFileSystemWatcher) and every few seconds while the page is shown.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QSortFilterProxyModel, Qt, QThreadPool, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QTableView, QToolButton,
    QVBoxLayout, QWidget,
)

from explorer.gui.runs.table import COL_BEST, COL_DATE, ListJob, RunsModel
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.live_runs import LiveRuns
from explorer.gui.widgets.sort_arrows import sort_arrows_as_they_read
from explorer.runs.listing import RunInfo
from explorer.runs.state import RunState
from explorer.runs.folder import RunDir
from explorer.system.trash import move_to_trash

REFRESH_MS = 3000  # only while the page is shown; each listing runs on the worker thread


def ask_delete(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Delete run", question, QMessageBox.StandardButton.Yes |
                                  QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes

class RunsPage(QWidget):
    shown_requested = Signal()  # Open with nothing selected: show this page, to pick a run
    open_requested = Signal(Path)
    overlay_requested = Signal(Path)
    resume_requested = Signal(Path)
    deleted = Signal(Path)
    runs_dir_changed = Signal(Path)
    status_message = Signal(str)

    def __init__(self, runs_dir: Path, trainers: LiveRuns, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs_dir = Path(runs_dir)
        self._trainers = trainers
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._listing = False
        self._again = False
        self._problem = ""
        self._job: ListJob | None = None
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
        trainers.state_changed.connect(self.refresh)  # a run stopped from here (or anywhere) changes its row

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
        sort_arrows_as_they_read(header)  # newest first: an arrow pointing down
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
            ("stopSelected", "Stop", None, "Stop the selected run, whoever started it: its trainer saves a "
             "checkpoint and exits (Resume continues)", self._on_stop),
            ("revealRun", "Reveal in file manager", None, "Open the run's folder in the file manager",
             self._on_reveal),
            ("deleteRun", "Delete…", "Delete", "Move the run's folder to the trash (asks first; not while it "
             "trains)", self._on_delete),
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
        self._job = ListJob(self._runs_dir)  # kept until its answer arrives, with its signals object
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
        stopping = info is not None and (trainer := self._trainers.controller.trainer(info.path)) is not None \
            and trainer.state == "stopping"
        self._actions["stopSelected"].setEnabled(info is not None and info.busy and not stopping)

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

    def _on_stop(self) -> None:
        path = self.selected_path()
        if path is not None and self._trainers.stop(path):
            self.status_message.emit(f"Stopping {path.name}: its trainer saves a checkpoint and exits")
        elif path is not None:
            self.status_message.emit(f"{path.name} is not training")
        self._update_actions()

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
        """Into the trash where there is one (the file manager restores it); only where there is none is the
        folder deleted for good, after saying so."""
        info = self._selected_info()
        if info is None:
            return
        training = f"{info.path.name} is still training; stop it first, then delete it."
        if info.busy or RunDir(info.path).trainer_pid() is not None:  # asked now: the list may be seconds old
            QMessageBox.information(self, "Run is training", training)
            return
        if not ask_delete(self, f"Move the run folder {info.path} with its metrics and checkpoints to the trash?"):
            return
        if RunDir(info.path).trainer_pid() is not None:
            QMessageBox.information(self, "Run is training", training)
            return
        self.deleted.emit(info.path)  # whatever shows it lets it go first
        try:
            where = move_to_trash(info.path)
            if where is None and ask_delete(self, f"There is no trash for {info.path} on this system. Delete it "
                                            "for good? This cannot be undone."):
                shutil.rmtree(info.path)
        except OSError as exc:
            message = f"Could not delete {info.path}: {(exc.strerror or str(exc)).lower()}; check its permissions"
            QMessageBox.warning(self, "Could not delete", message)
            self.status_message.emit(message)
        else:
            gone = not info.path.exists()
            self.status_message.emit(f"Moved {info.path.name} to the trash (restore it from the file manager)"
                                     if where is not None else f"Deleted {info.path.name}" if gone else
                                     f"Kept {info.path.name}")
        self.refresh()

    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self._runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))
            self.runs_dir_changed.emit(Path(folder))
            self.status_message.emit(f"Runs folder: {folder} (new runs are made there too)")
