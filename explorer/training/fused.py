"""One grouped network that computes G same-shape networks at once (see :mod:`explorer.training.groups`).

It is built from the networks themselves, module by module, so it is exactly their architecture: every
convolution becomes a grouped convolution whose weight is the networks' weights stacked along the output channels
(group g computes network g alone), every batch norm becomes one G times as wide (its statistics are per channel,
so per network), the classifier a batched matrix product, and option A's zero-padding shortcut pads each network's
channels. The first convolution reads one input for all networks when they share a batch (one seed), or each its
own (several seeds). A plain network grouped with residual ones adds its shortcut times 0: ``out + 0 * x`` is
``out`` exactly (and its gradient ``g + 0``), so the plain network computes what it computes alone.

Stacking is along dimension 0 of every parameter, so network g's slice of a grouped tensor is a view of the same
memory: the networks' own modules are pointed at those views (:func:`bind`), and everything that reads a network -
the checkpoints, the layer names, the analyses - reads its current weights, unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models import build_model
from explorer.models.blocks import ZeroPadShortcut


class GroupedLinear(nn.Module):
    """G classifiers on G feature vectors: ``(N, G*in) -> (G, N, out)``; weight ``(G*out, in)`` as stacked."""

    def __init__(self, groups: int, weight: nn.Parameter, bias: nn.Parameter | None) -> None:
        super().__init__()
        self.groups = groups
        self.weight, self.bias = weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.groups
        features = x.view(x.shape[0], g, -1).transpose(0, 1)  # (G, N, in)
        weight = self.weight.view(g, -1, self.weight.shape[1]).transpose(1, 2)  # (G, in, out)
        if self.bias is None:
            return torch.bmm(features, weight)
        return torch.baddbmm(self.bias.view(g, 1, -1), features, weight)


class GroupedZeroPad(ZeroPadShortcut):
    """Option A's shortcut for each network of the group (stride 1 and no extra channels: the identity), times
    each network's 0/1 ``mask`` when plain and residual networks share the group. A ZeroPadShortcut, so the
    pre-activation blocks read it from the raw input as they read option A."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, groups: int, mask: torch.Tensor | None) -> None:
        super().__init__(in_planes, out_planes, stride)
        self.groups = groups
        self.register_buffer("mask", None if mask is None else mask.repeat_interleave(out_planes).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            channels_last = x.is_contiguous(memory_format=torch.channels_last)
            x = F.pad(x.unflatten(1, (self.groups, -1)), (0, 0, 0, 0, 0, self.extra_channels)).flatten(1, 2)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        return x if self.mask is None else x * self.mask.to(x.dtype)


def grouped_network(models: list[nn.Module], residual: list[bool], shared_input: bool) -> nn.Module:
    """The grouped network of ``models`` (same parameters), on the meta device until :func:`bind` gives it
    their stacked weights. ``residual`` says which networks add their shortcuts; ``shared_input``: one input."""
    g = len(models)
    with torch.device("meta"):
        net = build_model(models[0].config.replace(plain=not any(residual)))
    mixed = any(residual) and not all(residual)
    mask = torch.tensor([1.0 if r else 0.0 for r in residual]) if mixed else None
    for block in net.modules():  # first the shortcuts, while the convolutions still have their own widths
        if hasattr(block, "residual") and block.residual:
            planes = block.conv1.in_channels
            pad = block.downsample
            if isinstance(pad, ZeroPadShortcut):
                block.downsample = GroupedZeroPad(planes, planes + pad.extra_channels, pad.stride, g, mask)
            elif pad is None and mixed:
                block.downsample = GroupedZeroPad(planes, planes, 1, g, mask)
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.Conv2d):
            module.out_channels *= g
            if not (name == "conv1" and shared_input):
                module.in_channels *= g
                module.groups *= g
        elif isinstance(module, nn.BatchNorm2d):
            module.num_features *= g
        elif isinstance(module, nn.Linear):
            parent, _, leaf = name.rpartition(".")
            setattr(net.get_submodule(parent), leaf, GroupedLinear(g, module.weight, module.bias))
    return net


def bind(net: nn.Module, models: list[nn.Module]) -> None:
    """Give ``net`` the networks' parameters and buffers stacked (new memory), then point each network's own at
    its slice: from here on training the grouped network trains them, and reading one reads its current state."""
    for name, _ in models[0].named_parameters():
        parts = [model.get_parameter(name) for model in models]
        stacked = nn.Parameter(torch.cat([p.detach() for p in parts]))
        _put(net, name, stacked)
        for part, view in zip(parts, stacked.detach().chunk(len(parts))):
            part.data = view
    for name, buffer in models[0].named_buffers():
        parts = [model.get_buffer(name) for model in models]
        # num_batches_tracked counts the steps, the same for networks that take every step together: one shared.
        stacked = buffer.clone() if buffer.dim() == 0 else torch.cat(parts)
        _put(net, name, stacked)
        for model, view in zip(models, [stacked] * len(models) if buffer.dim() == 0 else stacked.chunk(len(parts))):
            _put(model, name, view)


def unbind(models: list[nn.Module]) -> None:
    """Give each network memory of its own again (a copy of its slice), so the group can go."""
    for model in models:
        for p in model.parameters():
            p.data = p.data.clone()
        for name, buffer in list(model.named_buffers()):
            _put(model, name, buffer.clone())


def _put(root: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Set the parameter or buffer ``name`` (dotted) of ``root``."""
    parent, _, leaf = name.rpartition(".")
    module = root.get_submodule(parent) if parent else root
    if isinstance(tensor, nn.Parameter):
        setattr(module, leaf, tensor)
    else:
        module._buffers[leaf] = tensor
