"""Export a network as ONNX from the window: the Architecture tab's network (freshly initialised) or a trained one
from the checkpoint the Analysis tab shows. ``resnet-explorer export-model`` does the work as a child process
(torch's exporter takes seconds; the window stays free), and the outcome is one status line or one sentence."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.child_job import ChildJob
from explorer.config.model import ModelConfig

FILTER = "ONNX files (*.onnx)"


def model_flags(config: ModelConfig) -> list[str]:
    """The ``export-model`` flags that describe ``config`` (every field, the defaults filled in)."""
    flags = ["--family", config.family, "--depth", str(config.depth), "--block", config.block,
             "--shortcut", config.shortcut, "--stride-on", config.stride_on, "--num-classes", str(config.num_classes),
             "--input-size", str(config.input_size)]
    flags += [f"--{name.replace('_', '-')}" for name in ("preact", "plain", "zero_init_residual")
              if getattr(config, name)]
    return flags


class ModelExport(QObject):
    """One export at a time; ``status_message`` says what was written, or why not."""

    status_message = Signal(str)
    finished = Signal(str)  # "" when the file was written, else the sentence

    def __init__(self, settings: QSettings, parent: QWidget) -> None:
        super().__init__(parent)
        self._settings, self._parent = settings, parent
        self._job = ChildJob("the ONNX export", self)
        self._job.line.connect(self._on_line)
        self._job.done.connect(self._on_done)
        self._wrote = ""

    def is_running(self) -> bool:
        return self._job.is_running()

    def export_architecture(self, config: ModelConfig) -> None:
        """Ask where, then write the network ``config`` describes."""
        path = self._ask_path(f"{config.name}.onnx")
        if path:
            self.start(model_flags(config), path)

    def export_trained(self, run: Path, networks: list[str], checkpoint: int) -> None:
        """Ask which network (when the run has several) and where, then write it as it was at ``checkpoint``."""
        key = networks[0] if len(networks) == 1 else None
        if key is None:
            key, chosen = QInputDialog.getItem(self._parent, "Export trained network", "Network:", networks, 0,
                                               False)
            if not chosen:
                return
        path = self._ask_path(f"{key}-{checkpoint}.onnx")
        if path:
            self.start(["--run", str(run), "--network", key, "--checkpoint", str(checkpoint)], path)

    def start(self, flags: list[str], path: Path) -> None:
        if self._job.is_running():
            self.status_message.emit("An ONNX export is still running; wait for it to finish.")
            return
        self._wrote = ""
        self.status_message.emit(f"Exporting to {path}…")
        self._job.start(["export-model", *flags, "-o", str(path)])

    def shutdown(self) -> None:
        self._job.shutdown()

    def _ask_path(self, name: str) -> Path | None:
        path = ask_save_path(self._parent, self._settings, "Export network as ONNX", name, FILTER)
        if path is None:
            return None
        path = path if path.name.lower().endswith(".onnx") else path.with_name(path.name + ".onnx")
        remember(self._settings, path)
        return path

    def _on_line(self, event: dict) -> None:
        if event.get("type") == "done":
            self._wrote = (f"Wrote {event.get('network', 'the network')} to {event.get('path')} "
                           f"({int(event.get('bytes', 0)) / 1e6:.1f} MB); open it in Netron.")

    def _on_done(self, message: str) -> None:
        text = self._wrote if not message else f"Could not export the network: {message}."
        self.status_message.emit(text)
        self.finished.emit(message)
