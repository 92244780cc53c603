"""``summarize(config)``: the layer table of a network as plain data (ints, strs, tuples) — no torch objects leave.

torchinfo runs the forward pass (batch 1) and gives the structure, the call order and the output shapes. The
model is built on the ``meta`` device (no initialisation) and then given uninitialised CPU storage: only the
shapes matter, and a CPU forward pass beats the meta device's Python decompositions of batch norm by 2×, so
ResNet-1202 takes about a second and ResNet-152 a third of one. MACs are counted here, not by torchinfo, because the paper's "FLOPs" are the
multiply-adds of the convolutions and the fully connected layer only, while torchinfo also counts a MAC per
BN parameter and per bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torchinfo
from torch import nn

from explorer.config import ModelConfig
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
        """The ``resnet-explorer summary --json`` contract of DESIGN.md."""
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


def summarize(config: ModelConfig) -> Summary:
    """The layer table of ``config`` for one image. Raises ValueError for an invalid config."""
    config.validate()
    with torch.device("meta"):
        model = build_model(config)
    model = model.to_empty(device="cpu")  # values are garbage and unused: the table needs shapes only
    input_shape = (1, 3, config.input_size, config.input_size)
    stats = torchinfo.summary(model, input_size=input_shape, device="cpu", verbose=0, mode="eval")
    names = {id(m): name for name, m in model.named_modules()}

    # torchinfo lists calls in order with their nesting depth; depth 0 is the model itself.
    infos = [i for i in stats.summary_list if i.depth >= 1]
    own_params: list[int] = []
    seen: set[int] = set()
    for info in infos:
        counted = info.is_leaf_layer and id(info.module) not in seen
        seen.add(id(info.module))
        own_params.append(sum(p.numel() for p in info.module.parameters()) if counted else 0)
    own_macs = [
        layer_macs(i.module, tuple(i.output_size)) if i.is_leaf_layer else 0 for i in infos
    ]
    # A container's subtotal is the sum of the rows after it until the next row at its depth or above.
    sub_params, sub_macs = list(own_params), list(own_macs)
    stack: list[int] = []
    for index, info in enumerate(infos):
        while stack and infos[stack[-1]].depth >= info.depth:
            stack.pop()
        for parent in stack:
            sub_params[parent] += own_params[index]
            sub_macs[parent] += own_macs[index]
        stack.append(index)

    rows = tuple(
        LayerRow(
            name=names.get(id(info.module), info.var_name),
            type=info.class_name,
            depth=info.depth,
            output_shape=tuple(int(s) for s in info.output_size),
            params=sub_params[i],
            macs=sub_macs[i],
            is_leaf=info.is_leaf_layer,
        )
        for i, info in enumerate(infos)
    )
    leaves = [r for r in rows if r.is_leaf]
    weighted = sum(
        1 for r in leaves if r.type in ("Conv2d", "Linear") and ".downsample." not in f".{r.name}."
    )
    return Summary(
        config=config,
        input_shape=input_shape,
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_macs=sum(r.macs for r in leaves),
        activation_bytes=sum(math.prod(r.output_shape) for r in leaves) * BYTES_PER_ACTIVATION,
        weighted_depth=weighted,
    )


def human(value: float, unit: str = "") -> str:
    """1234567 -> '1.23 M'; the suffixes a person reads in a table."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


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
        f"params {summary.total_params:,} ({human(summary.total_params)})   "
        f"MACs {summary.total_macs:,} ({human(summary.total_macs)})   "
        f"FLOPs (2×MACs) {human(summary.total_flops)}   weighted depth {summary.weighted_depth}   "
        f"activations {human(summary.activation_bytes, 'B')} per image"
    )
    return "\n".join(lines) + "\n"
