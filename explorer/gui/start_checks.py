"""Everything that can refuse a new run before its folder is made, in the order a person meets it.

The memory estimate follows the draft as it is typed (from the layer tables, on the thread pool); at Start the
run must fit, the data folder must be usable, and a dataset that is not there yet is fetched first - after
asking - as its own step with its own progress. Only then is ``ready`` emitted; anything that refuses the run
is one sentence in ``refused``, and nothing has been made on disk.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from explorer.config import DATASET_LABELS, RunConfig
from explorer.data.errors import DatasetError
from explorer.data.location import data_folder, data_ready
from explorer.gui.data_fetch import DataFetch
from explorer.gui.latest_worker import MemoryCheck
from explorer.memory import Estimate, refusal


def ask(parent: QWidget, title: str, text: str, default_yes: bool) -> bool:
    yes, cancel = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel
    return QMessageBox.question(parent, title, text, yes | cancel, yes if default_yes else cancel) == yes


class StartChecks(QObject):
    """``estimated(config, Estimate)`` for the draft; ``ready(config)`` or ``refused(message)`` after
    :meth:`check`; ``downloading(done, total)`` while a dataset is fetched."""

    estimated = Signal(object, object)
    ready = Signal(object)
    refused = Signal(str)
    downloading = Signal(int, int)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._estimate: tuple[RunConfig, Estimate] | None = None
        self._requested: RunConfig | None = None
        self._pending: RunConfig | None = None
        self._memory = MemoryCheck(self)
        self._fetch = DataFetch(self)
        self._memory.computed.connect(self._on_estimate)
        self._fetch.progress.connect(self.downloading)
        self._fetch.done.connect(self._on_fetched)

    def fetching(self) -> bool:
        return self._fetch.is_running()

    def estimate(self, config: RunConfig, device: dict | None) -> None:
        """Estimate the memory of ``config`` on ``device`` (a CUDA device the probe found; None: the CPU)."""
        self._requested = config
        self._memory.request((config, device.get("free") if device else None,
                              device.get("name", "the GPU") if device else "the CPU"))

    def check(self, config: RunConfig) -> None:
        """Start's checks; the answer comes as ``ready`` or ``refused`` (at once, or after a download)."""
        if self._estimate is not None and self._estimate[0] == config and not self._estimate[1].fits:
            self.refused.emit(refusal(self._estimate[1], config.train.batch_size, len(config.model_configs())))
            return
        try:
            present = data_ready(config.data)
        except DatasetError as exc:
            self.refused.emit(str(exc))
            return
        if present:
            self.ready.emit(config)
            return
        folder = data_folder(config.data)
        made = "" if folder.exists() else " The folder does not exist yet; it will be made."
        if not ask(self._parent, "Download the dataset?", f"{DATASET_LABELS[config.data.dataset]} is not in "
                   f"{folder} yet.{made} Download it there now (about 160 MB, checked against its published "
                   "checksums)?", default_yes=True):
            self.refused.emit("")
            return
        self._pending = config
        self._fetch.start(config.data)

    def shutdown(self) -> None:
        self._fetch.cancel()
        self._memory.shutdown()

    def _on_estimate(self, estimate: Estimate) -> None:
        if self._requested is not None:
            self._estimate = (self._requested, estimate)
            self.estimated.emit(self._requested, estimate)

    def _on_fetched(self, message: str) -> None:
        config, self._pending = self._pending, None
        if message or config is None:
            self.refused.emit(message)
        else:
            self.ready.emit(config)
