"""The Training tab: the form (what to train) beside the view (the run shown), and the actions between them.

Start checks everything that could refuse the run before anything is made - the form (the core validates), the
memory estimate, the data folder (asking before a folder is made or a download starts, which is its own step)
- and only then, when another run trains, asks whether to start this one beside it; then it makes the run
folder, shows it, and starts its trainer. Stop and Resume act on the run shown, whoever started its trainer:
this window, an earlier one, the command line (a live run is adopted through its lock, by the run controller
the Runs tab shares). A run shown is never edited: New run goes back to the draft.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QSplitter, QToolButton, QVBoxLayout, QWidget

from explorer.config.errors import ConfigError
from explorer.config.run import RunConfig
from explorer.gui.run_control import TrainerError
from explorer.gui.training.curves_export import CurvesExport
from explorer.gui.training.devices import DeviceProbe
from explorer.gui.training.form import TrainingForm
from explorer.gui.training.run_view import RunView
from explorer.gui.training.start_checks import StartChecks, ask
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.live_runs import LiveRuns
from explorer.runs.folder import RunDir, RunDirError
from explorer.runs.listing import training_now

SHOWN_KEY = "training/shown_run"
START_TIP = "Start training the networks set up on the left, in a separate process"


class TrainingPage(QWidget):
    status_message = Signal(str)

    def __init__(self, settings: QSettings, runs_dir: Path, trainers: LiveRuns,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._runs_dir = Path(runs_dir)
        self._trainers = trainers
        self.form = TrainingForm(settings)
        self.view = RunView()
        self._devices = DeviceProbe(self)
        self._devices_known = False
        self._devices_found: list[dict] = []
        self._draft_wrong = False  # a field of the draft is wrong (outlined): nothing to start until it is right
        self._checks = StartChecks(self)
        self._actions = self._make_actions()
        self._export = CurvesExport(settings, self.view, self)
        self._build()
        self.form.changed.connect(self._on_form_changed)
        self.view.status_changed.connect(self._on_shown_status)
        self._devices.found.connect(self._on_devices_found)
        self._checks.estimated.connect(self._on_estimate)
        self._checks.downloading.connect(self.view.progress.on_download)
        self._checks.decoding.connect(self.view.progress.on_decode)
        self._checks.ready.connect(self._launch)
        self._checks.refused.connect(self._on_refused)
        self._export.status_message.connect(self._say)
        trainers.state_changed.connect(self._on_trainer_state)
        trainers.ended.connect(self._on_trainer_ended)
        self.view.curves.restore_settings(settings)
        self._on_form_changed()

    def _make_actions(self) -> dict[str, QAction]:
        specs = (
            ("start", "Start", "Ctrl+Return", START_TIP, self._on_start),
            ("stop", "Stop", "Ctrl+.", "Stop the run shown: its trainer saves a checkpoint and exits (Resume "
             "continues)", self._on_stop),
            ("resume", "Resume", "Ctrl+R", "Continue the run shown from its last checkpoint", self._on_resume),
            ("new", "New run", "Ctrl+N", "Set up the next run (the run shown stays in the Runs tab)", self.new_run),
            ("export", "Export curves/metrics…", "Ctrl+E", "Save the curves as PNG or SVG, or the metrics of the "
             "runs shown as CSV", lambda: self._export.ask(self)),
        )
        actions = {}
        for key, text, shortcut, tip, slot in specs:
            action = make_action(self, text, shortcut, tip, slot, name=f"{key}Run" if key != "export" else "export")
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
            actions[key] = action
        return actions

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for key in ("start", "stop", "resume", "new"):
            button = QToolButton(objectName=f"{key}Button")
            button.setDefaultAction(self._actions[key])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button)
        buttons.addStretch(1)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addLayout(buttons)  # above the form: Start is in view at any window height
        column.addWidget(self.form)
        column.addStretch(1)
        scroll = QScrollArea(objectName="formScroll")
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        splitter.setSizes([360, 900])
        QVBoxLayout(self).addWidget(splitter)

    # --- interface ------------------------------------------------------------------------------------------
    def action(self, key: str) -> QAction:
        return self._actions[key]

    @property
    def runs_dir(self) -> Path:
        return self._runs_dir

    def set_runs_dir(self, runs_dir: Path) -> None:
        self._runs_dir = Path(runs_dir)

    def set_template(self, model) -> None:
        self.form.set_template(model)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if not self._devices_known:
            self._devices.start()  # after the window shows: torch loads in a child, the GUI stays light

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().hideEvent(event)
        self._devices.stop()

    def restore_shown(self) -> None:
        """At start-up: show again the run shown when the app last closed (adopting it if it still trains)."""
        path = self._settings.value(SHOWN_KEY)
        if path and (Path(str(path)) / "config.json").is_file():
            self.open_run(Path(str(path)))

    def shutdown(self) -> None:
        """The app is closing (its trainers are the window's to stop or keep): remember, stop what follows."""
        self.form.shutdown()
        self.view.curves.save_settings(self._settings)
        self._settings.setValue(SHOWN_KEY, str(self.view.path) if self.view.path else "")
        self._devices.stop()
        self._checks.shutdown()
        self.view.stop()

    # --- showing runs ---------------------------------------------------------------------------------------
    def open_run(self, path: Path, overlay: bool = False) -> bool:
        """Show a run folder (read-only settings, live curves), adopting its trainer if it has one; or overlay it."""
        try:
            if overlay:
                if self.view.path is None:
                    return self.open_run(path)
                self._say(self.view.add_overlay(path))
                return True
            config = self.view.show_run(path)
        except RunDirError as exc:
            self._say(str(exc))
            return False
        self.form.show_run(config, Path(path).name)
        if not self._trainers.controller.is_live(self.view.path):
            self._adopt(self.view.path)
        self._update_actions()
        return True

    def forget_run(self, path: Path) -> None:
        """A run folder is about to be deleted: stop showing it (as the run or as an overlay)."""
        if self.view.path == Path(path):
            self.new_run()
        self.view.remove_overlay(Path(path))

    def new_run(self) -> None:
        """Back to the draft: nothing shown, the form editable. A run that was shown training goes on, and the
        status bar says where to find it again."""
        left = self.view.path if self._trainers.controller.is_live(self.view.path) else None
        self.view.clear()
        self.form.show_run(None)
        self._on_form_changed()
        if left is not None:
            self._say(f"{left.name} keeps training; open it again (Runs tab, or Open run) to watch or stop it")

    def _adopt(self, path: Path) -> None:
        trainer = self._trainers.adopt(path)
        if trainer is not None:
            self.view.keep_following(True)
            self._say(f"{path.name} is training in pid {trainer.pid}; Stop stops it")

    # --- start, stop, resume ------------------------------------------------------------------------------
    def _on_start(self) -> None:
        if self.form.showing_run():
            self.new_run()  # the form held the run shown: the next run is set up there first
            self._say("The form holds the next run now; check it, then Start")
            return
        try:
            config = self.form.run_config()
        except ConfigError as exc:
            self.form.set_problem(exc)
            self._update_actions()
            return
        self.view.progress.set_state("checking")
        self._checks.check(config)
        self._update_actions()

    def _on_refused(self, message: str) -> None:
        self.view.progress.reset()
        self.form.set_problem(message)
        self._say(message)
        self._update_actions()

    def _launch(self, config: RunConfig) -> None:
        """Every check passed: the run is possible. Only now, when others train, is the person asked."""
        live = sorted({*self._trainers.controller.live_runs(), *training_now(self._runs_dir)})
        if live and not ask(self, "A run is training", f"{', '.join(p.name for p in live)} "
                            f"{'is' if len(live) == 1 else 'are'} still training. Start another run beside it? They "
                            "share this machine, so each trains more slowly.", default_yes=False):
            self.view.progress.reset()
            self._update_actions()
            return
        try:
            run = RunDir.create(self._runs_dir, config)
        except RunDirError as exc:
            self._on_refused(f"{exc} (the runs folder is chosen on the Runs tab)")
            return
        self.form.set_problem(None)
        self.form.save()
        self._start_trainer(run.path, resume=False)

    def _start_trainer(self, path: Path, resume: bool) -> None:
        try:
            self._trainers.start(path, resume=resume, environment=self.form.device_environment())
        except TrainerError as exc:
            self.view.show_failure(str(exc))
            self._say(str(exc))
            return
        if self.view.path != path:
            self.open_run(path)
        self.view.keep_following(True)
        self.view.set_state("starting")
        self._say(f"{'Resuming' if resume else 'Started'} {path.name}")
        self._update_actions()

    def _on_stop(self) -> None:
        if self.view.path is not None:
            self._trainers.stop(self.view.path)

    def _on_resume(self) -> None:
        if self._can_resume():
            self._start_trainer(self.view.path, resume=True)

    def resume_run(self, path: Path) -> None:
        """Show ``path`` and continue it (the Runs tab's Resume)."""
        if self.open_run(path):
            if self._can_resume():
                self._start_trainer(self.view.path, resume=True)
            else:
                shown = self.view.status
                self._say(f"{Path(path).name} cannot be resumed now ({shown.state if shown else 'unknown state'})")

    def _can_resume(self) -> bool:
        status = self.view.status
        return (self.view.path is not None and not self._trainers.controller.is_live(self.view.path)
                and status is not None and status.resumable)

    def _on_trainer_state(self, path: Path, state: str) -> None:
        if path == self.view.path and state in ("starting", "running", "stopping"):
            self.view.keep_following(True)
            self.view.set_state(state)
        self._update_actions()

    def _on_trainer_ended(self, path: Path, state: str, message: str) -> None:
        if path == self.view.path:
            self.view.keep_following(False)
            if state == "failed":
                self.view.show_failure(message)
            else:
                self.view.set_state(state)
        words = {"finished": "finished", "cancelled": "stopped; Resume continues from its checkpoint"}
        self._say(f"{path.name} {words[state]}" if state in words else
                  f"{path.name} failed: {message.splitlines()[0] if message else ''}")
        self._update_actions()

    def _on_shown_status(self, status) -> None:
        if status is not None and status.busy and not self._trainers.controller.is_live(self.view.path):
            self._adopt(self.view.path)  # a trainer took the run up (a resume from the command line)
        self._update_actions()

    # --- the form ---------------------------------------------------------------------------------------------
    def _on_form_changed(self) -> None:
        if self.form.showing_run():
            self.form.set_estimate("")
        else:
            try:
                config = self.form.run_config()
            except ConfigError as exc:
                self._draft_wrong = True
                self.form.set_problem(exc)
                self.form.set_estimate("")
            else:
                self._draft_wrong = False
                self.form.set_problem(None)
                kind, index = self.form.device_choice()
                device = next((d for d in self._devices_found if (d["device"], d.get("index")) == (kind, index)
                               and kind == "cuda"), None)
                gpu = any(d["device"] in ("cuda", "mps") for d in self._devices_found)
                self._checks.estimate(config, device, self._runs_dir, gpu)
        self._update_actions()

    def _on_estimate(self, config: RunConfig, text: str, refusal: str) -> None:
        if self.form.showing_run():
            return  # a run shown has its own settings; the estimate is for the draft
        self.form.set_estimate(text, fits=not refusal)
        if refusal:
            self.form.set_problem(refusal)
        self._update_actions()

    def _on_devices_found(self, devices: list) -> None:
        self._devices_known = True
        self._devices_found = devices
        self.form.set_devices(devices)

    # --- actions ------------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        trainer = self._trainers.controller.trainer(self.view.path)
        live = trainer is not None and trainer.is_live()
        fetching = self._checks.busy() or self._checks.fetching()
        showing = self.form.showing_run()
        # While the run shown trains, Start would leave it for a draft: New run says so, Start waits; a draft
        # with a wrong field waits for it to be right (the field says what is wrong).
        self._actions["start"].setEnabled(not fetching and not live and (showing or not self._draft_wrong))
        self._actions["start"].setToolTip(START_TIP if not live else "The run shown is training: New run (Ctrl+N) "
                                          "sets up another one to start beside it")
        self._actions["stop"].setEnabled(live and trainer.state != "stopping")
        self._actions["resume"].setEnabled(self._can_resume() and not fetching)
        self._actions["new"].setEnabled(showing and not fetching)
        self._actions["export"].setEnabled(self.view.path is not None)

    def _say(self, message: str) -> None:
        if message:
            self.status_message.emit(message[:1].upper() + message[1:])
