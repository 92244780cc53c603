"""How a run's steps are launched on a device: which networks train as one grouped network ("fusing") and whether
each step is replayed from a captured CUDA graph, decided without torch, so the trainer, the memory estimate and the
CLI read the same plan.

On a GPU the small CIFAR nets are bound by kernel launches, not arithmetic: a grouped network computes G networks
with the launches of one (each convolution a grouped convolution, each batch norm G times as wide). Two networks
fuse when one grouped network computes both exactly: the same parameters, name for name and shape for shape. A
network's seeds always do; plain-d and ResNet-d do under option A, whose shortcuts have no parameters (the
grouped network adds each one's shortcut times 1 or 0). fp16 never fuses: its gradient scaler skips a step of one
network on an overflow, which a group cannot do for one member alone.
"""

from __future__ import annotations

from typing import Hashable, Sequence

# Where fusing is the default when a run does not say (TrainConfig.fuse None). CUDA: the step is launch-bound and
# a group halves the launches or better, with the same numbers as separate training (tests/test_training_fused.py
# on the CPU, tests/gpu on CUDA; tests/gpu/device_check.sh measures the speed). The CPU is compute-bound, and
# oneDNN's grouped convolutions are a little slower than its plain ones: fused / separate measured x0.90 and x0.96
# in bf16, x0.81 in fp32 (depth 20, batch 128, AMD EPYC, tests/benchmarks/fused_throughput.py).
FUSE_BY_DEFAULT = {"cuda": True, "cpu": False, "mps": False}

# Where CUDA graphs are the default when a run does not say (TrainConfig.cuda_graphs None): CUDA alone (a graph is
# a CUDA object). Measured on one H200 (torch 2.11, bf16, batch 128, Figure 6's nine networks side by side,
# tests/benchmarks/gpu_throughput.py via tests/gpu/device_check.sh): eager 5.8 it/s at 27 % GPU use, graphs 47.1
# it/s at 99 % (x8.1), fused 11.6, fused + graphs 47.0; the whole recipe 3 h 05 min eager, 24 min with graphs.
# The replayed steps equal the eager ones (tests/gpu/test_cuda_graphs.py).
GRAPHS_BY_DEFAULT = {"cuda": True, "cpu": False, "mps": False}


def fusion_key(model) -> Hashable:
    """Networks with equal keys have the same parameters, so one grouped network can train them. The residual
    flag does not count under option A (a parameter-free shortcut); the zero-init option shapes only the start."""
    key = model.replace(zero_init_residual=False)
    return key.replace(plain=False) if model.shortcut == "A" else key


def fuses(train, device_type: str, precision: str, distributed: bool = False) -> bool:
    """Whether this run's networks train grouped, with ``precision`` already resolved (``bf16``, ``fp32`` …).
    An explicit ``train.fuse`` was checked where it was set (TrainConfig, the torchrun start); ``None`` follows
    the device's default, except where fusing cannot work."""
    return _said_or_default(train.fuse, FUSE_BY_DEFAULT, device_type, precision, distributed)


def captures(train, device_type: str, precision: str, distributed: bool = False) -> bool:
    """Whether this run's steps are replayed from CUDA graphs, ``precision`` already resolved. An explicit
    ``train.cuda_graphs`` was checked where it was set (TrainConfig, preflight, the torchrun start); ``None``
    follows the device's default, except where a graph cannot work: fp16's gradient scaler skips steps on the
    host, and under torchrun a step waits for the other ranks."""
    return _said_or_default(train.cuda_graphs, GRAPHS_BY_DEFAULT, device_type, precision, distributed)


def _said_or_default(said: bool | None, by_default: dict[str, bool], device_type: str, precision: str,
                     distributed: bool) -> bool:
    """What the run said, or the device's default where neither fp16's scaler nor torchrun rules it out."""
    if said is not None:
        return said
    return by_default.get(device_type, False) and precision != "fp16" and not distributed


def plan(keys: Sequence[Hashable]) -> list[list[int]]:
    """The indices of ``keys`` grouped by equal key, groups in the order of their first member."""
    groups: dict[Hashable, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def place(keys: Sequence[Hashable], devices: int) -> list[int]:
    """The device (an index) of each network: the groups of :func:`plan` taken in turn, a group on one device."""
    where = [0] * len(keys)
    for n, slot in enumerate(plan(keys)):
        for i in slot:
            where[i] = n % devices
    return where
