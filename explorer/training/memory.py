"""Will a run fit in memory? An estimate from the layer tables' activation memory, before anything is allocated.

Training keeps about every layer's output of a batch for the backward pass: measured on this kind of CPU,
the peak is 1.0-1.15x the summary's fp32 activation bytes times the batch (ResNet-20/56/110, batch 64-256),
0.6x under bf16 autocast. The models of a run take turns on each batch, so the activations of only one of them
are alive at a time; each keeps its weights, gradients and momentum (3 copies of its parameters) throughout.
The dataset stays resident as uint8. No torch here: the CLI, the trainer and the GUI call the same estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.system import host
from explorer.system.formatting import size

IMAGE_BYTES = 3 * 32 * 32
ACTIVATION_FACTOR = 1.25  # the measured 1.0-1.15, with room for the allocator's slack
PARAMETER_COPIES = 3  # weights, gradients, momentum


@dataclass(frozen=True)
class Estimate:
    needed: int  # bytes at the peak of a training step
    available: int | None  # bytes the device can still give, None when unknown
    where: str  # "the CPU's memory", "CUDA 0's memory"

    @property
    def fits(self) -> bool:
        return self.available is None or self.needed <= self.available

    @property
    def share(self) -> float | None:
        return None if not self.available else self.needed / self.available


def training_bytes(models: list[tuple[int, int]], batch_size: int, dataset_bytes: int = 0) -> int:
    """``models``: (fp32 activation bytes per image, parameter count) of each network of the run."""
    if not models:
        return dataset_bytes
    activations = max(act for act, _ in models) * batch_size
    parameters = sum(params for _, params in models) * 4 * PARAMETER_COPIES
    return int(ACTIVATION_FACTOR * activations) + parameters + dataset_bytes


def dataset_bytes(data) -> int:
    """What the run's images take resident (training and test, uint8), by its DataConfig; an image folder is
    listed (not decoded) to count its images, and one that cannot be listed counts as empty: the data step
    refuses it with its own sentence."""
    if data.dataset == "synthetic":
        return (data.synthetic_size + max(1, data.synthetic_size // 5)) * IMAGE_BYTES
    if data.dataset == "folder":
        from explorer.data.errors import DatasetError
        from explorer.data.folder_layout import list_folder

        try:
            listing = list_folder(data.data_dir)
        except DatasetError:
            return 0
        return (len(listing.train) + len(listing.test)) * 3 * (data.image_size or 32) ** 2
    return 60_000 * IMAGE_BYTES


def estimate_run(config, summarize, available: int | None, where: str) -> Estimate:
    """The estimate of a RunConfig, with ``summarize(ModelConfig)`` giving each network's layer table."""
    tables = [summarize(model) for model in config.model_configs()]
    needed = training_bytes([(t.activation_bytes, t.total_params) for t in tables], config.train.batch_size,
                            dataset_bytes(config.data))
    return Estimate(needed=needed, available=available, where=where)


def cpu_available_bytes() -> int | None:
    """What can be allocated without swapping (:func:`explorer.system.host.available_memory`: the system's own
    word, a container's limit included); None where it is not known."""
    return host.available_memory()


def refusal(estimate: Estimate, batch_size: int, model_count: int) -> str:
    """The sentence that refuses a run which clearly cannot fit, with what to reduce."""
    fewer = " or fewer networks per run" if model_count > 1 else ""
    return (f"this run needs about {size(estimate.needed)} at batch size {batch_size}, but {estimate.where} has "
            f"{size(estimate.available or 0)} free; choose a smaller batch size, a smaller depth{fewer}")
