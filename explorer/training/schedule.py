"""The learning-rate schedule as a pure function of the iteration (paper §4.2): step decay at milestones,
and the ResNet-110 warm-up, which ends when the model's training error first falls below a threshold."""

from __future__ import annotations

from typing import Sequence

from explorer.config.run import TrainConfig


def lr_at(iteration: int, *, lr: float, milestones: Sequence[int], gamma: float = 0.1,
          warming_up: bool = False, warmup_lr: float = 0.01) -> float:
    """The learning rate of step ``iteration`` (1-based). The step after ``m`` completed iterations is the
    first one at the decayed rate: "divide by 10 at 32k" means steps 32001 on use lr/10."""
    if warming_up:
        return warmup_lr
    return lr * gamma ** sum(iteration > m for m in milestones)


def needs_warmup(depth: int, train: TrainConfig) -> bool:
    """Very deep nets (ResNet-110 and up in the paper) start at ``warmup_lr``."""
    return depth >= train.warmup_min_depth and train.warmup_lr != train.lr


def warmup_done(interval_error: float, train: TrainConfig) -> bool:
    """The warm-up ends after the first logging interval whose mean training error is below the threshold."""
    return interval_error < train.warmup_until_error
