"""How long a layer table takes, cold: the two-block prototype (what the app runs) against torchinfo over the
whole network (the first version's way, and the tests' cross-check), side by side in one process.

    .venv/bin/python tests/benchmarks/layer_table_speed.py

Each network is summarised for the first time in the process (its own table is cold; the process has done one
CIFAR and one ImageNet table first, as the app has by the time a person picks a network, the first at start-up
and the meta device's warm-up right after it). Target: every network of the option space under 100 ms.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from explorer.config.model import ModelConfig  # noqa: E402
from explorer.models.summary import summarize, warm_up  # noqa: E402

NETWORKS = (
    ModelConfig(depth=20), ModelConfig(depth=56), ModelConfig(depth=110), ModelConfig(depth=1202),
    ModelConfig(depth=164, block="bottleneck", preact=True), ModelConfig(depth=1001, block="bottleneck", preact=True),
    ModelConfig(depth=1202, input_size=1024), ModelConfig(family="imagenet", depth=18),
    ModelConfig(family="imagenet", depth=50), ModelConfig(family="imagenet", depth=152),
    ModelConfig(family="imagenet", depth=152, stride_on="3x3", shortcut="C", input_size=1024),
)


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(2)
    summarize(ModelConfig(depth=8))  # the app's first table at start-up
    warm_up()  # and the meta device's one-time cost, paid on the worker after it
    gc.freeze()  # as the app does after start-up and after the warm-up: what they imported is never collected
    print(f"{'network':<44} {'prototype':>10} {'whole net':>10} {'speed-up':>9}")
    worst = 0.0
    for config in NETWORKS:
        ours = seconds(lambda: summarize(config))
        whole = seconds(lambda: summarize(config, repeat_blocks=False))
        worst = max(worst, ours)
        label = f"{config.name} {config.family} {config.block} {config.input_size}px {config.shortcut} {config.stride_on}"
        print(f"{label:<44} {1000 * ours:8.1f} ms {1000 * whole:8.0f} ms {whole / ours:8.1f}x")
    print(f"slowest table: {1000 * worst:.1f} ms (target: under 100 ms)")


if __name__ == "__main__":
    main()
