"""The main window: wiring only. It places the pages, builds the menus, and keeps settings across restarts.

Architecture (panel left, layer table right), Training and Runs are tabs. What each page does lives in its own
module; here the pages are connected to each other, to the menu bar and to the status bar.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter, QTabWidget, QWidget

from explorer import __version__
from explorer.config import ModelConfig
from explorer.gui.architecture_panel import ArchitecturePanel
from explorer.gui.layer_table import LayerTable
from explorer.gui.runs_browser import RunsPage
from explorer.gui.summary_worker import SummaryWorker
from explorer.gui.training_panel import TrainingPage

CONFIG_KEY = "architecture/config"
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
SPLITTER_KEY = "window/splitter"
TAB_KEY = "window/tab"

ABOUT = f"""<h3>ResNet Explorer {__version__}</h3>
<p>Build the networks of the paper by pointing and clicking, see every layer's size and cost, and train plain and
residual networks side by side to watch Figure 6 appear.</p>
<p>Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun.
<i>Deep Residual Learning for Image Recognition.</i> CVPR 2016, pp. 770–778.
<a href="https://arxiv.org/abs/1512.03385">arXiv:1512.03385</a></p>
<p>Pre-activation units: Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun.
<i>Identity Mappings in Deep Residual Networks.</i> ECCV 2016.
<a href="https://arxiv.org/abs/1603.05027">arXiv:1603.05027</a></p>"""

STOP, KEEP, CANCEL = "stop", "keep", "cancel"


def ask_close_during_training(parent: QWidget) -> str:
    """Ask what to do with a training run when the window closes: STOP, KEEP or CANCEL."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Training is running")
    box.setText("A training run is still running.")
    box.setInformativeText(
        "Stop it (its last checkpoint is kept), or keep it training in the background and open it again "
        "later from the Runs tab?"
    )
    stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep training in background", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return {stop: STOP, keep: KEEP}.get(box.clickedButton(), CANCEL)


def load_config(settings: QSettings) -> ModelConfig:
    """The last architecture, or the default one when none was saved or the saved one no longer validates."""
    try:
        return ModelConfig.from_dict(json.loads(str(settings.value(CONFIG_KEY, "{}"))))
    except (ValueError, TypeError):
        return ModelConfig()


class MainWindow(QMainWindow):
    """The application window; ``settings`` and ``runs_dir`` are given so tests can isolate both."""

    def __init__(self, settings: QSettings, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.setWindowTitle("ResNet Explorer")
        self.summaries = SummaryWorker(self)
        self.architecture = ArchitecturePanel(load_config(settings))
        self.layer_table = LayerTable(self.summaries)
        self.training = TrainingPage(settings, runs_dir)
        self.runs = RunsPage(runs_dir)

        self._splitter = QSplitter(Qt.Orientation.Horizontal)
        self._splitter.setObjectName("architectureSplitter")
        self._splitter.addWidget(self.architecture)
        self._splitter.addWidget(self.layer_table)
        self._splitter.setStretchFactor(1, 1)
        self._splitter.setSizes([400, 880])
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._splitter, "Architecture")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.runs, "Runs")
        self.setCentralWidget(self.tabs)
        self._config_label = QLabel()
        self._config_label.setToolTip("The network chosen on the Architecture tab: what the Training tab trains")
        self.statusBar().addPermanentWidget(self._config_label)
        self._build_menus()

        self.architecture.config_changed.connect(self._on_config_changed)
        self.architecture.config_changed.connect(self.summaries.request)
        self.architecture.config_changed.connect(self.training.set_model_config)
        self.layer_table.status_message.connect(self._on_status_message)
        self.training.status_message.connect(self._on_status_message)
        self.runs.open_requested.connect(self._on_open_run_requested)

        config = self.architecture.config
        self.summaries.request(config)
        self.training.set_model_config(config)
        self._on_config_changed(config)
        self._restore_layout()

    def _build_menus(self) -> None:
        exports = [a for a in self.training.actions if a.shortcut() == QKeySequence("Ctrl+E")]
        run_actions = [a for a in self.training.actions if a not in exports]
        open_run = self.runs.actions[:1]  # the rest act on the runs table and live on its page
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is empty on some Linux desktops
        quit_action.triggered.connect(self.close)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions(open_run)
        file_menu.addSeparator()
        file_menu.addActions(exports)
        file_menu.addAction(self.layer_table.export_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self.menuBar().addMenu("&Run").addActions(run_actions)
        about = QAction("About ResNet Explorer", self)
        about.triggered.connect(self._on_about)
        self.menuBar().addMenu("&Help").addAction(about)
        toolbar = self.addToolBar("Training")
        toolbar.setObjectName("trainingToolbar")
        toolbar.setMovable(False)
        toolbar.addActions(run_actions)
        toolbar.addSeparator()
        toolbar.addActions(open_run + exports)

    def _restore_layout(self) -> None:
        geometry = self._settings.value(GEOMETRY_KEY)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        state = self._settings.value(STATE_KEY)
        if state is not None:
            self.restoreState(state)
        splitter = self._settings.value(SPLITTER_KEY)
        if splitter is not None:
            self._splitter.restoreState(splitter)
        self.tabs.setCurrentIndex(int(self._settings.value(TAB_KEY, 0)))

    def _save_layout(self) -> None:
        self._settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(STATE_KEY, self.saveState())
        self._settings.setValue(SPLITTER_KEY, self._splitter.saveState())
        self._settings.setValue(TAB_KEY, self.tabs.currentIndex())
        self._settings.sync()

    def _on_config_changed(self, config: ModelConfig) -> None:
        self._config_label.setText(f"Architecture: {config.name}")
        self._settings.setValue(CONFIG_KEY, json.dumps(config.to_dict()))

    def _on_status_message(self, message: str) -> None:
        self.statusBar().showMessage(message)  # no timeout: that would leave a timer running

    def _on_open_run_requested(self, path: Path) -> None:
        self.training.open_run(path)
        self.tabs.setCurrentWidget(self.training)

    def _on_about(self) -> None:
        QMessageBox.about(self, "About ResNet Explorer", ABOUT)

    def closeEvent(self, event: QCloseEvent) -> None:
        keep_running = False
        if self.training.is_training():
            choice = ask_close_during_training(self)
            if choice == CANCEL:
                event.ignore()
                return
            keep_running = choice == KEEP
        self.training.shutdown(keep_running=keep_running)
        self.summaries.shutdown()
        self._save_layout()
        event.accept()
