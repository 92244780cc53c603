"""The main window: wiring only. It places the pages, builds the menus, and keeps settings across restarts.

Architecture (panel left, diagram, layer table right), Training and Runs are tabs. What each page does lives in its own
module; here the pages are connected to each other, to the menu bar and to the status bar. Actions are found by
their object names.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QTabWidget, QTextBrowser, QVBoxLayout, \
    QDialog, QWidget

from explorer import __version__
from explorer.config.model import ModelConfig
from explorer.gui.analysis.page import AnalysisPage
from explorer.gui.architecture.panel import ArchitecturePanel
from explorer.gui.architecture.diagram_panel import DiagramPanel, share_selection
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.latest_worker import SummaryWorker
from explorer.gui.widgets.live_runs import LiveRuns
from explorer.gui.widgets.model_export import ModelExport
from explorer.gui.widgets.tips import tip
from explorer.gui.architecture.layer_table import LayerTable
from explorer.gui.runs.page import RunsPage
from explorer.gui.widgets.theme import THEME_KEY, THEMES, apply_theme, saved_theme
from explorer.gui.training.page import TrainingPage

CONFIG_KEY = "architecture/config"
RUNS_DIR_KEY = "runs/folder"
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
SPLITTER_KEY = "window/splitter"
TAB_KEY = "window/tab"
DEFAULT_SIZE = (1280, 800)
FRAME_PX = 40

ABOUT = f"""<h3>ResNet Explorer {__version__}</h3>
<p>Build the networks of the paper by pointing and clicking, see every layer's size and cost, and train plain and
residual networks side by side to watch Figure 6 appear.</p>
<p>Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun.
<i>Deep Residual Learning for Image Recognition.</i> CVPR 2016, pp. 770–778.
<a href="https://arxiv.org/abs/1512.03385">arXiv:1512.03385</a></p>
<p>Pre-activation units: Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun.
<i>Identity Mappings in Deep Residual Networks.</i> ECCV 2016.
<a href="https://arxiv.org/abs/1603.05027">arXiv:1603.05027</a></p>
<p>Lesions (the Analysis tab): Andreas Veit, Michael Wilber, Serge Belongie.
<i>Residual Networks Behave Like Ensembles of Relatively Shallow Networks.</i> NeurIPS 2016.
<a href="https://arxiv.org/abs/1605.06431">arXiv:1605.06431</a></p>
<p>Loss landscapes: Hao Li, Zheng Xu, Gavin Taylor, Christoph Studer, Tom Goldstein.
<i>Visualizing the Loss Landscape of Neural Nets.</i> NeurIPS 2018.
<a href="https://arxiv.org/abs/1712.09913">arXiv:1712.09913</a></p>
<p>Free software under the MIT licence: use, copy, change and share it, keeping the copyright notice; it comes
without warranty of any kind (the LICENSE file has the whole text).</p>"""

STOP, KEEP, CANCEL = "stop", "keep", "cancel"


def ask_close_during_training(parent: QWidget, names: list[str]) -> str:
    """Ask what to do with the runs still training when the window closes: STOP, KEEP or CANCEL."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Training is running")
    box.setText(f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} still training.")
    box.setInformativeText("Stop (the last checkpoint is kept), or keep training in the background and open it "
                           "again later (the app shows it again at its next start)?")
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


def guide_html() -> str:
    return resources.files("explorer.resources").joinpath("guide.html").read_text(encoding="utf-8")


