"""Running out of memory, before and during a run: the estimate counts what a GPU keeps at once, and a shortage is
named on the device where it happened, in one sentence."""

from __future__ import annotations

import pytest
import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.training.memory import (
    ACTIVATION_FACTOR, CUBLAS_WORKSPACE_BYTES, CUDNN_WORKSPACE_BYTES, estimate_run, training_bytes,
)
from explorer.config.model import ModelConfig
from explorer.models.summary import summarize
from explorer.training.session import out_of_memory_where

FIGURE6 = RunConfig(model=ModelConfig(), data=DataConfig(dataset="synthetic"),
                    train=TrainConfig(compare="both", depths=(20, 32, 44, 56), batch_size=128))


def activations(config: RunConfig) -> list[int]:
    return [summarize(model).activation_bytes * config.train.batch_size for _, model, _ in config.networks()]


def test_on_a_gpu_the_estimate_counts_every_network_at_once():
    """Each unit on its own stream (and graph pool) keeps its activations: the sum over the networks, not the
    largest one, plus cuBLAS's and cuDNN's workspaces per stream. A GPU with room for the largest network's
    activations but not for all of them is refused before the run starts."""
    per_network = activations(FIGURE6)
    gpu = estimate_run(FIGURE6, summarize, None, "CUDA 0", device_type="cuda")
    cpu = estimate_run(FIGURE6, summarize, None, "the CPU", device_type="cpu")
    assert gpu.needed >= ACTIVATION_FACTOR * sum(per_network)
    assert cpu.needed < ACTIVATION_FACTOR * (max(per_network) + sum(per_network)) / 2  # one at a time
    # Fused on CUDA (the default there): plain-d and ResNet-d in one group each, 4 streams and the default one.
    assert gpu.needed - cpu.needed >= 5 * (CUBLAS_WORKSPACE_BYTES + CUDNN_WORKSPACE_BYTES)
    room = int(ACTIVATION_FACTOR * max(per_network) * 2)
    assert not estimate_run(FIGURE6, summarize, room, "CUDA 0", device_type="cuda").fits
    assert estimate_run(FIGURE6, summarize, room, "the CPU", device_type="cpu").fits


def test_a_fused_group_keeps_all_its_networks_activations_even_on_the_cpu():
    fused = FIGURE6.replace(train=FIGURE6.train.replace(fuse=True))
    per_network = activations(FIGURE6)  # plain-20, -32, -44, -56, ResNet-20 …: the groups pair i and i + 4
    alone = estimate_run(FIGURE6, summarize, None, "the CPU", device_type="cpu").needed
    grouped = estimate_run(fused, summarize, None, "the CPU", device_type="cpu").needed
    assert grouped - alone == pytest.approx(ACTIVATION_FACTOR * per_network[3], rel=1e-6)  # 56 + 56, not 56


def test_networks_spread_over_two_gpus_are_estimated_on_the_busier_one():
    one = estimate_run(FIGURE6, summarize, None, "CUDA 0", device_type="cuda").needed
    two = estimate_run(FIGURE6, summarize, None, "CUDA 0", device_type="cuda", devices=2).needed
    assert one > two > one / 3


def test_training_bytes_of_units():
    models = [(100, 10), (200, 10), (300, 10)]
    assert training_bytes(models, 1) == int(ACTIVATION_FACTOR * 300) + 360
    assert training_bytes(models, 1, units=[[0, 1], [2]]) == int(ACTIVATION_FACTOR * 300) + 360
    assert training_bytes(models, 1, units=[[0, 2], [1]]) == int(ACTIVATION_FACTOR * 400) + 360
    assert training_bytes(models, 1, units=[[0, 2], [1]], gpu=True) == (
        int(ACTIVATION_FACTOR * 600) + 360 + 3 * (CUBLAS_WORKSPACE_BYTES + CUDNN_WORKSPACE_BYTES))


def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    """``then`` as Python chains it when raised while ``first`` was being handled (a context manager's exit)."""
    try:
        try:
            raise first
        finally:
            raise then
    except BaseException as exc:  # noqa: BLE001 - the chained exception is the value under test
        return exc


@pytest.mark.parametrize("text, where", [
    ("CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.10 GiB", "the GPU"),
    ("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported", "the GPU"),
    ("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", "the GPU"),
    ("cuDNN error: CUDNN_STATUS_ALLOC_FAILED", "the GPU"),
    ("MPS backend out of memory (MPS allocated: 17.9 GB, other allocations: 64 KB)", "the Apple GPU"),
    ("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB",
     "the CPU"),
    ("DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB", "the CPU"),
    ("expected scalar type Float but found Half", None),
])
def test_a_shortage_is_named_on_its_device(text, where):
    assert out_of_memory_where(RuntimeError(text)) == where


def test_running_out_while_capturing_a_cuda_graph_is_a_shortage_not_an_internal_error():
    capture = _raised_while_handling(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 MiB"),
                                     RuntimeError("CUDA error: operation not permitted when stream is capturing"))
    assert out_of_memory_where(capture) == "the GPU"
    assert out_of_memory_where(MemoryError()) == "the CPU"
    assert out_of_memory_where(_raised_while_handling(ValueError("x"), RuntimeError("y"))) is None
