"""Will a run fit in memory? An estimate from the layer tables' activation memory, before anything is allocated.

Training keeps about every layer's output of a batch for the backward pass: measured on this kind of CPU,
the peak is 1.0-1.15x the summary's fp32 activation bytes times the batch (ResNet-20/56/110, batch 64-256),
0.6x under bf16 autocast. On the CPU the units of a step (a network alone, or a fused group: all its networks'
activations at once) take turns on each batch, so one unit's activations are alive at a time. On a GPU every
unit has its own stream and, with CUDA graphs, its own memory pool: the caching allocator keeps what a stream
freed for that stream, so the peak is near the sum over all the networks of the GPU, plus cuBLAS's workspace
per (handle, stream) and cuDNN's per convolution in flight. Each network keeps its weights, gradients and
momentum (3 copies of its parameters) throughout. The dataset stays resident as uint8. No torch here: the CLI,
the trainer and the GUI call the same estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.system import host
from explorer.system.formatting import size

IMAGE_BYTES = 3 * 32 * 32
ACTIVATION_FACTOR = 1.25  # the measured 1.0-1.15, with room for the allocator's slack
PARAMETER_COPIES = 3  # weights, gradients, momentum
# Per CUDA stream of a run (each unit's, and the default one the evaluation uses): cuBLAS's workspace, which
# torch allocates per (handle, stream) - 32 MiB on Hopper, 8 MiB before (CUBLAS_WORKSPACE_CONFIG) - and room for
# cuDNN's workspaces of the convolutions in flight, which come from the same caching allocator.
CUBLAS_WORKSPACE_BYTES = 32 << 20
CUDNN_WORKSPACE_BYTES = 64 << 20


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


def training_bytes(models: list[tuple[int, int]], batch_size: int, dataset_bytes: int = 0,
                   units: list[list[int]] | None = None, gpu: bool = False) -> int:
    """``models``: (fp32 activation bytes per image, parameter count) of each network on the device; ``units``:
    how they step (indices into ``models``; each alone when None); ``gpu``: every unit on its own stream."""
    if not models:
        return dataset_bytes
    units = units if units is not None else [[i] for i in range(len(models))]
    per_unit = [sum(models[i][0] for i in unit) for unit in units]
    activations = (sum(per_unit) if gpu else max(per_unit)) * batch_size
    parameters = sum(params for _, params in models) * 4 * PARAMETER_COPIES
    workspaces = (len(units) + 1) * (CUBLAS_WORKSPACE_BYTES + CUDNN_WORKSPACE_BYTES) if gpu else 0
    return int(ACTIVATION_FACTOR * activations) + parameters + workspaces + dataset_bytes


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


def estimate_run(config, summarize, available: int | None, where: str, device_type: str | None = None,
                 devices: int = 1, precision: str | None = None) -> Estimate:
    """The estimate of a RunConfig on its busiest device, with ``summarize(ModelConfig)`` giving each network's
    layer table; ``device_type`` (the run's device when None, the CPU for auto), ``devices`` the networks are
    spread over and the resolved ``precision`` decide which networks step together and how."""
    from explorer.training.groups import fuses, fusion_key, place, plan

    kind = device_type or (config.train.device if config.train.device != "auto" else "cpu")
    networks = [model for _, model, _ in config.networks()]
    tables = {model: summarize(model) for model in set(networks)}
    fused = fuses(config.train, kind, precision or config.train.precision)
    keys = [fusion_key(m) if fused else i for i, m in enumerate(networks)]
    slots, device_of = plan(keys), place(keys, devices)
    needed = 0
    for device in range(devices):
        mine = [i for i in range(len(networks)) if device_of[i] == device]
        local = {i: n for n, i in enumerate(mine)}
        units = [[local[i] for i in slot] for slot in slots if slot[0] in local]
        needed = max(needed, training_bytes(
            [(tables[networks[i]].activation_bytes, tables[networks[i]].total_params) for i in mine],
            config.train.batch_size, units=units, gpu=kind == "cuda"))
    return Estimate(needed=needed + dataset_bytes(config.data), available=available, where=where)


def cpu_available_bytes() -> int | None:
    """What can be allocated without swapping (:func:`explorer.system.host.available_memory`: the system's own
    word, a container's limit included); None where it is not known."""
    return host.available_memory()


def refusal(estimate: Estimate, batch_size: int, model_count: int) -> str:
    """The sentence that refuses a run which clearly cannot fit, with what to reduce."""
    fewer = " or fewer networks per run" if model_count > 1 else ""
    return (f"this run needs about {size(estimate.needed)} at batch size {batch_size}, but {estimate.where} has "
            f"{size(estimate.available or 0)} free; choose a smaller batch size, a smaller depth{fewer}")
