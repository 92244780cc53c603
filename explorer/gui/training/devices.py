"""Which devices can train here, asked of torch in a tiny child process.

Importing torch takes seconds and would fill the GUI process with objects the garbage collector must walk
(docs/architecture.md, "Measured"), so the question goes to ``python -c`` after the window shows; the answer arrives as
the ``found`` signal. Until then (or when torch cannot be imported) only "Auto" is offered.

Where no GPU can be there for torch at all - Linux without the NVIDIA or AMD (ROCm) kernel driver's device
files, nor WSL's GPU device - the answer is the CPU alone, at once, and no child spends seconds importing torch
to say so. "Auto" still lets the trainer find a device this check could not foresee.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from explorer.system.gpus import cpu_entry, no_gpu_possible, probe_script


class DeviceProbe(QObject):
    """``start()`` asks once; ``found(list[dict])`` brings ``{"label", "device", "index"}`` per device (CUDA
    devices with their ``free`` bytes and short ``name`` too), or an empty list when torch could not answer."""

    found = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process = QProcess(self)
        self._process.setProgram(sys.executable)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)

    def start(self) -> None:
        if no_gpu_possible():
            QTimer.singleShot(0, self, lambda: self.found.emit([cpu_entry()]))  # as the child would: later
        elif self._process.state() == QProcess.ProcessState.NotRunning:
            self._process.setArguments(["-c", probe_script()])
            self._process.start()

    def stop(self) -> None:
        """Kill a probe still running (the app is closing)."""
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()
            self._process.waitForFinished(2000)

    def _on_finished(self, code: int, _status) -> None:
        try:
            devices = json.loads(bytes(self._process.readAllStandardOutput()).decode() or "[]") if code == 0 else []
        except ValueError:
            devices = []
        self.found.emit([d for d in devices if isinstance(d, dict) and "label" in d])

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.found.emit([])
