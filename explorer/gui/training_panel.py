"""The Training tab: what to train (data, depths, networks, recipe, device, precision), Start / Stop / Resume,
and the run it shows (Figure 6 curves and progress).

The page builds a :class:`RunConfig`, creates the run folder itself and hands it to a :class:`TrainingProcess`
child; what it draws comes from the run folder (DESIGN.md). It can also show any other run folder, live or
finished, and overlay a second one. Settings persist in the QSettings it is given.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
    QCheckBox, QPushButton, QScrollArea, QSpinBox, QSplitter, QToolButton, QVBoxLayout, QWidget,
)

from explorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig, depth_presets
from explorer.gui.actions import make_action
from explorer.gui.curves import CurvesView
from explorer.gui.devices import DeviceProbe
from explorer.gui.training_process import STOP_GRACE_S, RunFollower, TrainingProcess
from explorer.gui.training_progress import ProgressBox
from explorer.runs import RunDir, RunDirError

DATASETS = (("CIFAR-10", "cifar10"), ("Synthetic (offline, no download)", "synthetic"))
COMPARES = (("Plain and residual (Figure 6)", "both"), ("Residual only", "residual"), ("Plain only", "plain"))
# name, iterations, batch size, lr (None: the person's own); milestones follow from the iterations
RECIPES = (
    ("Paper (64k iterations)", 64000, 128, 0.1),
    ("Quick look (500, CPU)", 500, 64, 0.1),
    ("Custom", None, None, None),
)
PRECISIONS = (("Auto (bf16 where fast)", "auto"), ("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "fp16"))
DEFAULT_DEPTHS = (20, 56)


def recipe_train_options(iterations: int) -> dict:
    """Milestones at 50% and 75% (the paper's 32k/48k of 64k), and logging dense enough for a short run."""
    log_every = max(1, min(50, iterations // 200))
    paper = iterations == 64000
    return {
        "milestones": (32000, 48000) if paper else tuple(sorted({max(1, iterations // 2), max(2, iterations * 3 // 4)})),
        "log_every": log_every,
        "eval_every": None if paper else max(log_every, iterations // 10),
        "checkpoint_every": min(1000, max(1, iterations // 4)),
    }


class TrainingPage(QWidget):
    status_message = Signal(str)

    def __init__(self, settings: QSettings, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._runs_dir = Path(runs_dir)
        self._model = ModelConfig()
        self._process = TrainingProcess(self)
        self._display_path: Path | None = None
        self._display_follower: RunFollower | None = None
        self._display_state = "idle"
        self._overlay_follower: RunFollower | None = None
        self._devices = DeviceProbe(self)
        self._devices_known = False
        self._build()
        self._restore()
        self._process.event.connect(self._on_process_event)
        self._process.state_changed.connect(self._on_process_state)
        self._process.failed.connect(self._on_process_failed)
        self._process.finished.connect(self._on_process_finished)
        self._devices.found.connect(self._on_devices_found)
        self._update_actions()

    # --- building -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.dataset = QComboBox()
        for label, value in DATASETS:
            self.dataset.addItem(label, value)
        self.data_dir = QLineEdit()
        self.data_dir.setPlaceholderText("default cache folder")
        self.data_dir.setToolTip("Where CIFAR-10 is kept (downloaded there on first use)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_data)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(browse)
        self.synthetic_size = QSpinBox()
        self.synthetic_size.setRange(20, 1_000_000)
        self.synthetic_size.setValue(10000)
        self.synthetic_size.setToolTip("Images in the offline synthetic set (for trying things out without CIFAR-10)")

        self.depth_box = QGroupBox("Depths to compare")
        self.depth_grid = QGridLayout(self.depth_box)
        self.depth_checks: dict[int, QCheckBox] = {}
        self.other_depths = QLineEdit()
        self.other_depths.setPlaceholderText("other depths, e.g. 8, 14")
        self.other_depths.setToolTip("More depths, comma-separated; each must fit the family and block")
        self.compare = QComboBox()
        for label, value in COMPARES:
            self.compare.addItem(label, value)
        self.compare.setToolTip("Train the plain nets, the ResNets, or both on identical batches")

        self.recipe = QComboBox()
        for recipe in RECIPES:
            self.recipe.addItem(recipe[0])
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 10_000_000)
        self.iterations.setGroupSeparatorShown(True)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65536)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 10.0)
        self.lr.setSingleStep(0.01)
        self.milestones_label = QLabel()
        self.milestones_label.setWordWrap(True)

        self.device = QComboBox()
        self.device.addItem("Auto (best available)", ("auto", None))
        self.device.setToolTip("Looking for devices… (torch is asked in a separate process)")
        self.precision = QComboBox()
        for label, value in PRECISIONS:
            self.precision.addItem(label, value)
        self.precision.setToolTip("bf16 autocast is about 2x faster on this CPU but changes gradients slightly; "
                                  "fp32 is exact")
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("automatic, e.g. cifar-20-56")
        self.validation = QLabel()
        self.validation.setWordWrap(True)
        self.validation.setStyleSheet("color: #b00020;")
        self.validation.hide()

        for combo in (self.dataset, self.compare, self.recipe, self.device, self.precision):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
            combo.setToolTip(combo.toolTip() or combo.currentText())
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Dataset:", self.dataset)
        form.addRow("Data folder:", data_row)
        form.addRow("Synthetic images:", self.synthetic_size)
        form.addRow(self.depth_box)
        form.addRow("Networks:", self.compare)
        form.addRow("Recipe:", self.recipe)
        form.addRow("Iterations:", self.iterations)
        form.addRow("Batch size:", self.batch_size)
        form.addRow("Learning rate:", self.lr)
        form.addRow("", self.milestones_label)
        form.addRow("Device:", self.device)
        form.addRow("Precision:", self.precision)
        form.addRow("Run name:", self.run_name)

        self._actions = self._make_actions()
        buttons = QHBoxLayout()
        for action in self._actions[:3]:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setMinimumWidth(80)
            buttons.addWidget(button)
        buttons.addStretch(1)

        settings_widget = QWidget()
        side = QVBoxLayout(settings_widget)
        side.addLayout(form)
        side.addWidget(self.validation)
        side.addLayout(buttons)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(settings_widget)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(settings_widget.sizeHint().width() + 24)

        self.run_title = QLabel()
        self.run_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.curves = CurvesView()
        self.progress = ProgressBox()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.run_title)
        right_layout.addWidget(self.curves, 1)
        right_layout.addWidget(self.progress)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.dataset.currentIndexChanged.connect(self._on_dataset_changed)
        self.recipe.currentIndexChanged.connect(self._on_recipe_changed)
        self.iterations.valueChanged.connect(self._on_iterations_changed)
        for widget in (self.other_depths, self.run_name):
            widget.textChanged.connect(self._on_form_changed)
        self._set_depth_presets()

    def _make_actions(self) -> list[QAction]:
        specs = (
            ("Start", "Ctrl+Return", "Start training the chosen networks in a separate process", self._on_start),
            ("Stop", "Ctrl+.", "Stop: the trainer saves a checkpoint and exits (Resume continues)", self._on_stop),
            ("Resume", None, "Continue the shown run from its last checkpoint", self._on_resume),
            ("Export curves/metrics…", "Ctrl+E", "Save the curves as PNG or SVG, or the metrics as CSV",
             self._on_export),
        )
        actions = []
        for text, shortcut, tip, slot in specs:
            action = make_action(self, text, shortcut, tip, slot)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
            actions.append(action)
        return actions

    # --- interface ------------------------------------------------------------------------------------------
    @property
    def actions(self) -> list[QAction]:  # type: ignore[override]
        return list(self._actions)

    @property
    def start_action(self) -> QAction:
        return self._actions[0]

    @property
    def stop_action(self) -> QAction:
        return self._actions[1]

    @property
    def resume_action(self) -> QAction:
        return self._actions[2]

    @property
    def process(self) -> TrainingProcess:
        return self._process

    def set_model_config(self, cfg: ModelConfig) -> None:
        """Family, block, pre-activation, shortcut and stride placement chosen on the Architecture tab."""
        changed = (cfg.family, cfg.block) != (self._model.family, self._model.block)
        self._model = cfg
        if changed:
            self._set_depth_presets(keep=True)
        self._on_form_changed()

    def set_runs_dir(self, runs_dir: Path) -> None:
        self._runs_dir = Path(runs_dir)

    def is_training(self) -> bool:
        return self._process.is_running()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if not self._devices_known:
            self._devices.start()  # after the window shows: torch loads in a child, the GUI stays light

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().hideEvent(event)
        self._devices.stop()  # asked again when shown, if it had not answered yet

    def shutdown(self, keep_running: bool) -> None:
        """The app is closing: stop the child and wait for its checkpoint, or leave it running if asked."""
        self._save()
        self._devices.stop()
        for follower in (self._display_follower, self._overlay_follower):
            if follower is not None:
                follower.stop()
        if self._process.is_running():
            if keep_running:
                self._process.detach()
            else:
                self._process.stop()
                if not self._process.wait(STOP_GRACE_S):
                    self._process.kill()
                    self._process.wait(5.0)

    def open_run(self, path: Path, overlay: bool = False) -> None:
        """Show a run folder's curves, following it while it is live; ``overlay`` adds it as fainter curves."""
        try:
            run = RunDir.open(path)
            name = run.config().name
        except RunDirError as exc:
            self._say(str(exc))
            return
        if overlay:
            if self._overlay_follower is not None:
                self._overlay_follower.stop()
                self._overlay_follower.deleteLater()
            self.curves.clear("overlay")
            self._overlay_follower = RunFollower(run.path, self)
            self._overlay_follower.events.connect(lambda events: self.curves.add_events(events, "overlay", name))
            self._overlay_follower.start()
            self._say(f"Overlaid run {run.path.name}")
            return
        if self.is_training() and run.path == self._process.run_path:
            if not self._shows_own_run():  # back to the run this page trains: what came so far, then live
                self._show_run(run.path, own=True)
                self._display_state = self._process.state
                self._on_display_events(self._process.history())
                self.progress.set_state(self._process.state)
            return
        self._show_run(run.path)
        self._display_follower.start()

    def export_to(self, path: Path) -> None:
        """PNG or SVG of the curves, or CSV of the metrics, by the file's suffix."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            rows = self.curves.export_csv(path)
            self._say(f"Saved {rows} rows of metrics to {path}")
        else:
            self.curves.export_image(path)
            self._say(f"Saved the curves to {path}")

    # --- the displayed run ------------------------------------------------------------------------------------
    def _show_run(self, path: Path, own: bool = False) -> None:
        if self._display_follower is not None:
            self._display_follower.stop()
            self._display_follower.deleteLater()
            self._display_follower = None
        self._display_path = Path(path)
        self.curves.clear("main")
        try:
            config = RunDir(path).config()
            self.progress.reset(config.train.iterations)
            self.curves.set_milestones(config.train.milestones)
            self.run_title.setText(f"<b>{config.name}</b> — {', '.join(m.name for m in config.model_configs())}"
                                   f" — <span style='color:gray'>{path}</span>")
        except RunDirError as exc:
            self.progress.reset()
            self._say(str(exc))
        if not own:
            self._display_follower = RunFollower(path, self)
            self._display_follower.events.connect(self._on_display_events)
            self._display_follower.status_changed.connect(self._on_display_status)
        self._update_actions()

    def _on_display_events(self, events: list) -> None:
        self.curves.add_events(events)
        for event in events:
            self.progress.on_event(event)

    def _on_display_status(self, status: dict) -> None:
        self._display_state = status.get("state", "failed")
        self.progress.set_state(self._display_state, status.get("message", "") if self._display_state == "failed"
                                else "")
        self._update_actions()

    def _shows_own_run(self) -> bool:
        return self._display_path is not None and self._display_path == self._process.run_path

    def _on_process_event(self, event: dict) -> None:
        if self._shows_own_run():
            self.curves.add_events([event])
            self.progress.on_event(event)

    def _on_process_state(self, state: str) -> None:
        if self._shows_own_run() and state not in ("failed",):
            self._display_state = state
            self.progress.set_state(state)
        self._update_actions()

    def _on_process_failed(self, message: str) -> None:
        if self._shows_own_run():
            self._display_state = "failed"
            self.progress.show_error(message)
        self._say(f"Training failed: {message.splitlines()[0]}")
        self._update_actions()

    def _on_process_finished(self, code: int) -> None:
        self._say("Training finished" if code == 0 else "Training stopped; Resume continues from the checkpoint")
        self._update_actions()

    # --- actions -------------------------------------------------------------------------------------------
    def _on_start(self) -> None:
        if self.is_training():
            return
        try:
            config = self.run_config()
        except ValueError as exc:
            self._show_validation(str(exc))
            return
        try:
            run = RunDir.create(self._runs_dir, config)
        except RunDirError as exc:
            self._show_validation(str(exc))
            return
        self._save()
        self._start_process(run.path)
        self._say(f"Started {config.name} in {run.path}")

    def _on_resume(self) -> None:
        if self.is_training() or self._display_path is None:
            return
        self._start_process(self._display_path)
        self._say(f"Resuming {self._display_path.name}")

    def _start_process(self, path: Path) -> None:
        self._show_validation("")
        environment = None
        device, index = self.device.currentData()
        if device == "cuda" and index is not None:
            environment = {"CUDA_VISIBLE_DEVICES": str(index)}
        self._show_run(path, own=True)
        self._display_state = "starting"
        self._process.start(path, environment)
        self._update_actions()

    def _on_stop(self) -> None:
        self._process.stop()

    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export curves or metrics", str(Path.home() / "figure6.png"),
            "PNG image (*.png);;SVG image (*.svg);;CSV metrics (*.csv)")
        if path:
            self.export_to(Path(path))

    def _update_actions(self) -> None:
        training = self.is_training()
        self.start_action.setEnabled(not training)
        self.stop_action.setEnabled(training and self._process.state != "stopping")
        self.resume_action.setEnabled(not training and self._display_path is not None
                                      and self._display_state in ("failed", "cancelled"))
        for widget in (self.dataset, self.depth_box, self.compare, self.recipe):
            widget.setEnabled(not training)

    # --- the form ------------------------------------------------------------------------------------------
    def run_config(self) -> RunConfig:
        """The RunConfig the form describes; ValueError (one sentence) when a value is not allowed."""
        depths = sorted({d for d, box in self.depth_checks.items() if box.isChecked()} | self._other_depths())
        if not depths:
            raise ValueError("choose at least one depth to train")
        for depth in depths:
            self._model.replace(depth=depth, stages=None)  # raises ValueError naming a depth that does not fit
        iterations = self.iterations.value()
        device, _index = self.device.currentData()
        data_dir = self.data_dir.text().strip() or None
        train = TrainConfig(
            compare=self.compare.currentData(), depths=tuple(depths), iterations=iterations,
            batch_size=self.batch_size.value(), lr=self.lr.value(), device=device,
            precision=self.precision.currentData(), **recipe_train_options(iterations))
        data = DataConfig(dataset=self.dataset.currentData(), data_dir=data_dir,
                          synthetic_size=self.synthetic_size.value())
        name = self.run_name.text().strip() or f"{self._model.family}-{'-'.join(map(str, depths))}"
        return RunConfig(model=self._model.replace(depth=depths[0], stages=None), data=data, train=train, name=name)

    def _other_depths(self) -> set[int]:
        text = self.other_depths.text().replace(";", ",")
        depths = set()
        for part in filter(None, (p.strip() for p in text.split(","))):
            if not part.isdigit():
                raise ValueError(f"depth {part!r} is not a whole number; write depths like 8, 14")
            depths.add(int(part))
        return depths

    def _set_depth_presets(self, keep: bool = False) -> None:
        checked = {d for d, box in self.depth_checks.items() if box.isChecked()} if keep else set(DEFAULT_DEPTHS)
        for box in self.depth_checks.values():
            self.depth_grid.removeWidget(box)
            box.deleteLater()
        self.depth_checks = {}
        presets = depth_presets(self._model.family, self._model.block)
        if not checked & set(presets):
            checked = set(presets[:2])
        for i, depth in enumerate(presets):
            box = QCheckBox(str(depth))
            box.setChecked(depth in checked and depth != 1202)
            box.setToolTip(f"Train the {depth}-layer networks")
            box.toggled.connect(self._on_form_changed)
            self.depth_grid.addWidget(box, i // 4, i % 4)
            self.depth_checks[depth] = box
        self.depth_grid.addWidget(self.other_depths, (len(presets) + 3) // 4, 0, 1, 4)

    def _on_form_changed(self) -> None:
        try:
            self.run_config()
            self._show_validation("")
        except ValueError as exc:
            self._show_validation(str(exc))

    def _show_validation(self, message: str) -> None:
        self.validation.setText(message[:1].upper() + message[1:] if message else "")
        self.validation.setVisible(bool(message))
        if message:
            self._say(self.validation.text())

    def _on_dataset_changed(self) -> None:
        self.synthetic_size.setEnabled(self.dataset.currentData() == "synthetic")
        self._on_form_changed()

    def _on_recipe_changed(self, index: int) -> None:
        _label, iterations, batch, lr = RECIPES[index]
        custom = iterations is None
        for widget in (self.iterations, self.batch_size, self.lr):
            widget.setEnabled(custom)
        if not custom:
            self.iterations.setValue(iterations)
            self.batch_size.setValue(batch)
            self.lr.setValue(lr)
        self._on_iterations_changed()

    def _on_iterations_changed(self) -> None:
        options = recipe_train_options(self.iterations.value())
        self.milestones_label.setText("lr ÷10 at iterations " + ", ".join(f"{m:,}" for m in options["milestones"]))
        self._on_form_changed()

    def _on_browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "CIFAR-10 data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)

    def _on_devices_found(self, devices: list) -> None:
        self._devices_known = True
        current = self._settings.value("training/device", "Auto")
        for device in devices:
            self.device.addItem(device["label"], (device["device"], device.get("index")))
        self.device.setToolTip("Where the networks train" if devices else "torch could not list devices; Auto")
        index = self.device.findText(str(current))
        if index >= 0:
            self.device.setCurrentIndex(index)

    def _say(self, message: str) -> None:
        self.status_message.emit(message)

    # --- settings ------------------------------------------------------------------------------------------
    def _save(self) -> None:
        s = self._settings
        s.setValue("training/dataset", self.dataset.currentData())
        s.setValue("training/data_dir", self.data_dir.text())
        s.setValue("training/synthetic_size", self.synthetic_size.value())
        s.setValue("training/depths", ",".join(str(d) for d, b in self.depth_checks.items() if b.isChecked()))
        s.setValue("training/other_depths", self.other_depths.text())
        s.setValue("training/compare", self.compare.currentData())
        s.setValue("training/recipe", self.recipe.currentIndex())
        s.setValue("training/iterations", self.iterations.value())
        s.setValue("training/batch_size", self.batch_size.value())
        s.setValue("training/lr", self.lr.value())
        s.setValue("training/device", self.device.currentText())
        s.setValue("training/precision", self.precision.currentData())
        s.setValue("training/name", self.run_name.text())
        s.setValue("training/smoothing", self.curves.smoothing.value())

    def _restore(self) -> None:
        s = self._settings

        def pick(combo: QComboBox, value) -> None:
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)

        pick(self.dataset, s.value("training/dataset", "cifar10"))
        self.data_dir.setText(str(s.value("training/data_dir", "")))
        self.synthetic_size.setValue(int(s.value("training/synthetic_size", 10000)))
        depths = {int(d) for d in str(s.value("training/depths", "20,56")).split(",") if d.strip().isdigit()}
        for depth, box in self.depth_checks.items():
            box.setChecked(depth in depths)
        self.other_depths.setText(str(s.value("training/other_depths", "")))
        pick(self.compare, s.value("training/compare", "both"))
        recipe = int(s.value("training/recipe", 0))
        self.recipe.setCurrentIndex(recipe)
        self._on_recipe_changed(recipe)
        if RECIPES[recipe][1] is None:
            self.iterations.setValue(int(s.value("training/iterations", 64000)))
            self.batch_size.setValue(int(s.value("training/batch_size", 128)))
            self.lr.setValue(float(s.value("training/lr", 0.1)))
        pick(self.precision, s.value("training/precision", "auto"))
        self.run_name.setText(str(s.value("training/name", "")))
        self.curves.smoothing.setValue(int(s.value("training/smoothing", 60)))
        self._on_dataset_changed()
