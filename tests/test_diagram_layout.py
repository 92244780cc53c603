"""The diagram's layout, without Qt: a box for every layer and an arc of the right kind for every shortcut of the
built network, long stages folded with nothing lost, output sizes lined up across VGG-19, plain and residual
columns, and a table row found in the drawing."""

from __future__ import annotations

import collections
import subprocess
import sys

import pytest
import torch
from torch import nn

from explorer.gui.architecture.diagram_layout import (
    IDENTITY, PROJECTION, ZERO_PAD, Arc, Text, build, describe,
)
from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.models.blocks import ZeroPadShortcut
from explorer.models.summary import summarize

OPEN = 10**6  # fold_over: nothing folds

CONFIGS = [
    ModelConfig(depth=20), ModelConfig(depth=56, shortcut="C"), ModelConfig(depth=20, plain=True),
    ModelConfig(depth=164, block="bottleneck", preact=True), ModelConfig(family="imagenet", depth=34),
    ModelConfig(family="imagenet", depth=50, shortcut="C", stride_on="3x3"),
    ModelConfig(family="imagenet", depth=101, preact=True, shortcut="A"),
]


def network_counts(config: ModelConfig) -> tuple[int, dict[str, int]]:
    """From the built network itself: the layers Figure 3 draws (convs off the shortcuts, pools, fc), and the
    shortcuts of its blocks by kind."""
    with torch.device("meta"):
        model = build_model(config)
    layers = sum(1 for name, m in model.named_modules() if ".downsample" not in name
                 and isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Linear)))
    kinds: dict[str, int] = collections.Counter()
    for stage in range(len(config.blocks_per_stage())):
        for block in getattr(model, f"layer{stage + 1}"):
            if not config.plain:
                shortcut = block.downsample
                kinds[IDENTITY if shortcut is None else ZERO_PAD if isinstance(shortcut, ZeroPadShortcut)
                      else PROJECTION] += 1
    return layers, dict(kinds)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.name}-{c.family}-{c.shortcut}-{c.stride_on}")
def test_a_box_per_layer_and_an_arc_per_shortcut_of_its_kind(config):
    summary = summarize(config)
    layout = build(summary, fold_over=OPEN)
    layers, kinds = network_counts(config)
    assert len(layout.boxes) == layers
    assert layout.arc_counts(0) == kinds
    rows = {row.name: row for row in summary.rows}
    for box in layout.boxes:  # each box is its table row
        assert (box.output, box.params, box.macs) == (rows[box.row].output_shape[1:], rows[box.row].params,
                                                      rows[box.row].macs)
    for arc in layout.arcs:  # identity solid and bare; the others dotted and labelled with their option
        assert (arc.label == "") == (arc.kind == IDENTITY)
        if arc.kind != IDENTITY:
            assert arc.label.startswith(f"{config.shortcut}: ") and rows[arc.row].name.endswith(".downsample")
        assert arc.top < arc.bottom
    assert layout.folded == ()


def test_option_b_projects_only_where_the_shape_changes_and_says_how():
    layout = build(summarize(ModelConfig(family="imagenet", depth=34)))
    dotted = [(a.row, a.label) for a in layout.arcs if a.kind != IDENTITY]
    assert dotted == [("layer2.0.downsample", "B: 1×1 conv, 128, /2"), ("layer3.0.downsample", "B: 1×1 conv, 256, /2"),
                      ("layer4.0.downsample", "B: 1×1 conv, 512, /2")]
    option_a = build(summarize(ModelConfig(depth=20)))
    assert [a.label for a in option_a.arcs if a.kind == ZERO_PAD] == ["A: zero-pad, /2"] * 2


def test_long_stages_fold_into_their_first_block_and_one_box_and_open_on_request():
    summary = summarize(ModelConfig(depth=1202))
    layout = build(summary)
    layers, kinds = network_counts(summary.config)
    assert layout.folded == ("layer1", "layer2", "layer3")
    folds = [b for b in layout.boxes if b.kind == "fold"]
    assert [(f.row, f.label, f.first_block, f.blocks) for f in folds] == [
        (f"layer{s}", "× 199 blocks", 1, 199) for s in (1, 2, 3)]
    assert len(layout.boxes) == 1 + 3 * (2 + 1) + 2  # stem, three stages of a block and a fold, pool and fc
    assert layout.arc_counts(0) == kinds == {IDENTITY: 598, ZERO_PAD: 2}  # folded, still every shortcut
    rows = {row.name: row for row in summary.rows}
    assert folds[1].macs == sum(rows[f"layer2.{b}"].macs for b in range(1, 200))
    assert folds[1].output == (32, 16, 16)
    clickable = [t.stage for t in layout.texts if t.stage]
    assert clickable == ["layer1", "layer2", "layer3"]

    opened = build(summary, opened=frozenset({"layer2"}))
    assert opened.folded == ("layer1", "layer3")
    assert len([b for b in opened.boxes if b.row.startswith("layer2.")]) == 400
    assert opened.arc_counts(0) == kinds
    assert opened.height > layout.height + 199 * 2 * 24

    assert build(summarize(ModelConfig(depth=110))).folded == ("layer1", "layer2", "layer3")  # 18 blocks
    fifty_six = build(summarize(ModelConfig(depth=56)))  # 9 blocks: drawn whole, nothing to click
    assert fifty_six.folded == () and not any(t.stage for t in fifty_six.texts)


