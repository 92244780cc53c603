"""A short-lived child of the app that reports as it goes: ``resnet-explorer <command> … --progress json``.

It prints one JSON object a line (``{"type": "progress", …}``, ``{"type": "download", …}``, ``{"type": "done",
…}``) and, when it fails, ends its stderr with the one sentence that says why. The data step and the analyses
run this way; the child dies with the app (a QProcess), unlike a training run.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from explorer.system.launch import CHILD_CWD, child_argv
from explorer.system.progress import parse_line


STOP_GRACE_MS = 5000  # a cancelled child saves what it has finished, then exits; killed only after this


class ChildJob(QObject):
    """``line(dict)`` for each JSON line; ``done(message)`` once: "" on success, else one sentence. Cancel asks
    the child to stop (SIGTERM: an analysis keeps the networks it has finished) and kills it only if it does
    not within a few seconds; the GUI thread never waits for it, except when the app closes (:meth:`shutdown`)."""

    line = Signal(dict)
    done = Signal(str)

    def __init__(self, what: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._what = what
        program, *self._prefix = child_argv()
        self._process = QProcess(self)
        self._process.setProgram(program)
        self._process.setWorkingDirectory(CHILD_CWD)
        self._process.readyReadStandardOutput.connect(self._on_output)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._buffer = b""
        self._cancelled = False
        self._kill = QTimer(self)
        self._kill.setSingleShot(True)
        self._kill.setInterval(STOP_GRACE_MS)
        self._kill.timeout.connect(self._process.kill)

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    def start(self, arguments: list[str]) -> None:
        self._buffer, self._cancelled = b"", False
        self._process.setArguments([*self._prefix, *arguments, "--progress", "json"])
        self._process.start()

    def cancel(self) -> None:
        if self.is_running() and not self._cancelled:
            self._cancelled = True
            self._process.terminate()
            self._kill.start()

    def shutdown(self) -> None:
        """The app is closing: stop the child now (what it finished is kept), kill it if it lingers."""
        if self.is_running():
            self._cancelled = True
            self._process.terminate()
            if not self._process.waitForFinished(3000):
                self._process.kill()
                self._process.waitForFinished(3000)
        self._kill.stop()

    def _on_output(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            event = parse_line(raw)
            if event is not None:
                self.line.emit(event)

    def _on_finished(self, code: int, _status) -> None:
        self._kill.stop()
        self._on_output()
        if self._cancelled:
            self._cancelled = False
            self.done.emit(f"{self._what} was cancelled")
            return
        if code == 0:
            self.done.emit("")
            return
        said = bytes(self._process.readAllStandardError()).decode("utf-8", "replace").strip().splitlines()
        sentence = said[-1].partition(": ")[2] if said else ""
        self.done.emit(sentence or f"{self._what} failed (exit code {code})")

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.done.emit(f"could not start Python for {self._what}; check the Python environment")
