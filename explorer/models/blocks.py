"""Residual units and their shortcuts, in torchvision's style and with torchvision's submodule names.

- ``BasicBlock`` / ``Bottleneck``: the original post-activation units (He et al., CVPR 2016, Fig. 2 and Fig. 5).
- ``PreActBasicBlock`` / ``PreActBottleneck``: BN-ReLU-conv units (He et al., ECCV 2016, "Identity Mappings").
- Shortcuts: option A (identity; stride-2 subsampling plus zero-padded channels on a change of shape, no
  parameters), B (1×1 conv + BN projection only on a change of shape), C (projection on every block).
- ``residual=False`` removes the shortcut: the same layers, the paper's "plain" counterpart.

A block's ``downsample`` is ``None`` for an identity shortcut (as in torchvision), a ``ZeroPadShortcut`` for
option A on a change of shape, or a projection ``Sequential(conv1x1, BN)``; so option-B state_dict keys read
``layer2.0.downsample.0.weight`` exactly as torchvision's do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A on a change of shape: subsample by the stride and append zero channels (no parameters)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def make_shortcut(
    option: str, in_planes: int, out_planes: int, stride: int, *, batch_norm: bool = True
) -> nn.Module | None:
    """The ``downsample`` module of a block; ``None`` is the identity. Pre-activation projections have no BN
    of their own: they read the already normalised input (Identity Mappings, appendix)."""
    changes_shape = stride != 1 or in_planes != out_planes
    if option == "C" or (option == "B" and changes_shape):
        conv = conv1x1(in_planes, out_planes, stride)
        return nn.Sequential(conv, nn.BatchNorm2d(out_planes)) if batch_norm else nn.Sequential(conv)
    if changes_shape:  # option A
        return ZeroPadShortcut(in_planes, out_planes, stride)
    return None


class BasicBlock(nn.Module):
    """Two 3×3 convs; relu(F(x) + x)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, *,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand (×4). ``stride_on='1x1'`` is the paper's ("v1"), ``'3x3'`` torchvision's ("v1.5")."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, *,
        residual: bool = True, stride_on: str = "1x1",
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


def _preact_shortcut(block: nn.Module, x: torch.Tensor, activated: torch.Tensor) -> torch.Tensor:
    """A projection reads the pre-activated input; the identity and option A read the raw input, so the
    shortcut path stays a clean identity (Identity Mappings, Fig. 4e)."""
    if block.downsample is None:
        return x
    if isinstance(block.downsample, ZeroPadShortcut):
        return block.downsample(x)
    return block.downsample(activated)


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3×3, BN-ReLU-conv3×3; F(x) + x with no activation after the addition."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, *,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=False)  # the raw input is still needed by the shortcut
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.relu(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.residual:
            out = out + _preact_shortcut(self, x, activated)
        return out

    def last_conv(self) -> nn.Conv2d:
        return self.conv2


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1×1, BN-ReLU-conv3×3, BN-ReLU-conv1×1 (×4); F(x) + x."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, *,
        residual: bool = True, stride_on: str = "1x1",
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.relu(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        if self.residual:
            out = out + _preact_shortcut(self, x, activated)
        return out

    def last_conv(self) -> nn.Conv2d:
        return self.conv3


BLOCK_TYPES: dict[tuple[str, bool], type[nn.Module]] = {
    ("basic", False): BasicBlock,
    ("bottleneck", False): Bottleneck,
    ("basic", True): PreActBasicBlock,
    ("bottleneck", True): PreActBottleneck,
}
