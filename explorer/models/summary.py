"""``summarize(config)``: the layer table of a network as plain data (ints, strs, tuples) — no torch objects leave.

torchinfo runs the forward pass (batch 1) and gives the structure, the call order and the output shapes. The
model is traced on the CPU (small inputs) or on the ``meta`` device (no storage, no arithmetic, so the cost does
not grow with the input size; :func:`trace_device`). Only a prototype with at most two blocks per stage is
traced; the repeated blocks' rows are copied from it, which keeps every table of the option space well under
100 ms. MACs are counted here, not by torchinfo, because the paper's "FLOPs" are the
multiply-adds of the convolutions and the fully connected layer only, while torchinfo also counts a MAC per
BN parameter and per bias.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torchinfo
from torch import nn

from explorer.config.model import LAYERS_PER_BLOCK, ModelConfig
from explorer.system.formatting import count, size
from explorer.models import build_model

BYTES_PER_ACTIVATION = 4  # fp32


@dataclass(frozen=True)
class LayerRow:
    """One module call. Containers (stages, blocks) carry the subtotals of the rows nested under them."""

    name: str  # "layer1.0.conv1"
    type: str  # "Conv2d"
    depth: int  # 1 = a child of the model ("layer1"), 2 = "layer1.0", 3 = "layer1.0.conv1"
    output_shape: tuple[int, ...]  # batch 1: (1, 16, 32, 32)
    params: int
    macs: int
    is_leaf: bool


@dataclass(frozen=True)
class Summary:
    config: ModelConfig
    input_shape: tuple[int, ...]
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    total_macs: int
    activation_bytes: int  # outputs of every leaf layer for one image, fp32: what training keeps for backward
    weighted_depth: int  # convs and fc on the main path: the "20" of ResNet-20

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    def leaves(self) -> tuple[LayerRow, ...]:
        return tuple(r for r in self.rows if r.is_leaf)

    def to_json(self) -> dict[str, Any]:
        """The ``resnet-explorer summary --json`` contract of docs/architecture.md."""
        return {
            "model": self.config.to_dict(),
            "input_shape": list(self.input_shape),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "total_flops": self.total_flops,
            "activation_bytes": self.activation_bytes,
            "weighted_depth": self.weighted_depth,
            "layers": [
                {"name": r.name, "type": r.type, "depth": r.depth, "output_shape": list(r.output_shape),
                 "params": r.params, "macs": r.macs, "is_leaf": r.is_leaf}
                for r in self.rows
            ],
        }


def layer_macs(module: nn.Module, output_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one call: one per weight per output position, for convs and linear layers."""
    if isinstance(module, nn.Conv2d):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return per_output * math.prod(output_shape[1:])
    if isinstance(module, nn.Linear):
        return module.in_features * math.prod(output_shape[1:])
    return 0


def trace_device(config: ModelConfig) -> str:
    """Where the prototype runs: small CIFAR-sized inputs on the CPU (a few MMACs, no warm-up), larger ones on
    the ``meta`` device, whose cost does not grow with the input (its first use in a process imports
    torch._dynamo, about a second, which :func:`warm_up` can take off the critical path)."""
    return "cpu" if config.family == "cifar" and config.input_size <= 64 else "meta"


def warm_up() -> None:
    """Pay the meta device's one-time cost now (a worker thread calls this while the person reads a table)."""
    a = torch.empty(1, 4, 4, 4, device="meta")
    torch.relu(a + a)


