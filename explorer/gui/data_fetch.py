"""Getting a dataset onto the disk before a run is made: ``resnet-explorer data --progress json`` in a child.

The download is its own step, with its own progress and cancel, so that a download that fails (offline, a full
disk, a corrupt archive) leaves no failed run folder behind: the run folder is made only once the data is
there. The child prints one JSON object a line; its last stderr line is the sentence of a failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from explorer.config import DataConfig
from explorer.launch import CHILD_CWD, child_argv


class DataFetch(QObject):
    """``progress(done, total)`` while downloading; ``done(message)`` once: "" when the data is ready, else
    the sentence that says why not."""

    progress = Signal(int, int)
    done = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process = QProcess(self)
        program, *self._prefix = child_argv()
        self._process.setProgram(program)
        self._process.setWorkingDirectory(CHILD_CWD)
        self._process.readyReadStandardOutput.connect(self._on_output)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._buffer = b""
        self._cancelled = False

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    def start(self, data: DataConfig) -> None:
        arguments = [*self._prefix, "data", "--dataset", data.dataset, "--progress", "json"]
        if data.data_dir:
            arguments += ["--data-dir", str(Path(data.data_dir).expanduser().absolute())]
        self._buffer, self._cancelled = b"", False
        self._process.setArguments(arguments)
        self._process.start()

    def cancel(self) -> None:
        if self.is_running():
            self._cancelled = True
            self._process.kill()
            self._process.waitForFinished(3000)

    def _on_output(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") == "download":
                self.progress.emit(int(event.get("done") or 0), int(event.get("total") or 0))

    def _on_finished(self, code: int, _status) -> None:
        if self._cancelled:
            self.done.emit("the download was cancelled; nothing was kept and no run was made")
            return
        if code == 0:
            self.done.emit("")
            return
        said = bytes(self._process.readAllStandardError()).decode("utf-8", "replace").strip().splitlines()
        sentence = said[-1].partition(": ")[2] if said else ""
        self.done.emit(sentence or f"getting the data failed (exit code {code})")

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.done.emit(f"could not start {sys.executable} to get the data; check the Python environment")
