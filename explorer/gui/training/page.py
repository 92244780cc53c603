"""The Training tab: the form (what to train) beside the view (the run shown), and the actions between them.

Start checks everything that could refuse the run before anything is made - the form (the core validates), the
memory estimate, the data folder (asking before a folder is made or a download starts, which is its own step)
- then makes the run folder, shows it, and starts its trainer. Stop and Resume act on the run shown, whoever
started its trainer: this window, an earlier one, the command line (a live run is adopted through its lock).
A run shown is never edited: New run goes back to the draft.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout, QScrollArea, QSplitter, QToolButton, QVBoxLayout, QWidget,
)

from explorer.config.run import RunConfig
from explorer.system.formatting import size
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.actions import make_action
from explorer.gui.widgets.theme import mark
from explorer.gui.training.devices import DeviceProbe
from explorer.gui.widgets.figure_export import FORMATS, export
from explorer.gui.run_control import STOP_GRACE_S, RunControl
from explorer.gui.training.run_view import RunView
from explorer.gui.training.start_checks import StartChecks, ask
from explorer.gui.training.form import FormProblem, TrainingForm
from explorer.training.memory import refusal
from explorer.runs.listing import training_now
from explorer.runs.folder import RunDir, RunDirError

SHOWN_KEY = "training/shown_run"
START_TIP = "Start training the networks set up on the left, in a separate process"


class TrainingPage(QWidget):
    status_message = Signal(str)

    def __init__(self, settings: QSettings, runs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._runs_dir = Path(runs_dir)
        self._controls: dict[Path, RunControl] = {}
        self.form = TrainingForm(settings)
        self.view = RunView()
        self._devices = DeviceProbe(self)
        self._devices_known = False
        self._devices_found: list[dict] = []
        self._checks = StartChecks(self)
        self._actions = self._make_actions()
        self._build()
        self.form.changed.connect(self._on_form_changed)
        self.view.status_changed.connect(self._on_shown_status)
        self._devices.found.connect(self._on_devices_found)
        self._checks.estimated.connect(self._on_estimate)
        self._checks.downloading.connect(self.view.progress.on_download)
        self._checks.decoding.connect(self.view.progress.on_decode)
        self._checks.ready.connect(self._launch)
        self._checks.refused.connect(self._on_refused)
        self.view.curves.restore_settings(settings)
        self._on_form_changed()
        self._update_actions()

    def _make_actions(self) -> dict[str, QAction]:
        specs = (
            ("start", "Start", "Ctrl+Return", START_TIP, self._on_start),
            ("stop", "Stop", "Ctrl+.", "Stop the run shown: its trainer saves a checkpoint and exits (Resume "
             "continues)", self._on_stop),
            ("resume", "Resume", "Ctrl+R", "Continue the run shown from its last checkpoint", self._on_resume),
            ("new", "New run", "Ctrl+N", "Set up the next run (the run shown stays in the Runs tab)", self.new_run),
            ("export", "Export curves/metrics…", "Ctrl+E", "Save the curves as PNG or SVG, or the metrics of the "
             "runs shown as CSV", self._on_export),
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
        column.addWidget(self.form)
        column.addLayout(buttons)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(min(380, side.sizeHint().width() + 24))
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
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

    def control(self, path: Path | None = None) -> RunControl | None:
        """The control of the run shown (or of ``path``), when this window starts or watches its trainer."""
        path = path or self.view.path
        return self._controls.get(Path(path)) if path else None

    def is_training(self) -> bool:
        return any(control.is_live() for control in self._controls.values())

    def live_runs(self) -> list[Path]:
        return [path for path, control in self._controls.items() if control.is_live()]

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

    def shutdown(self, keep_running: bool) -> None:
        """The app is closing: stop the trainers and wait for their checkpoints, or leave them running."""
        self.form.save()
        self.view.curves.save_settings(self._settings)
        self._settings.setValue(SHOWN_KEY, str(self.view.path) if self.view.path else "")
        self._devices.stop()
        self._checks.shutdown()
        self.view.stop()
        live = [control for control in self._controls.values() if control.is_live()]
        for control in live:
            control.detach() if keep_running else control.stop()
        if keep_running:
            return
        deadline = time.monotonic() + STOP_GRACE_S  # all stop at once: one grace period, not one each
        for control in live:
            if not control.wait(max(0.0, deadline - time.monotonic())):
                control.kill()
                control.wait(5.0)

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
        control = self.control()
        if control is None or not control.is_live():
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
        control = self.control()
        left = self.view.path if control is not None and control.is_live() else None
        self.view.clear()
        self.form.show_run(None)
        self._on_form_changed()
        self._update_actions()
        if left is not None:
            self._say(f"{left.name} keeps training; open it again (Runs tab, or Open run) to watch or stop it")

    def _adopt(self, path: Path) -> None:
        control = RunControl(self)
        if control.adopt(path):
            self._watch(path, control)
            self._say(f"{path.name} is training in pid {control.pid}; Stop stops it")
        else:
            control.deleteLater()

    def _watch(self, path: Path, control: RunControl) -> None:
        old = self._controls.pop(Path(path), None)
        if old is not None:
            old.deleteLater()
        self._controls[Path(path)] = control
        control.state_changed.connect(lambda state, p=Path(path): self._on_control_state(p, state))
        control.ended.connect(lambda state, message, p=Path(path): self._on_control_ended(p, state, message))
        if Path(path) == self.view.path:
            self.view.keep_following(True)

    # --- start, stop, resume ------------------------------------------------------------------------------
    def _on_start(self) -> None:
        if self.form.showing_run():
            self.new_run()  # the form held the run shown: the next run is set up there first
            self._say("The form holds the next run now; check it, then Start")
            return
        try:
            config = self.form.run_config()
        except FormProblem as exc:
            self.form.set_problem(str(exc), exc.options)
            self._say(str(exc))
            return
        live = sorted({*self.live_runs(), *training_now(self._runs_dir)})  # this window's, and any other's
        if live and not ask(self, "A run is training", f"{', '.join(p.name for p in live)} "
                            f"{'is' if len(live) == 1 else 'are'} still training. Start another run beside it? They "
                            "share this machine, so each trains more slowly.", default_yes=False):
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
        try:
            run = RunDir.create(self._runs_dir, config)
        except RunDirError as exc:
            self.form.set_problem(f"{exc} (the runs folder is chosen on the Runs tab)")
            return
        self.form.set_problem("")
        self.form.save()
        self._start_trainer(run.path, resume=False)

    def _start_trainer(self, path: Path, resume: bool) -> None:
        control = RunControl(self)
        problem = control.start(path, resume=resume, environment=self.form.device_environment())
        if problem:
            control.deleteLater()
            self.view.show_failure(problem)
            self._say(problem)
            return
        self._watch(path, control)
        if self.view.path != path:
            self.open_run(path)
        self.view.keep_following(True)
        self.view.set_state("starting")
        self._say(f"{'Resuming' if resume else 'Started'} {path.name}")
        self._update_actions()

    def _on_stop(self) -> None:
        control = self.control()
        if control is not None:
            control.stop()
            self.view.set_state("stopping")

    def _on_resume(self) -> None:
        if self.view.path is not None and self._can_resume():
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
        control = self.control()
        status = self.view.status
        return (self.view.path is not None and not (control and control.is_live()) and status is not None
                and status.resumable)

    def _on_control_state(self, path: Path, state: str) -> None:
        if path == self.view.path and state in ("starting", "running", "stopping"):
            self.view.set_state(state)
        self._update_actions()

    def _on_control_ended(self, path: Path, state: str, message: str) -> None:
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

    def _on_shown_status(self, status: dict) -> None:
        control = self.control()
        if status is not None and status.busy and (control is None or not control.is_live()):
            self._adopt(self.view.path)  # a trainer took the run up (a resume from the command line)
        self._update_actions()

    # --- the form ---------------------------------------------------------------------------------------------
    def _on_form_changed(self) -> None:
        if self.form.showing_run():
            self.form.memory.setText("")
            return
        try:
            config = self.form.run_config()
        except FormProblem as exc:
            self.form.set_problem(str(exc), exc.options)
            return
        self.form.set_problem("")
        device = self.form.device.currentData()
        self._checks.estimate(config, next((d for d in self._devices_found if d["device"] == "cuda"
                                            and (d["device"], d.get("index")) == device), None))

    def _on_estimate(self, config: RunConfig, estimate) -> None:
        if self.form.showing_run():
            return  # a run shown has its own settings; the estimate is for the draft
        free = f" of {size(estimate.available)} free on {estimate.where}" if estimate.available else ""
        self.form.memory.setText(f"Memory: about {size(estimate.needed)}{free} for a training step")
        mark(self.form.memory, None if estimate.fits else "error")
        if not estimate.fits:
            self.form.set_problem(refusal(estimate, config.train.batch_size, len(config.model_configs())))

    def _on_devices_found(self, devices: list) -> None:
        self._devices_known = True
        self._devices_found = devices
        self.form.set_devices(devices)

    # --- actions ------------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        control = self.control()
        live = control is not None and control.is_live()
        fetching = self._checks.busy() or self._checks.fetching()
        showing = self.form.showing_run()
        # While the run shown trains, Start would leave it for a draft: New run says so, Start waits.
        self._actions["start"].setEnabled(not fetching and not live)
        self._actions["start"].setToolTip(START_TIP if not live else "The run shown is training: New run (Ctrl+N) "
                                          "sets up another one to start beside it")
        self._actions["stop"].setEnabled(live and control.state != "stopping")
        self._actions["resume"].setEnabled(self._can_resume() and not fetching)
        self._actions["new"].setEnabled(showing and not fetching)
        self._actions["export"].setEnabled(self.view.path is not None)

    def _on_export(self) -> None:
        name = f"{self.view.config.name if self.view.config else 'figure6'}.png"
        path = ask_save_path(self, self._settings, "Export curves or metrics", name, FORMATS)
        if path:
            self.export_to(path)

    def export_to(self, path: Path) -> bool:
        """PNG or SVG of the curves, or CSV of the shown runs' metrics, by the file's suffix; says how it went."""
        self.view.curves.flush()
        runs = [p for p in (self.view.path, *self.view.overlays()) if p is not None]
        try:
            what = export(self.view.curves.layout_widget, runs, Path(path), "ResNet Explorer: Figure 6")
        except (OSError, ValueError, RunDirError) as exc:
            self._say(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}; choose another file")
            return False
        remember(self._settings, path)
        self._say(f"Saved {what} to {path}")
        return True

    def _say(self, message: str) -> None:
        if message:
            self.status_message.emit(message[:1].upper() + message[1:])
