"""The run the Training tab shows: its header, its Figure 6 curves, its progress, and the runs overlaid on it.

Everything here is read from run folders (a :class:`RunFollower` per shown run), whoever trains them: this app,
an earlier window, the command line. The view does not start or stop anything; the page does.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from explorer.config.run import DATASET_LABELS, RunConfig
from explorer.system.formatting import networks
from explorer.gui.training.curves import CurvesView
from explorer.gui.widgets.run_follower import RunFollower
from explorer.gui.training.progress import ProgressBox
from explorer.gui.widgets.theme import SECONDARY_TEXT
from explorer.runs.folder import RunDir
from explorer.runs.state import RunState, RunStatus

MAIN = "main"


def networks_text(config: RunConfig) -> str:
    return networks(config.model_configs())


class RunView(QWidget):
    """``status_changed(RunStatus)`` carries the shown run's status as it changes; ``overlays_changed`` fires when
    an overlay is added or removed."""

    status_changed = Signal(object)  # RunStatus
    overlays_changed = Signal()
    run_changed = Signal(object)  # the run shown (a Path), or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path: Path | None = None
        self._config: RunConfig | None = None
        self._follower: RunFollower | None = None
        self._overlays: dict[Path, RunFollower] = {}
        self.title = QLabel(objectName="runTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self._chips = QHBoxLayout()
        self._chips.setContentsMargins(0, 0, 0, 0)
        self.curves = CurvesView()
        self.progress = ProgressBox()
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addLayout(self._chips)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.curves, 1)
        layout.addWidget(self.progress)
        self.clear()

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def config(self) -> RunConfig | None:
        return self._config

    @property
    def status(self) -> RunStatus | None:
        return self._follower.status if self._follower is not None else None

    def overlays(self) -> list[Path]:
        return list(self._overlays)

    # --- the main run -------------------------------------------------------------------------------------
    def show_run(self, path: Path, keep_following: bool = False) -> RunConfig:
        """Show the run in ``path`` from its first event; raises RunDirError when it is not a readable run."""
        run = RunDir.open(path)
        config = run.config()
        self._stop_following()
        self.remove_overlay(run.path)  # the run shown is no overlay of itself
        self._path, self._config = run.path, config
        self.curves.show_run(MAIN, run.path, config)
        self.progress.reset(config.train.iterations)
        self._follower = RunFollower(run.path, self)
        self._follower.events.connect(self._on_events)
        self._follower.status_changed.connect(self._on_status)
        self._follower.start(keep_following=keep_following)
        self._update_title()
        self.run_changed.emit(run.path)
        return config

    def keep_following(self, keep: bool) -> None:
        """While the page's own trainer works on the shown run, follow it even before it says anything."""
        if self._follower is not None:
            self._follower.keep_following(keep)

    def clear(self) -> None:
        """No run shown: the form beside the view holds the draft of the next run."""
        self._stop_following()
        for path in list(self._overlays):
            self.remove_overlay(path, quiet=True)
        had = self._path is not None
        self._path, self._config = None, None
        self.curves.remove_run(MAIN)
        self.progress.reset()
        self._update_title()
        if had:
            self.run_changed.emit(None)

    def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower.deleteLater()
            self._follower = None

    def _on_events(self, events: list) -> None:
        self.curves.add_events(MAIN, events)
        for event in events:
            self.progress.on_event(event)

    def _on_status(self, status: RunStatus) -> None:
        state = status.state
        if status.starting:
            state = "starting"  # the trainer holds the run and is loading torch and the data
        self.progress.set_state(state, status.message if state in (RunState.FAILED, RunState.UNREADABLE) else "")
        self.status_changed.emit(status)

    def show_failure(self, message: str) -> None:
        self.progress.show_error(message)

    def set_state(self, state: str) -> None:
        self.progress.set_state(state)

    # --- overlays -----------------------------------------------------------------------------------------
    def add_overlay(self, path: Path) -> str:
        """Overlay another run's curves; returns what happened, in a sentence for the status bar."""
        run = RunDir.open(path)
        config = run.config()
        if run.path == self._path:
            return f"{run.path.name} is the run shown; overlay another run"
        self.remove_overlay(run.path, quiet=True)
        self.curves.show_run(str(run.path), run.path, config, overlay=True)
        follower = RunFollower(run.path, self)
        follower.events.connect(lambda events, key=str(run.path): self.curves.add_events(key, events))
        self._overlays[run.path] = follower
        follower.start()
        chip = QToolButton(objectName="overlayChip")
        chip.setText(f"✕ {config.name}")
        chip.setToolTip(f"Overlaid: {run.path}\nClick to remove it from the curves")
        chip.clicked.connect(lambda _=False, p=run.path: self.remove_overlay(p))
        chip.setProperty("run_path", str(run.path))
        self._chips.addWidget(chip)
        self._update_title()
        self.overlays_changed.emit()
        return f"Overlaid {config.name} ({networks_text(config)}) as dash-dotted curves"

    def remove_overlay(self, path: Path, quiet: bool = False) -> None:
        follower = self._overlays.pop(Path(path), None)
        if follower is None:
            return
        follower.stop()
        follower.deleteLater()
        self.curves.remove_run(str(path))
        for i in reversed(range(self._chips.count())):
            chip = self._chips.itemAt(i).widget()
            if chip is not None and chip.property("run_path") == str(path):
                self._chips.removeWidget(chip)
                chip.setParent(None)  # gone from the header at once, not when the event loop deletes it
                chip.deleteLater()
        self._update_title()
        if not quiet:
            self.overlays_changed.emit()

    def stop(self) -> None:
        self._stop_following()
        for path in list(self._overlays):
            self.remove_overlay(path, quiet=True)

    def _update_title(self) -> None:
        if self._config is None:
            self.title.setText("<b>No run shown</b> — set up a run on the left and Start (Ctrl+Return), or open "
                               "one from the Runs tab (Ctrl+O)")
            return
        dataset = DATASET_LABELS.get(self._config.data.dataset, self._config.data.dataset)
        names = [f"<b>{html.escape(self._config.name)}</b> — {html.escape(networks_text(self._config))} — "
                 f"{html.escape(dataset)}"]
        if self._overlays:
            names.append("overlaid: " + ", ".join(html.escape(RunDir(p).path.name) for p in self._overlays))
        self.title.setText(" · ".join(names) + f"<br><span style='color:{SECONDARY_TEXT}'>{html.escape(str(self._path))}</span>")

