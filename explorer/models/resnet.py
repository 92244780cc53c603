"""``build_model(config)``: the CIFAR and ImageNet ResNets of He et al. (2016) and their plain twins.

Layout follows ``torchvision/models/resnet.py`` (``conv1``, ``bn1``, ``layer1…``, ``fc``), so the ImageNet
models with option B and the 3×3 stride (v1.5) load torchvision's state_dicts unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.config.model import FAMILY_WIDTHS, ModelConfig
from explorer.models.blocks import BLOCK_TYPES, make_shortcut


class ResNet(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        block = BLOCK_TYPES[(config.block, config.preact)]
        width = FAMILY_WIDTHS[config.family]
        self.inplanes = width
        if config.family == "cifar":
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        # A pre-activation CIFAR net goes straight from the first conv into the units, which normalise first.
        # Where a max-pool follows (ImageNet), the stem keeps its BN-ReLU.
        self.stem_activation = not (config.preact and config.family == "cifar")
        if self.stem_activation:
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
        if config.family == "imagenet":
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stages = [self._make_layer(block, width * 2**index, blocks, 1 if index == 0 else 2)
                  for index, blocks in enumerate(config.blocks_per_stage())]
        # torchvision's names: layer1 … layer3 (CIFAR), layer4 too (ImageNet)
        self.layer1, self.layer2, self.layer3, *rest = stages
        if rest:
            self.layer4 = rest[0]
        if config.preact:  # the final BN-ReLU of a pre-activation net (Identity Mappings, appendix)
            self.final_bn = nn.BatchNorm2d(self.inplanes)
            self.final_relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, config.num_classes)
        self._init_weights()

    @property
    def stages(self) -> tuple[nn.Sequential, ...]:
        return (self.layer1, self.layer2, self.layer3) + ((self.layer4,) if hasattr(self, "layer4") else ())

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            block_stride = stride if i == 0 else 1
            out_planes = planes * block.expansion
            downsample = None
            if not self.config.plain:
                downsample = make_shortcut(
                    self.config.shortcut, self.inplanes, out_planes, block_stride, batch_norm=not self.config.preact
                )
            where = {"stride_on": self.config.stride_on} if self.config.block == "bottleneck" else {}
            layers.append(block(self.inplanes, planes, block_stride, downsample, residual=not self.config.plain,
                                **where))
            self.inplanes = out_planes
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        """He (Kaiming) initialisation, as torchvision does it; BN starts as the identity."""
        if self.fc.weight.is_meta:  # built for its shapes only (summaries): there is no data to initialise
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.config.zero_init_residual and not self.config.plain:
            # Each residual branch then starts at zero, so every unit starts as the identity.
            for m in self.modules():
                if hasattr(m, "last_bn"):
                    nn.init.zeros_(m.last_bn().weight)
                elif hasattr(m, "last_conv"):
                    nn.init.zeros_(m.last_conv().weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        if self.stem_activation:
            x = self.bn1(x)
            x = self.relu(x)
        if self.config.family == "imagenet":
            x = self.maxpool(x)
        for stage in self.stages:
            x = stage(x)
        if self.config.preact:
            x = self.final_relu(self.final_bn(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def build_model(config: ModelConfig) -> ResNet:
    """The network a config describes, He-initialised. Raises ValueError for an invalid config."""
    return ResNet(config)