class MainWindow(QMainWindow):
    """The application window; ``settings`` and ``runs_dir`` are given so tests can isolate both (a runs folder
    chosen on the Runs tab, saved in the settings, wins over ``runs_dir``)."""

    def __init__(self, settings: QSettings, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        apply_theme(saved_theme(settings))  # first: every widget and plot below starts in its colours
        self.setWindowTitle("ResNet Explorer")
        runs_dir = Path(str(settings.value(RUNS_DIR_KEY, runs_dir)))
        self.summaries = SummaryWorker(self)
        self.architecture = ArchitecturePanel(load_config(settings))
        self.layer_table = LayerTable(self.summaries, settings)
        self.diagram = DiagramPanel(self.summaries, settings)
        share_selection(self.diagram, self.layer_table)
        self.trainers = LiveRuns(self)  # the trainers this window started or adopted, for every tab
        self.training = TrainingPage(settings, runs_dir, self.trainers)
        self.runs = RunsPage(runs_dir, self.trainers)
        self.analysis = AnalysisPage(settings)
        self.model_export = ModelExport(settings, self)
        self.export_onnx_action = make_action(
            self, "Export network as ONNX…", None, "Write the Architecture tab's network (freshly initialised) as an "
            "ONNX file whose nodes bear the layer table's names, to open in Netron or any ONNX runtime",
            lambda: self.model_export.export_architecture(self.architecture.config), name="exportOnnx")
        self.layer_table.add_button("ONNX…", self.export_onnx_action)

        self._splitter = QSplitter(Qt.Orientation.Horizontal, objectName="architectureSplitter")
        for pane in (self.architecture, self.diagram, self.layer_table):
            self._splitter.addWidget(pane)
        self._splitter.setStretchFactor(1, 1)  # a wider window widens the diagram; the table keeps its columns
        self._splitter.setSizes([330, 470, 480])
        self._panes_own = False  # the person set the pane widths (dragged, or saved from before): keep them
        self._table_width = 0
        self.tabs = QTabWidget(objectName="tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._splitter, "Architecture")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.analysis, "Analysis")
        self.tabs.setCornerWidget(self.analysis.strip, Qt.Corner.TopRightCorner)  # an analysis, seen from every tab
        self.setCentralWidget(self.tabs)
        self._build_menus()

        self.layer_table.columns_fitted.connect(self._on_columns_fitted)
        self._splitter.splitterMoved.connect(lambda *_: setattr(self, "_panes_own", True))
        self.architecture.config_changed.connect(self._on_config_changed)
        self.architecture.config_changed.connect(self.summaries.request)
        self.architecture.config_changed.connect(self.training.set_template)
        self.training.view.run_changed.connect(self.analysis.set_run)
        self.analysis.export_network_requested.connect(self.model_export.export_trained)
        for page in (self.layer_table, self.diagram, self.training, self.runs, self.analysis, self.model_export):
            page.status_message.connect(self._on_status_message)
        self.runs.shown_requested.connect(lambda: self.tabs.setCurrentWidget(self.runs))
        self.runs.open_requested.connect(lambda path: self._to_training(self.training.open_run, path))
        self.runs.overlay_requested.connect(lambda path: self._to_training(self.training.open_run, path, True))
        self.runs.resume_requested.connect(lambda path: self._to_training(self.training.resume_run, path))
        self.runs.runs_dir_changed.connect(self._on_runs_dir_changed)
        self.runs.deleted.connect(self.training.forget_run)

        config = self.architecture.config
        self.summaries.request(config)
        self.training.set_template(config)
        self._on_config_changed(config)
        self._restore_layout()
        self.training.restore_shown()

    def action(self, name: str) -> QAction:
        """Any of the window's actions, by its object name."""
        found = self.findChild(QAction, name)
        if found is None:
            raise KeyError(name)
        return found

    def _build_menus(self) -> None:
        training, runs = self.training.action, self.runs.action
        quit_action = QAction("Quit", self, objectName="quit")
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is empty on some Linux desktops
        quit_action.triggered.connect(self.close)
        guide = QAction("Guide", self, objectName="guide")
        guide.setShortcut(QKeySequence("F1"))
        guide.triggered.connect(self._on_guide)
        about = QAction("About ResNet Explorer", self, objectName="about")
        about.triggered.connect(self._on_about)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([runs("openRun"), training("new")])
        file_menu.addSeparator()
        file_menu.addActions([training("export"), self.analysis.export_action, self.layer_table.export_action,
                               self.diagram.export_action, self.export_onnx_action,
                               self.analysis.export_network_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self._build_theme_menu(self.menuBar().addMenu("&View").addMenu("&Theme"))
        self.menuBar().addMenu("&Run").addActions([training(k) for k in ("start", "stop", "resume")])
        self.menuBar().addMenu("&Help").addActions([guide, about])
        toolbar = self.addToolBar("Training")
        toolbar.setObjectName("trainingToolbar")
        toolbar.setMovable(False)
        toolbar.addActions([training(k) for k in ("start", "stop", "resume", "new")])
        toolbar.addSeparator()
        toolbar.addActions([runs("openRun"), training("export")])

    def _build_theme_menu(self, menu) -> None:
        """View → Theme: System (the desktop's light or dark), Light or Dark; kept across restarts."""
        group = QActionGroup(self)
        current = saved_theme(self._settings)
        for key, label in THEMES.items():
            action = QAction(label, self, objectName=f"theme{label}", checkable=True, checked=key == current)
            action.setToolTip(tip("The desktop's own style and light or dark palette" if key == "system" else
                                  f"{label} colours, whatever the desktop uses"))
            action.triggered.connect(lambda _=False, key=key: self._on_theme(key))
            group.addAction(action)
            menu.addAction(action)

    def _on_theme(self, theme: str) -> None:
        apply_theme(theme)
        self._settings.setValue(THEME_KEY, theme)

    def _to_training(self, show, path: Path, *args) -> None:
        self.tabs.setCurrentWidget(self.training)
        show(path, *args)

    def _restore_layout(self) -> None:
        geometry = self._settings.value(GEOMETRY_KEY)
        if geometry is None or not self.restoreGeometry(geometry):
            # 1280 × 800 where the screen has room; on a 1366 × 768 laptop the window's bottom (the progress, the
            # status bar) was off the screen. The frame's title bar takes some 40 px more.
            room = self.screen().availableGeometry()
            self.resize(min(DEFAULT_SIZE[0], room.width()), min(DEFAULT_SIZE[1], room.height() - FRAME_PX))
        state = self._settings.value(STATE_KEY)
        if state is not None:
            self.restoreState(state)
        splitter = self._settings.value(SPLITTER_KEY)
        if splitter is not None:
            self._panes_own = self._splitter.restoreState(splitter)  # the person's own widths win
        try:
            self.tabs.setCurrentIndex(int(self._settings.value(TAB_KEY, 0)))
        except (TypeError, ValueError):
            pass

    def _on_columns_fitted(self, width: int) -> None:
        self._table_width = width
        self._fit_panes()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._fit_panes()

    def _fit_panes(self) -> None:
        """Until the person sets the pane widths: the layer table as wide as its columns, the panel as its
        content, the diagram the rest (at 1024 px every column of the table shows only if the diagram gives way)."""
        if self._panes_own or not self._table_width:
            return
        total = sum(self._splitter.sizes())
        smallest = self.diagram.minimumSizeHint().width()
        panel = max(self.architecture.minimumSizeHint().width(),
                    min(self.architecture.sizeHint().width(), total - smallest - self._table_width))
        diagram = max(smallest, total - panel - self._table_width)
        self._splitter.setSizes([panel, diagram, max(0, total - panel - diagram)])

    def _save_layout(self) -> None:
        self._settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(STATE_KEY, self.saveState())
        self._settings.setValue(SPLITTER_KEY, self._splitter.saveState())
        self._settings.setValue(TAB_KEY, self.tabs.currentIndex())
        self._settings.sync()

    def _on_config_changed(self, config: ModelConfig) -> None:
        self._settings.setValue(CONFIG_KEY, json.dumps(config.to_dict()))

    def _on_runs_dir_changed(self, folder: Path) -> None:
        self.training.set_runs_dir(folder)
        self._settings.setValue(RUNS_DIR_KEY, str(folder))

    def _on_status_message(self, message: str) -> None:
        self.statusBar().showMessage(message)  # no timeout: that would leave a timer running
        self.statusBar().setToolTip(tip(message))  # the whole sentence, where the window is narrower than it

    def _on_guide(self) -> None:
        dialog = QDialog(self, objectName="guideDialog")
        dialog.setWindowTitle("Guide")  # Qt adds the app's name ("Guide — ResNet Explorer")
        text = QTextBrowser()
        text.setHtml(guide_html())
        text.setOpenExternalLinks(True)
        QVBoxLayout(dialog).addWidget(text)
        dialog.resize(640, 560)
        dialog.show()

    def _on_about(self) -> None:
        QMessageBox.about(self, "About ResNet Explorer", ABOUT)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt)
        keep_running = False
        live = self.trainers.controller.live_runs()
        if live:
            choice = ask_close_during_training(self, [p.name for p in live])
            if choice == CANCEL:
                event.ignore()
                return
            keep_running = choice == KEEP
        self.training.shutdown()
        self.trainers.shutdown(keep_running=keep_running)
        self.analysis.shutdown()
        self.model_export.shutdown()
        self.summaries.shutdown()
        self.diagram.shutdown()
        self.runs.wait_idle()
        self._save_layout()
        event.accept()
