"""Exact parameter and MAC counts against the paper, shapes per stage, and torchvision compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision

from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.models.summary import summarize

PAPER = json.loads((Path(__file__).resolve().parents[1] / "explorer" / "resources" / "paper.json").read_text())
CIFAR = PAPER["cifar10_table6"]
IMAGENET = PAPER["imagenet_table1"]


def test_shipped_reference_holds_the_shared_one():
    """The figures we ship include the project brief's reference (beside the checkout where there is one) unchanged;
    we may cite more of the paper than it does."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "reference" / "paper.json"
    if shared.exists():
        brief = json.loads(shared.read_text())
        assert {key: PAPER.get(key) for key in brief} == brief


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110, 1202])
def test_cifar_resnet_params_and_macs_equal_table6(depth):
    summary = summarize(ModelConfig(depth=depth))
    assert summary.total_params == CIFAR["resnet"][str(depth)]["params"]
    assert summary.total_macs == CIFAR["macs_at_32px"][str(depth)]
    assert summary.total_flops == 2 * summary.total_macs
    assert summary.weighted_depth == depth


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_twins_have_the_same_params_and_macs_as_option_a(depth):
    residual, plain = summarize(ModelConfig(depth=depth)), summarize(ModelConfig(depth=depth, plain=True))
    assert (plain.total_params, plain.total_macs) == (residual.total_params, residual.total_macs)
    assert plain.total_params == CIFAR["resnet"][str(depth)]["params"]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_option_b_params_and_v1_macs_equal_table1(depth):
    summary = summarize(ModelConfig(family="imagenet", depth=depth))
    assert summary.total_params == IMAGENET["params_option_b"][str(depth)]
    assert summary.total_macs == IMAGENET["macs_v1_option_b"][str(depth)]
    # The paper prints one decimal of GFLOPs (multiply-adds); ours must round to it.
    assert abs(summary.total_macs / 1e9 - IMAGENET["paper_gmacs"][str(depth)]) < 0.1


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_imagenet_v1_5_macs(depth):
    summary = summarize(ModelConfig(family="imagenet", depth=depth, stride_on="3x3"))
    assert summary.total_macs == IMAGENET["macs_v1_5_option_b"][str(depth)]
    assert summary.total_params == IMAGENET["params_option_b"][str(depth)]


def test_plain34_and_resnet34_option_a():
    plain = summarize(ModelConfig(family="imagenet", depth=34, plain=True))
    assert (plain.total_params, plain.total_macs) == (IMAGENET["plain34"]["params"], IMAGENET["plain34"]["macs"])
    option_a = summarize(ModelConfig(family="imagenet", depth=34, shortcut="A"))
    assert (option_a.total_params, option_a.total_macs) == (plain.total_params, plain.total_macs)
    option_c = summarize(ModelConfig(family="imagenet", depth=34, shortcut="C"))
    assert option_c.total_params > IMAGENET["params_option_b"]["34"] > plain.total_params


def _stage_shapes(summary):
    stages = [r for r in summary.rows if r.depth == 1 and r.name.startswith("layer")]
    return [r.output_shape[1:] for r in stages]


def test_cifar56_stage_shapes():
    summary = summarize(ModelConfig(depth=56))
    assert _stage_shapes(summary) == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_imagenet50_stage_shapes():
    summary = summarize(ModelConfig(family="imagenet", depth=50))
    stem = next(r for r in summary.rows if r.name == "conv1")
    assert stem.output_shape[1:] == (64, 112, 112)
    assert _stage_shapes(summary) == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_torchvision_state_dict_round_trip(depth):
    torch.manual_seed(depth)
    reference = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    ours = build_model(ModelConfig(family="imagenet", depth=depth, stride_on="3x3")).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)
    assert list(ours.state_dict()) == list(reference.state_dict())


def test_v1_bottleneck_puts_the_stride_on_the_first_1x1():
    v1 = build_model(ModelConfig(family="imagenet", depth=50))
    v15 = build_model(ModelConfig(family="imagenet", depth=50, stride_on="3x3"))
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)


def test_option_a_shortcut_is_subsample_and_zero_pad():
    model = build_model(ModelConfig(depth=20)).eval()
    block = model.layer2[0]
    x = torch.randn(1, 16, 32, 32)
    shortcut = block.downsample(x)
    assert shortcut.shape == (1, 32, 16, 16)
    torch.testing.assert_close(shortcut[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(shortcut[:, 16:]) == 0
    assert sum(p.numel() for p in block.downsample.parameters()) == 0


def test_plain_network_ignores_its_input_skip():
    """A plain block's output must not change when only the identity path would carry the change."""
    torch.manual_seed(0)
    residual = build_model(ModelConfig(depth=20)).eval()
    plain = build_model(ModelConfig(depth=20, plain=True)).eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(1, 16, 32, 32)
    with torch.no_grad():
        branch = residual.layer1[0].bn2(residual.layer1[0].conv2(
            residual.layer1[0].relu(residual.layer1[0].bn1(residual.layer1[0].conv1(x)))))
        torch.testing.assert_close(residual.layer1[0](x), torch.relu(branch + x))
        torch.testing.assert_close(plain.layer1[0](x), torch.relu(branch))


def test_zero_init_residual_makes_blocks_start_as_identity():
    model = build_model(ModelConfig(depth=20, zero_init_residual=True)).eval()
    x = torch.relu(torch.randn(1, 16, 32, 32))
    with torch.no_grad():
        torch.testing.assert_close(model.layer1[0](x), x)
    preact = build_model(ModelConfig(depth=20, preact=True, zero_init_residual=True)).eval()
    with torch.no_grad():
        torch.testing.assert_close(preact.layer1[0](x), x)


def test_kaiming_init_scale():
    torch.manual_seed(0)
    conv = build_model(ModelConfig(depth=56)).layer3[0].conv2
    fan_out = conv.out_channels * 9
    assert abs(conv.weight.std().item() - (2 / fan_out) ** 0.5) < 0.1 * (2 / fan_out) ** 0.5


def test_preact_network_has_final_bn_relu_and_no_post_addition_relu():
    model = build_model(ModelConfig(depth=164, block="bottleneck", preact=True))
    assert hasattr(model, "final_bn") and not hasattr(model, "bn1")
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(1.7e6, rel=0.03)
    model = build_model(ModelConfig(depth=1001, block="bottleneck", preact=True))
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(10.2e6, rel=0.01)
