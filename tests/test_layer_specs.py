"""The paper's layers as model_config writes them (Table 1's text, the diagram's boxes) are the layers the builder
makes, and VGG-19's spec gives Figure 3's 19.6 billion multiply-adds and torchvision's own VGG-19."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from explorer.config.layers import LayerSpec, block_layers, head_layers, layer_costs, stem_layers, vgg19_layers
from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.config.paper import paper_figure3_gmacs
from explorer.system.formatting import count
from explorer.models.summary import layer_macs, summarize

CONFIGS = [
    ModelConfig(depth=20), ModelConfig(depth=56, shortcut="C"), ModelConfig(depth=164, block="bottleneck", preact=True),
    ModelConfig(family="imagenet", depth=34), ModelConfig(family="imagenet", depth=50),
    ModelConfig(family="imagenet", depth=101, stride_on="3x3", input_size=97),
    ModelConfig(family="imagenet", stages=(1, 3, 2, 1)),
]


def _conv(spec: LayerSpec) -> tuple:
    return spec.kind, spec.kernel, spec.stride, spec.width


def _module(module: nn.Module) -> tuple:
    if isinstance(module, nn.Conv2d):
        return "conv", module.kernel_size[0], module.stride[0], module.out_channels
    if isinstance(module, nn.MaxPool2d):
        return "max pool", module.kernel_size, module.stride, None
    raise AssertionError(f"not a layer of the main path: {module}")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.name}-{c.family}-{c.block}-{c.stride_on}")
def test_the_specs_are_the_layers_the_builder_makes(config):
    with torch.device("meta"):
        model = build_model(config)
    stem = [model.conv1] + ([model.maxpool] if config.family == "imagenet" else [])
    expected = [_module(m) for m in stem]
    assert [_conv(s)[:3] for s in stem_layers(config)] == [e[:3] for e in expected]
    assert stem_layers(config)[0].width == model.conv1.out_channels
    for stage, blocks in enumerate(config.blocks_per_stage()):
        for index in range(blocks):
            block = getattr(model, f"layer{stage + 1}")[index]
            convs = [m for name, m in block.named_children() if name.startswith("conv")]
            assert [_conv(s) for s in block_layers(config, stage, index)] == [_module(m) for m in convs]
    pool, fc = head_layers(config)
    assert (pool.kind, pool.width) == ("avg pool", model.fc.in_features)
    assert (fc.kind, fc.width) == ("fc", model.fc.out_features)


@pytest.mark.parametrize("config", [ModelConfig(depth=20, plain=True),
                                    ModelConfig(family="imagenet", depth=50, plain=True, stride_on="3x3")],
                         ids=lambda c: c.name)
def test_the_specs_cost_what_the_summary_counts(config):
    """A plain net has nothing but these layers: their MACs are the table's total, and their output sizes the
    table's rows."""
    layers = stem_layers(config)
    for stage, blocks in enumerate(config.blocks_per_stage()):
        layers += sum((block_layers(config, stage, i) for i in range(blocks)), ())
    costs = layer_costs(layers + head_layers(config), config.input_size)
    summary = summarize(config)
    assert sum(c.macs for c in costs) == summary.total_macs
    leaves = [r for r in summary.leaves() if r.type in ("Conv2d", "MaxPool2d", "AdaptiveAvgPool2d", "Linear")]
    assert [c.output for c in costs] == [r.output_shape[1:] if r.type != "AdaptiveAvgPool2d" else r.output_shape[1:2]
                                         + (1, 1) for r in leaves]


def test_table1_text():
    config = ModelConfig(family="imagenet", depth=50)
    assert [s.table_text for s in stem_layers(config)] == ["7×7, 64, stride 2", "3×3 max pool, stride 2"]
    assert [s.table_text for s in block_layers(config, 1, 1)] == ["1×1, 128", "3×3, 128", "1×1, 512"]
    assert [s.figure_text for s in block_layers(config, 1, 0)] == ["1×1 conv, 128, /2", "3×3 conv, 128",
                                                                    "1×1 conv, 512"]
    assert [s.table_text for s in head_layers(config)] == ["average pool", "1000-d fc"]
    assert [s.figure_text for s in head_layers(config)] == ["avg pool", "fc 1000"]


def test_vgg19_costs_figure3s_multiply_adds_and_equals_torchvisions_vgg19():
    costs = layer_costs(vgg19_layers(), 224)
    macs = sum(c.macs for c in costs)
    assert count(macs) == f"{paper_figure3_gmacs('vgg-19')} G"  # 19.6 billion, as Figure 3 says
    with torch.device("meta"):
        reference = torchvision.models.vgg19(weights=None)
    layers = [m for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.Linear))]
    assert len(layers) == len(costs)
    for module, cost in zip(layers, costs):
        assert layer_macs(module, (1, *cost.output)) == cost.macs
        assert sum(p.numel() for p in module.parameters()) == cost.params
        if isinstance(module, nn.Conv2d):
            assert (module.out_channels, module.kernel_size[0], module.stride[0]) == (
                cost.spec.width, cost.spec.kernel, cost.spec.stride)
    assert sum(c.params for c in costs) == sum(p.numel() for p in reference.parameters()) == 143_667_240


def test_figure3s_resnet34_and_plain34_round_to_the_papers_figures():
    """Figure 3's residual net is Table 2's, with option A (§4.1); option B's projections add 0.02 G."""
    for name, config in (("resnet-34", ModelConfig(family="imagenet", depth=34, shortcut="A")),
                         ("plain-34", ModelConfig(family="imagenet", depth=34, plain=True))):
        assert round(summarize(config).total_macs / 1e9, 1) == paper_figure3_gmacs(name)
