"""The Analysis tab: why residual learning works, on the run the Training tab shows.

Gradient flow is read from the run's events as they come. Layer responses, lesions and loss landscapes are
computed by ``resnet-explorer analyze`` in a child process (the window never waits: progress, ETA and Cancel),
at a kept checkpoint of the run (the start, each lr drop, the end), and read back from ``RUN_DIR/analysis/`` -
so results computed earlier, or from a shell, show as soon as the run is chosen.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget,
)

from explorer.analysis.plan import default_size, result_path
from explorer.analysis.gradients import gradient_flow
from explorer.runs.checkpoints import checkpoint_disk_bytes, complete_sets
from explorer.system.files import read_text
from explorer.system.formatting import duration, size
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.actions import make_action
from explorer.gui.analysis.views import GradientView, LandscapeView, LesionView, ResponsesView
from explorer.gui.widgets.child_job import ChildJob
from explorer.gui.widgets.figure_export import FORMATS, export_png, export_svg
from explorer.gui.widgets.run_follower import RunFollower
from explorer.gui.widgets.tips import tip
from explorer.runs.metrics_csv import write_rows
from explorer.runs.folder import RunDir, RunDirError

def _sizes(what: str, two_d: bool) -> str:
    (cpu_images, cpu_points), (gpu_images, gpu_points) = (default_size(what, two_d, d) for d in ("cpu", "cuda"))
    if cpu_points is None:
        return f"{cpu_images:,} images on a CPU, {gpu_images:,} on a GPU"
    grid = (lambda n: f"{n} × {n}") if two_d else (lambda n: f"{n}")
    return (f"{grid(cpu_points)} points on {cpu_images:,} images on a CPU, {grid(gpu_points)} on {gpu_images:,} "
            "on a GPU")


ANALYSES = (("responses", False, "Layer responses", "The std of every 3×3 layer's response over test images"),
            ("lesion", False, "Lesions", "Remove each residual block, then random sets of them, and measure the "
                                         "test error"),
            ("landscape", False, "Landscape, 1D", "The training loss along a random filter-normalised direction"),
            ("landscape", True, "Landscape, 2D", "The training loss on a plane of two random directions"))


class AnalysisPage(QWidget):
    status_message = Signal(str)
    export_network_requested = Signal(object, list, int)  # run folder, its networks' keys, the checkpoint

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._run: RunDir | None = None
        self._models: dict = {}
        self._events: list[dict] = []
        self._follower: RunFollower | None = None
        self._started, self._what = 0.0, ""
        self._job = ChildJob("the analysis", self)
        self._job.line.connect(self._on_line)
        self._job.done.connect(self._on_done)
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
        self.buttons = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Checkpoint:"))
        row.addWidget(self.checkpoint)
        row.addWidget(self.disk)
        for what, two_d, text, hint in ANALYSES:
            button = QPushButton(text, objectName=f"analyse-{what}{'-2d' if two_d else ''}")
            button.setToolTip(tip(f"{hint} ({_sizes(what, two_d)}). Runs in the background at the checkpoint "
                                  "chosen; progress and ETA below, Cancel stops it."))
            button.clicked.connect(lambda _=False, w=what, t=two_d: self.run_analysis(w, t))
            self.buttons[(what, two_d)] = button
            row.addWidget(button)
        self.cancel = QPushButton("Cancel", objectName="cancelAnalysis")
        self.cancel.clicked.connect(self._job.cancel)
        row.addWidget(self.cancel)
        row.addStretch(1)
        self.progress = QProgressBar(objectName="analysisProgress")
        self.eta = QLabel(objectName="analysisEta")
        status = QHBoxLayout()
        status.addWidget(self.progress, 1)
        status.addWidget(self.eta)
        self.views = QTabWidget(objectName="analysisViews")
        self.gradients, self.responses, self.lesions, self.landscape = (GradientView(), ResponsesView(),
                                                                        LesionView(), LandscapeView())
        for view, name in ((self.gradients, "Gradient flow"), (self.responses, "Layer responses"),
                           (self.lesions, "Lesions"), (self.landscape, "Loss landscape")):
            self.views.addTab(view, name)
        self.export_action = make_action(self, "Export analysis…", None, "Save the analysis shown as PNG or SVG, "
                                         "or its numbers as CSV", self._on_export, name="exportAnalysis")
        export = QPushButton("Export…")
        export.clicked.connect(self.export_action.trigger)
        status.addWidget(export)
        self.export_network_action = make_action(
            self, "Export trained network as ONNX…", None, "Write a network of the run, as it was at the checkpoint "
            "chosen, as an ONNX file with the layer table's names (for Netron or any ONNX runtime)",
            self._on_export_network, name="exportTrainedOnnx")
        onnx = QPushButton("ONNX…", objectName="exportTrainedOnnxButton")
        onnx.setToolTip(self.export_network_action.toolTip())
        onnx.clicked.connect(self.export_network_action.trigger)
        status.addWidget(onnx)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addLayout(status)
        layout.addWidget(self.views, 1)

    # --- the run ----------------------------------------------------------------------------------------------
    def set_run(self, path: Path | None) -> None:
        """Analyse the run in ``path`` (the Training tab's run shown), or nothing."""
        if self._follower is not None:
            self._follower.stop()
            self._follower.deleteLater()
            self._follower = None
        same = self._run is not None and path is not None and Path(path) == self._run.path
        self._job.cancel()
        if not same:  # the last analysis's bar and words, and a checkpoint picked, belong to the run they were of
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.eta.setText("")
            self.checkpoint.blockSignals(True)
            self.checkpoint.clear()
            self.checkpoint.blockSignals(False)
        self._run, self._models, self._events = None, {}, []
        config = None
        if path is not None:
            try:
                run = RunDir.open(path)
                config = run.config()
                self._run = run
            except RunDirError as exc:
                self.status_message.emit(str(exc))
        if self._run is None:
            self.title.setText("<b>No run to analyse</b> — show a run on the Training tab (or open one from the Runs "
                               "tab); its checkpoints and training events are analysed here")
        else:
            self.title.setText(f"<b>{config.name}</b> — analysed at a kept checkpoint; gradient flow from the "
                               "training events")
            self._models = {key: (model, seed) for key, model, seed in config.networks()}
            self._follower = RunFollower(self._run.path, self)
            self._follower.events.connect(self._on_events)
            if self.isVisible():
                self._follower.start()
        self._fill_checkpoints()
        self._update()

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
        self._job.cancel()
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
        self._update()

    def _on_events(self, events: list) -> None:
        self._events += [e for e in events if e["type"] in ("grad", "resume")]
        flows = gradient_flow(self._events)
        self.gradients.show({k: v for k, v in flows.items() if k in self._models},
                            {k: v for k, v in self._models.items()})

    # --- analyses ---------------------------------------------------------------------------------------------
    def run_analysis(self, what: str, two_d: bool = False) -> None:
        if self._run is None or self.checkpoint.currentData() is None:
            self.status_message.emit("Nothing to analyse yet: show a run with a checkpoint on the Training tab")
            return
        arguments = ["analyze", str(self._run.path.resolve()), "--what", what, "--checkpoint",
                     str(self.checkpoint.currentData())]
        if two_d:
            arguments.append("--two-d")
        self._started = time.monotonic()
        self._what = next(title for kind, plane, title, _ in ANALYSES if (kind, plane) == (what, two_d))
        self.progress.setRange(0, 0)
        self.eta.setText(f"{what}: loading the networks…")
        self._job.start(arguments)
        self._update()

    def _on_line(self, event: dict) -> None:
        if event.get("type") != "progress":
            return
        done, total = int(event.get("done") or 0), int(event.get("total") or 1)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        left = elapsed / done * (total - done) if done else float("nan")
        self.eta.setText(f"{event.get('network', '')} {done}/{total} · ETA {duration(left)}")

    def _on_done(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if message else 1)
        took = f"done in {duration(time.monotonic() - self._started)}"
        self.eta.setText(message or took)
        # the status bar always has the latest word: a cancel's "nothing was kept" no longer outlives a success
        self.status_message.emit(message[:1].upper() + message[1:] if message else f"{self._what}: {took}")
        self._load_results()
        self._update()

    def _load_results(self) -> None:
        iteration = self.checkpoint.currentData()
        for view, name in ((self.responses, "responses"), (self.lesions, "lesion")):
            data = self._read(name, False, iteration)
            view.show(data, self._models) if data else view.layout_widget.clear()
        line, plane = self._read("landscape", False, iteration), self._read("landscape", True, iteration)
        self.landscape.show(line, self._models, plane)

    def _read(self, what: str, two_d: bool, iteration) -> dict:
        if self._run is None or iteration is None:
            return {}
        path = result_path(self._run, what, iteration, two_d)
        try:
            found = json.loads(read_text(path))["networks"]
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return {}
        return {k: v for k, v in found.items() if k in self._models}

    def _update(self) -> None:
        running = self._job.is_running()
        for button in self.buttons.values():
            button.setEnabled(self._run is not None and not running and self.checkpoint.count() > 0)
        self.cancel.setEnabled(running)
        self.export_network_action.setEnabled(self._run is not None and self.checkpoint.count() > 0)

    def _on_export_network(self) -> None:
        if self._run is not None and self.checkpoint.currentData() is not None:
            self.export_network_requested.emit(self._run.path, list(self._models), int(self.checkpoint.currentData()))

    def _on_export(self) -> None:
        view = self.views.currentWidget()
        name = self.views.tabText(self.views.currentIndex()).lower().replace(" ", "-")
        path = ask_save_path(self, self._settings, "Export analysis", f"{name}.png", FORMATS)
        if path:
            self.export_to(view, path)

    def export_to(self, view, path: Path) -> bool:
        try:
            suffix = path.suffix.lower()
            if suffix == ".csv":
                header, rows = view.rows()
                write_rows(path, header, rows)
            elif suffix == ".svg":
                export_svg(view.layout_widget, path, f"ResNet Explorer: {view.__class__.__name__}")
            elif suffix == ".png":
                export_png(view.layout_widget, path)
            else:
                raise ValueError(f"{path.name} is not a .png, .svg or .csv file name; choose one of those")
        except (OSError, ValueError) as exc:
            self.status_message.emit(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        remember(self._settings, path)
        self.status_message.emit(f"Saved {path}")
        return True

