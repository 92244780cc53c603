"""The analysis running now, as the window follows it: ``resnet-explorer analyze`` of one run at one checkpoint,
in a child. It belongs to its run, not to the run shown: opening another run (Ctrl+O) leaves it running, its
progress stays in view from every tab (:class:`AnalysisStrip`, in the tab bar's corner), and Cancel keeps the
networks it has finished (the child writes them before it exits)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from explorer.gui.widgets.child_job import ChildJob
from explorer.gui.widgets.eta import Eta
from explorer.system.formatting import duration

TITLES = {("responses", False): "Layer responses", ("lesion", False): "Lesions", ("landscape", False):
          "Landscape, 1D", ("landscape", True): "Landscape, 2D"}


@dataclass(frozen=True)
class Analysis:
    run: Path
    run_name: str
    what: str
    two_d: bool
    iteration: int

    @property
    def title(self) -> str:
        return TITLES[(self.what, self.two_d)]


class AnalysisJob(QObject):
    """``progress(done, total, words)`` while it runs; ``finished(Analysis, message)`` once: "" when it is done,
    else the sentence (a cancel says what was kept)."""

    progress = Signal(int, int, str)
    finished = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: Analysis | None = None
        self._eta = Eta()
        self._started = 0.0
        self._kept: dict | None = None
        self._child = ChildJob("the analysis", self)
        self._child.line.connect(self._on_line)
        self._child.done.connect(self._on_done)

    def is_running(self) -> bool:
        return self._child.is_running()

    def start(self, analysis: Analysis) -> None:
        self.current, self._kept, self._started = analysis, None, time.monotonic()
        self._eta.reset()
        arguments = ["analyze", str(analysis.run.resolve()), "--what", analysis.what, "--checkpoint",
                     str(analysis.iteration)]
        self._child.start(arguments + (["--two-d"] if analysis.two_d else []))
        self.progress.emit(0, 0, f"{self._of()}: loading the networks…")

    def cancel(self) -> None:
        self._child.cancel()

    def shutdown(self) -> None:
        self._child.shutdown()

    def _of(self) -> str:
        return f"{self.current.title} of {self.current.run_name}" if self.current else ""

    def _on_line(self, event: dict) -> None:
        if event.get("type") == "stopped":
            self._kept = event
        if event.get("type") != "progress":
            return
        done, total = int(event.get("done") or 0), int(event.get("total") or 1)
        left = self._eta.seconds_left(done, total, time.monotonic())
        eta = f" · ETA {duration(left)}" if left is not None else ""
        self.progress.emit(done, total, f"{self._of()}: {event.get('network', '')} {done}/{total}{eta}")

    def _on_done(self, message: str) -> None:
        analysis, self.current = self.current, None
        if analysis is None:
            return
        if message and self._kept is not None:
            kept, total = self._kept.get("kept") or [], self._kept.get("total") or 0
            message = (f"{analysis.title} of {analysis.run_name} was cancelled; "
                       + (f"kept {', '.join(kept)} ({len(kept)} of {total} networks)" if kept else "nothing was kept"))
        elif message:
            message = f"{analysis.title} of {analysis.run_name}: {message}"
        self.finished.emit(analysis, message or f"{analysis.title} of {analysis.run_name}: done in "
                           f"{duration(time.monotonic() - self._started)}")


class AnalysisStrip(QWidget):
    """The analysis running, in a line: what, of which run, how far, the ETA, and Cancel. Hidden when none runs."""

    def __init__(self, job: AnalysisJob, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="analysisStrip")
        self.words = QLabel(objectName="analysisEta")
        self.bar = QProgressBar(objectName="analysisProgress")
        self.bar.setMaximumWidth(140)
        self.bar.setTextVisible(False)
        self.cancel = QToolButton(objectName="cancelAnalysis")
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop the analysis; the networks it has finished are kept")
        self.cancel.clicked.connect(job.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        for widget in (self.words, self.bar, self.cancel):
            row.addWidget(widget)
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda *_: self.hide())
        self.hide()

    def _on_progress(self, done: int, total: int, words: str) -> None:
        self.bar.setRange(0, total)  # 0 of 0: busy, nothing counted yet
        self.bar.setValue(done)
        self.words.setText(words)
        self.show()
