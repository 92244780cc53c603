"""The Analysis tab: why residual learning works, on the run the Training tab shows.

Gradient flow is read from the run's events as they come. Layer responses, lesions and loss landscapes are
computed by ``resnet-explorer analyze`` in a child process (:mod:`explorer.gui.analysis.job`: the window never
waits, the analysis belongs to its run and keeps going when another run is shown), at a kept checkpoint of the
run (the start, each lr drop, the end), and read back from ``RUN_DIR/analysis/`` - so results computed earlier,
or from a shell, show as soon as the run is chosen. With no run shown, nothing of the last one is.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from explorer.analysis.gradients import gradient_flow
from explorer.analysis.plan import default_size, result_path
from explorer.gui.analysis.job import TITLES, Analysis, AnalysisJob, AnalysisStrip
from explorer.gui.analysis.views import GradientView, LandscapeView, LesionView, ResponsesView
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.figure_export import FORMATS, export_png, export_svg
from explorer.gui.widgets.run_follower import RunFollower
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.tips import tip
from explorer.runs.checkpoints import checkpoint_disk_bytes, complete_sets
from explorer.runs.folder import RunDir, RunDirError
from explorer.runs.metrics_csv import write_rows
from explorer.system.files import read_text
from explorer.system.formatting import size


def _sizes(what: str, two_d: bool) -> str:
    (cpu_images, cpu_points), (gpu_images, gpu_points) = (default_size(what, two_d, d) for d in ("cpu", "cuda"))
    if cpu_points is None:
        return f"{cpu_images:,} images on a CPU, {gpu_images:,} on a GPU"
    grid = (lambda n: f"{n} × {n}") if two_d else (lambda n: f"{n}")
    return (f"{grid(cpu_points)} points on {cpu_images:,} images on a CPU, {grid(gpu_points)} on {gpu_images:,} "
            "on a GPU")


HINTS = {("responses", False): "The std of every 3×3 layer's response over test images",
         ("lesion", False): "Remove each residual block, then random sets of them, and measure the test error",
         ("landscape", False): "The training loss along a random filter-normalised direction",
         ("landscape", True): "The training loss on a plane of two random directions"}


class AnalysisPage(QWidget):
    status_message = Signal(str)
    export_network_requested = Signal(object, list, int)  # run folder, its networks' keys, the checkpoint

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._run: RunDir | None = None
        self._name = ""
        self._models: dict = {}
        self._events: list[dict] = []
        self._follower: RunFollower | None = None
        self.job = AnalysisJob(self)
        self.strip = AnalysisStrip(self.job)  # the window shows it where every tab sees it
        self.job.finished.connect(self._on_finished)
        self.job.progress.connect(lambda *_: self._update())
        self._build()
        self.set_run(None)

    def _build(self) -> None:
        self.title = QLabel(objectName="analysisTitle")
        self.title.setWordWrap(True)
        self.checkpoint = QComboBox(objectName="analysisCheckpoint")
        self.checkpoint.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never "iteration 1…"
        self.checkpoint.setToolTip(tip("The kept checkpoints of the run: its start, each lr drop, the end, and the "
                                       "latest. Analyses compare early and late."))
        self.checkpoint.currentIndexChanged.connect(self._load_results)
        self.disk = QLabel(objectName="checkpointDisk")
        self.buttons: dict[tuple[str, bool], QPushButton] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Checkpoint:"))
        row.addWidget(self.checkpoint)
        row.addWidget(self.disk)
        for (what, two_d), text in TITLES.items():
            button = QPushButton(text, objectName=f"analyse-{what}{'-2d' if two_d else ''}")
            button.setToolTip(tip(f"{HINTS[(what, two_d)]} ({_sizes(what, two_d)}). Runs in the background at the "
                                  "checkpoint chosen, and goes on if you open another run; its progress and ETA "
                                  "stay in view at the top right, Cancel keeps the networks it has finished."))
            button.clicked.connect(lambda _=False, w=what, t=two_d: self.run_analysis(w, t))
            self.buttons[(what, two_d)] = button
            row.addWidget(button)
        row.addStretch(1)  # Export… and ONNX… at the end of the row (below)
        self.views = QTabWidget(objectName="analysisViews")
        self.gradients, self.responses, self.lesions, self.landscape = (GradientView(), ResponsesView(),
                                                                        LesionView(), LandscapeView())
        for view, name in ((self.gradients, "Gradient flow"), (self.responses, "Layer responses"),
                           (self.lesions, "Lesions"), (self.landscape, "Loss landscape")):
            self.views.addTab(view, name)
        self.views.currentChanged.connect(lambda _: self._update())
        self.export_action = make_action(self, "Export analysis…", None, "Save the analysis shown as PNG or SVG, "
                                         "or its numbers as CSV", self._on_export, name="exportAnalysis")
        self.export_network_action = make_action(
            self, "Export trained network as ONNX…", None, "Write a network of the run, as it was at the checkpoint "
            "chosen, as an ONNX file with the layer table's names (for Netron or any ONNX runtime)",
            self._on_export_network, name="exportTrainedOnnx")
        for text, action, name in (("Export…", self.export_action, "exportAnalysisButton"),
                                   ("ONNX…", self.export_network_action, "exportTrainedOnnxButton")):
            button = QPushButton(text, objectName=name)
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.views, 1)

    # --- the run ----------------------------------------------------------------------------------------------
    def set_run(self, path: Path | None) -> None:
        """Analyse the run in ``path`` (the Training tab's run shown), or nothing. An analysis running goes on:
        it is its own run's, whichever is shown."""
        if self._follower is not None:
            self._follower.stop()
            self._follower.deleteLater()
            self._follower = None
        if self._run is None or path is None or Path(path) != self._run.path:
            self.checkpoint.blockSignals(True)  # a checkpoint picked belongs to the run it was picked in
            self.checkpoint.clear()
            self.checkpoint.blockSignals(False)
        self._run, self._name, self._models, self._events = None, "", {}, []
        if path is not None:
            try:
                run = RunDir.open(path)
                config = run.config()
                self._run, self._name = run, config.name
                self._models = {key: (model, seed) for key, model, seed in config.networks()}
            except RunDirError as exc:
                self.status_message.emit(str(exc))
        self.gradients.show({}, {})  # nothing of the last run stays on screen
        if self._run is None:
            self.title.setText("<b>No run to analyse</b> — show a run on the Training tab (or open one from the Runs "
                               "tab); its checkpoints and training events are analysed here")
        else:
            self.title.setText(f"<b>{self._name}</b> — analysed at a kept checkpoint; gradient flow from the "
                               "training events")
            self._follower = RunFollower(self._run.path, self)
            self._follower.events.connect(self._on_events)
            if self.isVisible():
                self._follower.start()
        self._fill_checkpoints()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if self._follower is not None:
            self._follower.start()  # the gradient flow, live while the tab is shown
        self._fill_checkpoints()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().hideEvent(event)
        if self._follower is not None:
            self._follower.stop()

    def shutdown(self) -> None:
        self.job.shutdown()
        if self._follower is not None:
            self._follower.stop()

    def _fill_checkpoints(self) -> None:
        """The run's kept checkpoints, latest first. A checkpoint the person picked stays picked; the latest
        stays the latest as training keeps newer ones (it was left at 300 of a run that had gone on to 600)."""
        current = self.checkpoint.currentData() if self.checkpoint.currentIndex() > 0 else None
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        if self._run is not None:
            for iteration in reversed(complete_sets(self._run.checkpoint_dir)):
                self.checkpoint.addItem(f"iteration {iteration:,}", iteration)
            self.disk.setText(f"checkpoints take {size(checkpoint_disk_bytes(self._run.checkpoint_dir))}")
        else:
            self.disk.setText("")
        index = self.checkpoint.findData(current)
        self.checkpoint.setCurrentIndex(index if index >= 0 else 0)
        self.checkpoint.blockSignals(False)
        self._load_results()

    def _on_events(self, events: list) -> None:
        self._events += [e for e in events if e["type"] in ("grad", "resume")]
        flows = gradient_flow(self._events)
        self.gradients.show({k: v for k, v in flows.items() if k in self._models}, self._models)

    # --- analyses ---------------------------------------------------------------------------------------------
    def run_analysis(self, what: str, two_d: bool = False) -> None:
        if self._run is None or self.checkpoint.currentData() is None:
            self.status_message.emit("Nothing to analyse yet: show a run with a checkpoint on the Training tab")
            return
        analysis = Analysis(self._run.path, self._name, what, two_d, int(self.checkpoint.currentData()))
        view = self._view_of(what)
        self.views.setCurrentWidget(view)  # what was asked for is what is shown
        if not view.rows()[1]:
            view.placeholder(f"Computing {analysis.title.lower()} at iteration {analysis.iteration:,}… (the progress "
                             "is at the top right)")
        self.job.start(analysis)
        self._update()

    def _view_of(self, what: str):
        return {"responses": self.responses, "lesion": self.lesions, "landscape": self.landscape}[what]

    def _on_finished(self, analysis: Analysis, message: str) -> None:
        self.status_message.emit(message)  # the latest word: a cancel's no longer outlives a success
        if self._run is not None and analysis.run == self._run.path:
            self._load_results()
        self._update()

    def _load_results(self) -> None:
        iteration = self.checkpoint.currentData()
        for view, name in ((self.responses, "responses"), (self.lesions, "lesion")):
            view.show(self._read(name, False, iteration), self._models, iteration)
        line, plane = self._read("landscape", False, iteration), self._read("landscape", True, iteration)
        self.landscape.show(line, self._models, plane)
        self._update()

    def _read(self, what: str, two_d: bool, iteration) -> dict:
        if self._run is None or iteration is None:
            return {}
        path = result_path(self._run, what, iteration, two_d)
        try:
            found = json.loads(read_text(path, links=False))["networks"]
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return {}
        return {k: v for k, v in found.items() if k in self._models}

    def _update(self) -> None:
        running = self.job.is_running()
        for button in self.buttons.values():
            button.setEnabled(self._run is not None and not running and self.checkpoint.count() > 0)
        self.export_network_action.setEnabled(self._run is not None and self.checkpoint.count() > 0)
        self.export_action.setEnabled(self._run is not None and bool(self.views.currentWidget().rows()[1]))

    # --- exports ------------------------------------------------------------------------------------------
    def _on_export_network(self) -> None:
        if self._run is not None and self.checkpoint.currentData() is not None:
            self.export_network_requested.emit(self._run.path, list(self._models), int(self.checkpoint.currentData()))

    def _heading(self, view) -> str:
        """What an exported figure says it is: which view, of which run, at which checkpoint."""
        where = "" if view is self.gradients else f" at iteration {self.checkpoint.currentData():,}"
        return f"{self.views.tabText(self.views.indexOf(view))} — {self._name}{where}"

    def _on_export(self) -> None:
        view = self.views.currentWidget()
        kind = self.views.tabText(self.views.currentIndex()).lower().replace(" ", "-")
        where = "" if view is self.gradients else f"-iter{self.checkpoint.currentData()}"
        path = ask_save_path(self, self._settings, "Export analysis", f"{self._name}-{kind}{where}.png", FORMATS)
        if path:
            self._export(view, path)

    def _export(self, view, path: Path) -> None:
        try:
            suffix = path.suffix.lower()
            if suffix == ".csv":
                header, rows = view.rows()
                write_rows(path, header, rows)
            elif suffix == ".svg":
                export_svg(view.layout_widget, path, self._heading(view))
            elif suffix == ".png":
                export_png(view.layout_widget, path, self._heading(view))
            else:
                raise ValueError(f"{path.name} is not a .png, .svg or .csv file name; choose one of those")
        except (OSError, ValueError) as exc:
            self.status_message.emit(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}")
            return
        remember(self._settings, path)
        self.status_message.emit(f"Saved {path}")
