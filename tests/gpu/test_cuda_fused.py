"""Fused networks on a real GPU (skipped without one): the same numbers as every network alone, eager and
replayed from CUDA graphs (float64, as tests/test_training_fused.py on the CPU, which says why), and steady-state
steps that never make the host wait for the GPU, fused or not, in every precision."""

from __future__ import annotations

import pytest
import torch

from tests.gpu.cuda_run import CUDA, config, trainer
from tests.test_training_fused import fused_and_separate, train_both

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def float64():
    dtype = torch.get_default_dtype()
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.set_default_dtype(torch.float64)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.set_default_dtype(dtype)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


@pytest.mark.parametrize("graphs", [False, True])
def test_fused_training_on_cuda_gives_each_network_the_numbers_of_training_it_alone(tmp_path, float64, graphs):
    """Plain-8 and ResNet-8 over two seeds, 120 steps through an lr drop, per-network warm-ups and one network
    diverging: grouped cuDNN convolutions and fused SGD against each network alone on its own stream."""
    pair = fused_and_separate(tmp_path, device=CUDA, iterations=120, milestones=(60,), eval_every=60,
                              checkpoint_every=60, warmup_min_depth=8, warmup_lr=0.02, warmup_until_error=0.84,
                              cuda_graphs=graphs)
    events = train_both(pair, diverge_at=40)
    assert [(e["model"], e["seed"]) for e in events if e["type"] == "diverged"] == [("resnet-8", 1)]
    for trainer_, _ in pair:
        trainer_.close()


@pytest.mark.parametrize("options", [
    {"precision": "bf16"},  # fused (CUDA's default), eager
    {"precision": "bf16", "cuda_graphs": True},
    {"precision": "fp16"},  # each network alone with its gradient scaler: fused SGD skips an overflow on the GPU
    {"precision": "fp32", "fuse": False},  # each network alone on its own stream
])
def test_steady_state_steps_never_wait_for_the_gpu(tmp_path, options):
    """torch's sync debug mode raises at anything that makes the host wait (a value read back, a blocking copy):
    between two logging intervals a step only queues work. The first steps (cuDNN's search, lazy state, the
    graph's capture) are left out; the batches stay within one epoch."""
    t, _ = trainer(tmp_path, config(tmp_path, iterations=1000, batch_size=32, log_every=1000, **options))
    for _ in range(6):
        t.step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(12):
            t.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    t.close()
