"""Lesions (Veit, Wilber and Belongie, NeurIPS 2016): remove residual blocks at test time and measure the error.

A removed block passes its input through its shortcut alone - the identity, option A's subsample-and-pad on a
change of shape, or its projection - followed, in post-activation units, by the ReLU that follows the addition.
A plain net has no shortcut, so removing one of its blocks (a pair of layers) passes the input through
unchanged, subsampled and padded where the block changed the shape. The finding: a ResNet behaves like an
ensemble of shallower paths and degrades gently, block after block; a plain net falls to chance at once.
"""

from __future__ import annotations

import contextlib
import random
import types
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from explorer.analysis.inputs import Network, error_and_loss
from explorer.models.blocks import ZeroPadShortcut


def blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The residual blocks (or, in a plain net, the layer groups) in order: ``layer1.0`` … ``layer3.8``."""
    return [(name, module) for name, module in model.named_modules()
            if name.startswith("layer") and name.count(".") == 1 and hasattr(module, "residual")]


def _passed_through(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if block.downsample is not None:
        out = block.downsample(x)
    else:
        conv = next(m for m in block.modules() if isinstance(m, nn.Conv2d))
        out_channels = max(m.out_channels for m in block.modules() if isinstance(m, nn.Conv2d))
        stride = max(m.stride[0] for m in block.modules() if isinstance(m, nn.Conv2d))
        out = x if (stride, out_channels) == (1, conv.in_channels) else \
            ZeroPadShortcut(conv.in_channels, out_channels, stride)(x)
    preact = not hasattr(block, "last_bn")
    return out if preact else F.relu(out)


@contextlib.contextmanager
def removed(model: nn.Module, names: set[str]) -> Iterator[None]:
    """The model with the named blocks removed, for the duration of the block."""
    chosen = [(name, block) for name, block in blocks(model) if name in names]
    for _, block in chosen:
        block.forward = types.MethodType(_passed_through, block)
    try:
        yield
    finally:
        for _, block in chosen:
            del block.forward


def removal_counts(blocks_in_net: int) -> list[int]:
    """How many blocks to remove at random: every count up to 10, then about 8 steps up to all but one."""
    return sorted({*range(1, min(blocks_in_net - 1, 10) + 1),
                   *range(10, blocks_in_net, max(1, blocks_in_net // 8))})


def lesion_study(network: Network, x: torch.Tensor, y: torch.Tensor, draws: int = 3, seed: int = 0,
                 counts: list[int] | None = None,
                 progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """The error with no block removed, with each block removed alone, and with k random blocks removed
    (k in ``counts``, by default :func:`removal_counts`; ``draws`` random subsets each)."""
    names = [name for name, _ in blocks(network.model)]
    counts = removal_counts(len(names)) if counts is None else [k for k in counts if 1 <= k < len(names)]
    total = 1 + len(names) + draws * len(counts)
    done = 0

    def tick():
        nonlocal done
        done += 1
        progress(done, total)

    baseline, _ = error_and_loss(network.model, x, y)
    tick()
    single = []
    for name in names:
        with removed(network.model, {name}):
            single.append(error_and_loss(network.model, x, y)[0])
        tick()
    pick = random.Random(seed)
    by_count = []
    for k in counts:
        errors = []
        for _ in range(draws):
            with removed(network.model, set(pick.sample(names, k))):
                errors.append(error_and_loss(network.model, x, y)[0])
            tick()
        by_count.append({"removed": k, "errors": errors, "mean": sum(errors) / len(errors)})
    return {"blocks": names, "baseline_error": baseline, "single_errors": single, "by_count": by_count,
            "chance": 1 - 1 / network.config.num_classes}
