"""Which devices can train here, asked of torch in a tiny child process.

Importing torch takes seconds and would fill the GUI process with objects the garbage collector must walk
(DESIGN.md start-up notes), so the question goes to ``python -c`` after the window shows; the answer arrives as
the ``found`` signal. Until then (or when torch cannot be imported) only "Auto" is offered.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal

PROBE = r"""
import json, torch
found = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        found.append({"label": f"CUDA {i}: {torch.cuda.get_device_name(i)} ({total / 2**30:.0f} GiB)",
                      "device": "cuda", "index": i, "free": free, "name": f"CUDA {i}"})
if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    found.append({"label": "MPS (Apple GPU)", "device": "mps", "index": None})
found.append({"label": f"CPU ({torch.get_num_threads()} threads)", "device": "cpu", "index": None})
print(json.dumps(found))
"""


class DeviceProbe(QObject):
    """``start()`` asks once; ``found(list[dict])`` brings ``{"label", "device", "index"}`` per device (CUDA
    devices with their ``free`` bytes and short ``name`` too), or an empty list when torch could not answer."""

    found = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process = QProcess(self)
        self._process.setProgram(sys.executable)
        self._process.setArguments(["-c", PROBE])
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)

    def start(self) -> None:
        if self._process.state() == QProcess.ProcessState.NotRunning:
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