def test_figure3_columns_line_up_by_output_size():
    resnet = summarize(ModelConfig(family="imagenet", depth=34))
    plain = summarize(ModelConfig(family="imagenet", depth=34, plain=True))
    layout = build(resnet, plain, vgg=True)
    assert layout.titles == ("VGG-19", "plain-34", "ResNet-34") and layout.main == 2
    assert layout.arc_counts(0) == layout.arc_counts(1) == {}
    notes = [t.text for t in layout.texts if t.role == "note"]
    assert "19.6 G MACs · 143.7 M parameters" in notes and "Figure 3: 19.6 billion multiply-adds" in notes
    bands = sorted(((t.y, int(t.text.split()[-1])) for t in layout.texts if t.role == "band"))
    assert [size for _, size in bands] == [224, 112, 56, 28, 14, 7, 1]
    for (top, size), (bottom, _) in zip(bands, bands[1:] + [(layout.height, 0)]):
        for box in layout.boxes:  # every box sits in the band of its output size, in all three columns
            if (box.output[1] if len(box.output) == 3 else 1) == size:
                assert top <= box.y and box.y + box.height <= bottom
    for column in range(3):
        assert any(b.column == column and b.output[1:] == (56, 56) for b in layout.boxes)
    boxes = sorted(layout.boxes, key=lambda b: (b.column, b.y))
    for a, b in zip(boxes, boxes[1:]):  # no two boxes overlap; columns do not touch
        assert a.column != b.column or a.y + a.height < b.y
        assert a.column == b.column or a.x + a.width < b.x


def test_the_twin_stands_on_figure3s_side_of_the_network():
    plain = summarize(ModelConfig(depth=20, plain=True))
    layout = build(plain, summarize(ModelConfig(depth=20)))
    assert layout.titles == ("plain-20", "ResNet-20") and layout.main == 0
    assert layout.arc_counts(0) == {} and layout.arc_counts(1) == {IDENTITY: 7, ZERO_PAD: 2}


def test_a_table_row_is_found_in_the_drawing_and_the_hover_says_what_it_costs():
    summary = summarize(ModelConfig(depth=1202))
    layout = build(summary, summarize(summary.config.replace(plain=True)))
    conv = layout.matching("layer1.0.conv2")
    assert [(e.row, e.column) for e in conv] == [("layer1.0.conv2", layout.main)]  # not the twin's
    assert [e.row for e in layout.matching("layer1.0.bn1")] == ["layer1.0.conv1", "layer1.0.conv2", "layer1.0"]
    assert [(e.row, e.kind) for e in layout.matching("layer2.57.relu")] == [("layer2", "fold")]
    assert [type(e) for e in layout.matching("layer3.0.downsample")] == [Arc]
    assert len(layout.matching("layer2")) == 5  # block 0's two convs, the fold, and their shortcuts
    assert layout.matching("no.such.row") == ()

    box = conv[0]
    assert describe(box) == ("layer1.0.conv2: 3×3 conv, 16", "output 16 × 32 × 32", "2,304 parameters",
                             "2,359,296 MACs (2.36 M)")
    assert layout.element_at(box.x + 5, box.y + 5) is box
    arc = layout.matching("layer2.0.downsample")[0]
    assert layout.element_at(arc.right + 10, (arc.top + arc.bottom) / 2) is arc
    assert describe(arc)[0] == "layer2.0.downsample: option A shortcut (subsampled, zero-padded)"
    caption = next(t for t in layout.texts if t.stage == "layer3")
    assert isinstance(layout.element_at(caption.x + 2, caption.y + 2), Text)
    assert layout.element_at(1, 1) is None


def test_the_layout_needs_neither_qt_nor_torch():
    code = ("import sys, explorer.gui.architecture.diagram_layout\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'torch')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