def _same_shape(x: torch.Tensor) -> torch.Tensor:
    return x


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """A batch-1 trace is a few MMACs: one thread does it in milliseconds. Two threads wait for each other at
    every op, 20-30x slower as soon as another process (a training child) keeps a core busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _traced_rows(config: ModelConfig) -> list[LayerRow]:
    """torchinfo's rows of ``config``'s network (batch 1), with our MACs and subtotals."""
    device = trace_device(config)
    with torch.device(device):  # the prototype is small: built and initialised on the CPU in milliseconds
        model = build_model(config)
    if device == "meta":
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.forward = _same_shape  # BN keeps its input's shape; its meta decomposition is slow
    input_shape = (1, 3, config.input_size, config.input_size)
    with _one_thread():
        stats = torchinfo.summary(model, input_size=input_shape, device=device, verbose=0, mode="eval")
    names = {id(m): name for name, m in model.named_modules()}
    # torchinfo lists calls in order with their nesting depth; depth 0 is the model itself.
    infos = [i for i in stats.summary_list if i.depth >= 1]
    rows, seen = [], set()
    for info in infos:
        counted = info.is_leaf_layer and id(info.module) not in seen
        seen.add(id(info.module))
        rows.append(LayerRow(
            name=names.get(id(info.module), info.var_name), type=info.class_name, depth=info.depth,
            output_shape=tuple(int(s) for s in info.output_size),
            params=sum(p.numel() for p in info.module.parameters()) if counted else 0,
            macs=layer_macs(info.module, tuple(info.output_size)) if info.is_leaf_layer else 0,
            is_leaf=info.is_leaf_layer,
        ))
    return rows


def _repeat_blocks(rows: list[LayerRow], blocks: tuple[int, ...]) -> list[LayerRow]:
    """Rows of the network with ``blocks`` per stage, from the rows of its prototype with at most two per stage.

    Within a stage every block after the first has the same input and output shape and the same layers, so
    its rows are those of block 1 under another index: ``layer2.1.conv1`` becomes ``layer2.7.conv1``."""
    out: list[LayerRow] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        parts = row.name.split(".")
        stage = int(parts[0][5:]) if parts[0].startswith("layer") and parts[0][5:].isdigit() else 0
        if stage and len(parts) == 2 and parts[1] == "1" and blocks[stage - 1] > 2:
            end = i + 1
            while end < len(rows) and rows[end].depth > row.depth:
                end += 1
            prefix = f"{parts[0]}.1"
            for index in range(1, blocks[stage - 1]):
                name = f"{parts[0]}.{index}"
                out.extend(dataclasses.replace(r, name=name + r.name[len(prefix):]) for r in rows[i:end])
            i = end
            continue
        out.append(row)
        i += 1
    return out


def _subtotals(rows: list[LayerRow]) -> tuple[LayerRow, ...]:
    """Each container row carries the sums of the leaf rows after it until the next row at its depth or above."""
    params, macs = [r.params if r.is_leaf else 0 for r in rows], [r.macs if r.is_leaf else 0 for r in rows]
    stack: list[int] = []
    for index, row in enumerate(rows):
        while stack and rows[stack[-1]].depth >= row.depth:
            stack.pop()
        for parent in stack:
            params[parent] += params[index] if row.is_leaf else 0
            macs[parent] += macs[index] if row.is_leaf else 0
        stack.append(index)
    return tuple(dataclasses.replace(r, params=p, macs=m) for r, p, m in zip(rows, params, macs))


def summarize(config: ModelConfig, *, repeat_blocks: bool = True) -> Summary:
    """The layer table of ``config`` for one image. Raises ValueError for an invalid config.

    The network traced is a prototype with at most two blocks per stage; the other blocks' rows are copies of
    block 1's (:func:`_repeat_blocks`), so ResNet-1202 costs about what ResNet-20 does. ``repeat_blocks=False``
    traces the whole network instead: the tests hold the two equal over the option space."""
    config.validate()
    blocks = config.blocks_per_stage()
    traced = config
    if repeat_blocks and max(blocks) > 2:
        stages = tuple(min(b, 2) for b in blocks)
        traced = config.replace(stages=stages, depth=LAYERS_PER_BLOCK[config.block] * sum(stages) + 2)
    rows = _traced_rows(traced)
    if traced is not config:
        rows = _repeat_blocks(rows, blocks)
    rows = _subtotals(rows)
    leaves = [r for r in rows if r.is_leaf]
    weighted = sum(
        1 for r in leaves if r.type in ("Conv2d", "Linear") and ".downsample." not in f".{r.name}."
    )
    total_params = sum(r.params for r in leaves)
    return Summary(
        config=config,
        input_shape=(1, 3, config.input_size, config.input_size),
        rows=rows,
        total_params=total_params,
        trainable_params=total_params,  # every parameter of these networks trains
        total_macs=sum(r.macs for r in leaves),
        activation_bytes=sum(math.prod(r.output_shape) for r in leaves) * BYTES_PER_ACTIVATION,
        weighted_depth=weighted,
    )


def format_table(summary: Summary) -> str:
    """A readable table: stages and blocks with subtotals, then the totals."""
    lines = [f"{summary.config.name} ({summary.config.family}, {summary.config.block} blocks, "
             f"shortcut {summary.config.shortcut}{', pre-activation' if summary.config.preact else ''}), "
             f"input {'x'.join(map(str, summary.input_shape[1:]))}"]
    header = f"{'layer':<34} {'type':<18} {'output (C×H×W)':>16} {'params':>12} {'MACs':>15}"
    lines += [header, "-" * len(header)]
    for row in summary.rows:
        if row.depth > 2 and not row.is_leaf:
            continue
        shape = "×".join(map(str, row.output_shape[1:]))
        indent = "  " * (row.depth - 1)
        lines.append(f"{(indent + row.name)[:34]:<34} {row.type[:18]:<18} {shape:>16} {row.params:>12,} "
                     f"{row.macs:>15,}")
    lines.append("-" * len(header))
    lines.append(
        f"params {summary.total_params:,} ({count(summary.total_params)})   "
        f"MACs {summary.total_macs:,} ({count(summary.total_macs)})   "
        f"FLOPs (2×MACs) {count(summary.total_flops)}   weighted depth {summary.weighted_depth}   "
        f"activations {size(summary.activation_bytes)} per image"
    )
    return "\n".join(lines) + "\n"
