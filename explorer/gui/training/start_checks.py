"""Everything that can refuse a new run before its folder is made, in the order a person meets it.

The memory estimate follows the draft as it is typed (from the layer tables, on the thread pool); at Start the
run must fit, the data folder must be usable, and a dataset that is not there yet is fetched first - after
asking - as its own step with its own progress. Only then is ``ready`` emitted; anything that refuses the run
is one sentence in ``refused``, and nothing has been made on disk.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from explorer.config.run import DATASET_LABELS, RunConfig
from explorer.data.errors import DatasetError
from explorer.data.location import DOWNLOAD, READY, counted, data_folder, data_state
from explorer.gui.training.data_fetch import DataFetch
from explorer.gui.widgets.latest_worker import CostCheck
from explorer.system.formatting import duration, size
from explorer.training.memory import Estimate, refusal
from explorer.training.speed import TimeEstimate


def ask(parent: QWidget, title: str, text: str, default_yes: bool) -> bool:
    yes, cancel = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel
    return QMessageBox.question(parent, title, text, yes | cancel, yes if default_yes else cancel) == yes


def estimate_words(estimate: Estimate, time: TimeEstimate) -> str:
    free = f" of {size(estimate.available)} free on {estimate.where}" if estimate.available else ""
    return (f"Time: about {duration(time.seconds)} on this machine, {time.source}.\n"
            f"Memory: about {size(estimate.needed)}{free} for a training step.")


class StartChecks(QObject):
    """``estimated(config, words, refusal)`` for the draft: its time and memory on this machine (``refusal`` ""
    when it fits); ``ready(config)`` or ``refused(message)`` after :meth:`check`; ``downloading(done, total)``
    while a dataset is fetched, ``decoding(done, total)`` while an image folder is decoded. A check waits for
    both its answers - the estimate of that very config, and the data - before it says ready."""

    estimated = Signal(object, str, str)
    ready = Signal(object)
    refused = Signal(str)
    downloading = Signal(int, int)
    decoding = Signal(int, int)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._estimate: tuple[RunConfig, Estimate] | None = None
        self._requested: tuple[RunConfig, dict | None, Path, bool] | None = None
        self._checking: RunConfig | None = None
        self._data_done = False
        self._memory = CostCheck(self)
        self._fetch = DataFetch(self)
        self._memory.computed.connect(self._on_estimate)
        self._memory.failed.connect(self._on_estimate_failed)
        self._fetch.progress.connect(self.downloading)
        self._fetch.decoding.connect(self.decoding)
        self._fetch.done.connect(self._on_fetched)

    def fetching(self) -> bool:
        return self._fetch.is_running()

    def busy(self) -> bool:
        return self._checking is not None

    def estimate(self, config: RunConfig, device: dict | None, runs_dir: Path, gpu_found: bool = False) -> None:
        """Estimate the memory and time of ``config`` on ``device`` (a CUDA device the probe found; None: the
        CPU), its speed measured from the runs in ``runs_dir``."""
        self._requested = (config, device, Path(runs_dir), gpu_found)
        self._memory.request((config, device.get("free") if device else None,
                              device.get("name", "the GPU") if device else "the CPU", Path(runs_dir), gpu_found))

    def check(self, config: RunConfig) -> None:
        """Start's checks; the answer comes as ``ready`` or ``refused`` (at once, or after a check or download
        of the data and the memory estimate)."""
        from explorer.models.pretrained import WeightsError, hub_folder  # torch: loaded by now, not at start-up

        try:
            missing = missing_imagenet_weights(config)
            state = data_state(config.data)
        except (DatasetError, WeightsError) as exc:
            self.refused.emit(str(exc))
            return
        if missing and not ask(self._parent, "Download the pretrained weights?", "torchvision's ImageNet weights of "
                               f"{', '.join(f'ResNet-{d}' for d in missing)} are not in {hub_folder()} yet. "
                               "Download them there now (45 to 230 MB each, checked against their hash)?",
                               default_yes=True):
            self.refused.emit("")
            return
        if state == DOWNLOAD:
            folder = data_folder(config.data)
            made = "" if _exists(folder) else " The folder does not exist yet; it will be made."
            if not ask(self._parent, "Download the dataset?", f"{DATASET_LABELS[config.data.dataset]} is not in "
                       f"{folder} yet.{made} Download it there now (about 160 MB, checked against its published "
                       "checksums)?", default_yes=True):
                self.refused.emit("")
                return
        self._checking, self._data_done = config, state == READY and not missing
        if not self._data_done:
            self._fetch.start(config.data, missing)  # verifies what is there, downloads what is not
        if self._estimate is None or self._estimate[0] != config:
            same = self._requested is not None and self._requested[0] == config
            runs_dir = self._requested[2] if self._requested else Path()
            self.estimate(*(self._requested if same else (config, None, runs_dir, False)))
        self._conclude()

    def shutdown(self) -> None:
        self._fetch.shutdown()
        self._memory.shutdown()

    def _conclude(self) -> None:
        config = self._checking
        if config is None or not self._data_done or self._estimate is None or self._estimate[0] != config:
            return  # still waiting for one of the answers
        self._checking = None
        estimate = self._estimate[1]
        if not estimate.fits:
            self.refused.emit(refusal(estimate, config.train.batch_size, len(config.model_configs())))
            return
        try:
            config = counted(config)  # an image folder's classes, recorded in the run's config
        except DatasetError as exc:
            self.refused.emit(str(exc))
            return
        self.ready.emit(config)

    def _on_estimate(self, cost: tuple[Estimate, TimeEstimate]) -> None:
        if self._requested is not None:
            config, (estimate, time) = self._requested[0], cost
            self._estimate = (config, estimate)
            said = "" if estimate.fits else refusal(estimate, config.train.batch_size, len(config.model_configs()))
            self.estimated.emit(config, estimate_words(estimate, time), said)
        self._conclude()

    def _on_estimate_failed(self, message: str) -> None:
        if self._checking is not None and self._requested and self._requested[0] == self._checking:
            self._estimate = (self._checking, Estimate(needed=0, available=None, where="?"))  # unknown: not refused
            self._conclude()

    def _on_fetched(self, message: str) -> None:
        if self._checking is None:
            return
        if message:
            self._checking = None
            self.refused.emit(message)
            return
        self._data_done = True
        self._conclude()


def missing_imagenet_weights(config: RunConfig) -> tuple[int, ...]:
    """The depths whose torchvision ImageNet weights the run starts from and the hub cache lacks; WeightsError
    (one sentence) for a weights file that is not there."""
    from explorer.models.pretrained import weights_path

    missing = []
    for model in config.model_configs():
        if model.weights is not None and weights_path(model) is None:
            missing.append(model.depth)
    return tuple(sorted(set(missing)))


def _exists(path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False
