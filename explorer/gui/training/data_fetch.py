"""Getting a dataset (and pretrained weights) onto the disk before a run is made: ``resnet-explorer data`` as a :class:`ChildJob`.

The download is its own step, with its own progress and cancel, so that a download that fails (offline, a full
disk, a corrupt archive) leaves no failed run folder behind: the run folder is made only once the data is
there and checked.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from explorer.config.run import DataConfig
from explorer.gui.widgets.child_job import ChildJob


class DataFetch(QObject):
    """``progress(done, total)`` while downloading, ``decoding(done, total)`` while an image folder is decoded;
    ``done(message)`` once: "" when the data is ready, else the sentence that says why not."""

    progress = Signal(int, int)
    decoding = Signal(int, int)
    done = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = ChildJob("getting the data", self)
        self._job.line.connect(self._on_line)
        self._job.done.connect(self.done)

    def is_running(self) -> bool:
        return self._job.is_running()

    def start(self, data: DataConfig, imagenet_depths: tuple[int, ...] = ()) -> None:
        """Check (and fetch) ``data``, and first torchvision's ImageNet weights of ``imagenet_depths``."""
        arguments = ["data", "--dataset", data.dataset]
        if data.data_dir:
            arguments += ["--data-dir", str(Path(data.data_dir).expanduser().absolute())]
        if imagenet_depths:
            arguments += ["--imagenet-weights", *map(str, imagenet_depths)]
        self._job.start(arguments)

    def shutdown(self) -> None:
        self._job.shutdown()

    def _on_line(self, event: dict) -> None:
        kind = event.get("type")
        if kind in ("download", "decode"):
            signal = self.progress if kind == "download" else self.decoding
            signal.emit(int(event.get("done") or 0), int(event.get("total") or 0))
