"""The pure pieces of training: the learning-rate schedule, warm-up, device and precision choice."""

from __future__ import annotations

import pytest
import torch

from explorer.config.run import TrainConfig
from explorer.training.device import resolve_device, resolve_precision
from explorer.training.schedule import lr_at, needs_warmup, warmup_done


def test_step_decay_after_each_milestone():
    lrs = {it: lr_at(it, lr=0.1, milestones=(32000, 48000), gamma=0.1) for it in (1, 32000, 32001, 48000, 48001)}
    assert lrs[1] == lrs[32000] == 0.1
    assert lrs[32001] == pytest.approx(0.01) and lrs[48000] == pytest.approx(0.01)
    assert lrs[48001] == pytest.approx(0.001)
    assert lr_at(5, lr=0.1, milestones=(), gamma=0.1) == 0.1


def test_warmup_lr_until_the_error_falls():
    assert lr_at(40000, lr=0.1, milestones=(32000,), warming_up=True, warmup_lr=0.01) == 0.01
    paper = TrainConfig()
    assert needs_warmup(110, paper) and needs_warmup(1202, paper)
    assert not needs_warmup(56, paper)
    assert not needs_warmup(110, TrainConfig(lr=0.01))  # nothing to warm up to
    assert not warmup_done(0.85, paper) and warmup_done(0.79, paper)


def test_device_and_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_device("cpu") == cpu
    assert resolve_precision("fp32", cpu).dtype is None
    bf16 = resolve_precision("bf16", cpu)
    assert bf16.dtype == torch.bfloat16 and not bf16.scaled and bf16.grad_scaler(cpu) is None
    assert resolve_precision("auto", cpu).name in ("bf16", "fp32")
    with pytest.raises(ValueError, match="fp16 is not supported on the cpu"):
        resolve_precision("fp16", cpu)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda is not available on this machine"):
            resolve_device("cuda")
        assert resolve_device("auto").type in ("cpu", "mps")
