"""The progress strip under the curves: the run's state in words, iteration / total, ETA, images/s, a
dataset's download or an image folder's decoding, and the child's error with the tail of its stderr. It reads
only events and states."""

from __future__ import annotations

import time

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QPlainTextEdit, QProgressBar, QWidget

from explorer.gui.widgets.eta import Eta
from explorer.system.formatting import duration
from explorer.gui.widgets.theme import mark
from explorer.runs.events import stepping_of, where_and_how

STATE_WORDS = {
    "idle": "No run shown: set up the networks and the recipe on the left, then Start (Ctrl+Return).",
    "starting": "Starting… (loading torch in the training process)",
    "running": "Training",
    "stopping": "Stopping… waiting for the trainer to save its checkpoint",
    "finished": "Finished",
    "cancelled": "Cancelled (stopped); Resume continues from the last checkpoint",
    "failed": "Failed",
    "created": "Not started yet; Resume starts it",
    "unreadable": "This run folder cannot be read",
    "checking": "Getting the data ready…",
}


class ProgressBox(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        bold = QFont(self.state_label.font())
        bold.setBold(True)
        self.state_label.setFont(bold)
        self.bar = QProgressBar()
        self.bar.setFormat("iteration %v of %m")
        self.details = QLabel()
        self.download = QProgressBar()
        self.download.setFormat("downloading the dataset: %p%")
        self.download.hide()
        self.error = QPlainTextEdit()
        self.error.setReadOnly(True)
        self.error.setFont(QFont("monospace"))
        self.error.setMaximumHeight(110)
        self.error.hide()
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.state_label, 0, 0, 1, 2)
        layout.addWidget(self.bar, 1, 0)
        layout.addWidget(self.details, 1, 1)
        layout.addWidget(self.download, 2, 0, 1, 2)
        layout.addWidget(self.error, 3, 0, 1, 2)
        layout.setColumnStretch(0, 1)
        self.reset()

    def reset(self, total: int = 0) -> None:
        self._total = total
        self._first: tuple[float, int] | None = None
        self._iteration = 0
        self._ips = 0.0
        self._how = ""  # where and how the trainer steps, from its start event: "cuda / bf16, fused, CUDA graphs"
        self._decode_eta = Eta()
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.bar.setFormat("iteration %v of %m" if total else "")  # no run: no "0 of 1"
        self.details.setText("")
        self.download.hide()
        self.error.hide()
        self.set_state("idle")

    @property
    def iteration(self) -> int:
        return self._iteration

    def set_state(self, state: str, message: str = "") -> None:
        self._state = state
        words = STATE_WORDS.get(state, state)
        if state == "running" and self._total:
            words = f"Training: iteration {self._iteration:,} of {self._total:,}"
        if message:
            words = f"{words}: {message.splitlines()[0]}"
        self.state_label.setText(words)
        mark(self.state_label, "error" if state == "failed" else None)
        if state == "starting" and not self._iteration:
            self.bar.setRange(0, 0)  # busy: torch is loading, no number to show yet
        elif self.bar.maximum() == 0:
            self.bar.setRange(0, max(1, self._total))
        if state != "running":
            self.details.setText(self._rate_text() if self._ips else "")

    def show_error(self, message: str) -> None:
        self.set_state("failed", message)
        tail = message.partition("\n\n")[2]
        self.error.setPlainText(tail or message)
        self.error.show()

    def on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self._total = int(event.get("iterations") or self._total)
            self.bar.setRange(0, max(1, self._total))
            device, precision = (event.get(k) if isinstance(event.get(k), str) else "" for k in ("device", "precision"))
            self._how = where_and_how(device, precision, stepping_of(event))
            self.download.hide()
        elif kind == "download":
            done, total = event.get("done", 0), event.get("total") or 0
            self.on_download(done, total)
            self.download.setVisible(bool(total) and done < total)
        elif kind == "decode" and isinstance(event.get("done"), int) and isinstance(event.get("total"), int):
            when = event.get("time")
            self.on_decode(event["done"], event["total"], float(when) if isinstance(when, (int, float)) else None)
        elif kind == "train" and isinstance(event.get("iteration"), int):
            self._on_train(event)
        elif kind == "resume":
            self._first = None

    def on_download(self, done: int, total: int) -> None:
        """A dataset download before the run exists (its own step, not an event of a run)."""
        self.download.setFormat("downloading the dataset: %p%")
        self.download.setRange(0, 1000)
        self.download.setValue(int(1000 * done / total) if total else 0)
        self.download.setVisible(True)

    def on_decode(self, done: int, total: int, when: float | None = None) -> None:
        """An image folder being decoded (before the run, or as its trainer starts): images done and an ETA."""
        left = self._decode_eta.seconds_left(done, total, time.time() if when is None else when)
        eta = f", ETA {duration(left)}" if left is not None and total > done else ""
        self.download.setRange(0, max(1, total))
        self.download.setValue(min(done, max(1, total)))
        self.download.setFormat(f"decoding the images: {done:,} of {total:,}{eta}")
        self.download.setVisible(done < total)

    def _on_train(self, event: dict) -> None:
        it = event["iteration"]
        when = event.get("time")
        if isinstance(when, (int, float)) and (self._first is None or it < self._first[1]):
            self._first = (float(when), it)
        self._iteration = it
        ips = event.get("images_per_sec")
        self._ips = float(ips) if isinstance(ips, (int, float)) else self._ips
        if self.bar.maximum() == 0:
            self.bar.setRange(0, max(1, self._total))
        self.bar.setValue(min(it, self.bar.maximum()))
        eta = ""
        if self._first is not None and isinstance(when, (int, float)) and it > self._first[1] and self._total:
            per_iteration = (when - self._first[0]) / (it - self._first[1])
            eta = f"ETA {duration(per_iteration * (self._total - it))}"
        self.details.setText(" · ".join(p for p in (eta, self._rate_text()) if p))
        if self._state in ("starting", "running"):
            self.set_state("running")

    def _rate_text(self) -> str:
        return " · ".join(w for w in (f"{self._ips:,.0f} images/s" if self._ips else "", self._how) if w)
