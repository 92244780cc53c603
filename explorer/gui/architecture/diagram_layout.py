"""The architecture diagram as plain data, placed as the paper's Figure 3 draws a network: one column per network,
its layers as boxes top to bottom, each residual block's shortcut as an arc beside them (identity solid,
projection and option A dotted and labelled), the output size on the left where it changes, aligned across the
columns (VGG-19, the plain twin, the residual net).

No Qt and no torch: the layout is built on the diagram's worker thread from Summaries (the layer table's own
rows, so a box and a table row are one layer) and model_config's specs (the paper's words for each layer), and
is tested without a display. Coordinates are pixels at zoom 1. Stages of more than ``FOLD_OVER`` blocks start
folded into their first block (the one that downsamples) and one "× n blocks" box: ResNet-1202 has 1,200 convs.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from explorer.system.formatting import count, params as params_text
from explorer.config.layers import (
    block_layers, head_layers, layer_costs, stem_layers, table1_stage_name, vgg19_layers,
)
from explorer.config.model import ModelConfig
from explorer.config.paper import paper_figure3_gmacs

if TYPE_CHECKING:  # the summary module imports torch; this one must not
    from explorer.models.summary import LayerRow, Summary

IDENTITY, PROJECTION, ZERO_PAD = "identity", "projection", "zero-pad"
FOLD_OVER = 12  # blocks: a longer stage starts folded (ResNet-34's and -56's stages stay open, -110's fold)

BOX_W, BOX_H, FOLD_H = 176, 24, 40  # a layer's box; a fold's box has a second line
GAP = 14  # between two boxes: the arrow
CAPTION_H = 22  # a stage's name above its first box, above where its first shortcut leaves
BAND_GAP = 10  # more space where the output size changes
ARC_REACH = 34  # how far right of the boxes a shortcut bulges
LABEL_W = 130  # the arcs' labels, right of them
COLUMN_W = BOX_W + ARC_REACH + LABEL_W  # a column with shortcuts or captions
BARE_W = BOX_W + 44  # one without (VGG-19, a plain twin)
MARGIN = 16
BAND_W = 92  # the output sizes, left of the columns
TITLE_H = 62  # a column's name, its MACs and parameters, the paper's figure
LINE_H = 18


@dataclass(frozen=True)
class Box:
    """A layer (``kind`` "layer") or the blocks of a folded stage (``kind`` "fold", ``row`` the stage)."""

    column: int
    row: str  # the layer table's row ("layer1.0.conv1"); "" in VGG-19's column, which has no table
    label: str  # Figure 3's words: "3×3 conv, 64, /2"; a fold's "× 199 blocks"
    x: float
    y: float
    width: float
    height: float
    output: tuple[int, ...]  # (C, H, W), or (outputs,) for the fc layer
    params: int
    macs: int
    kind: str = "layer"
    detail: str = ""  # a fold's block, in Table 1's words
    first_block: int = 0  # a fold stands for blocks first_block … first_block + blocks - 1 of its stage
    blocks: int = 0


@dataclass(frozen=True)
class Arc:
    """The shortcut of a block (``count`` > 1: of every block of a fold), from the block's input to its output."""

    column: int
    row: str  # the block ("layer2.1") for an identity, its shortcut ("layer2.0.downsample") for the others
    kind: str  # IDENTITY, PROJECTION or ZERO_PAD
    label: str  # "" for an identity; "B: 1×1 conv, 128, /2", "A: zero-pad, /2"
    x: float  # the centre line of the boxes, where the shortcut leaves and joins
    right: float  # the boxes' right edge, where it bulges out from
    top: float
    bottom: float
    output: tuple[int, ...]
    params: int
    macs: int
    count: int = 1


@dataclass(frozen=True)
class Text:
    """A column's title lines ("title", "note"), an output size ("band") or a stage's caption ("caption"; a
    click on one with ``stage`` set folds or opens that stage)."""

    text: str
    x: float
    y: float
    width: float
    height: float
    role: str
    stage: str = ""


@dataclass(frozen=True)
class Link:
    """The arrow from one box down to the next."""

    x: float
    top: float
    bottom: float


Element = Union[Box, Arc, Text]


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Box, ...]
    arcs: tuple[Arc, ...]
    texts: tuple[Text, ...]
    links: tuple[Link, ...]
    rules: tuple[float, ...]  # where an output size ends: a faint line across the diagram
    width: float
    height: float
    titles: tuple[str, ...]  # the columns, left to right
    main: int  # the column of the layer table's network: only its boxes select rows
    folded: tuple[str, ...] = ()  # the stages shown folded

    def element_at(self, x: float, y: float) -> Element | None:
        """The box, shortcut or clickable caption at a point, if any."""
        for box in self.boxes:
            if box.x <= x <= box.x + box.width and box.y <= y <= box.y + box.height:
                return box
        for arc in self.arcs:
            if arc.right < x <= arc.right + ARC_REACH + LABEL_W and arc.top <= y <= arc.bottom:
                return arc
        for text in self.texts:
            if text.stage and text.x <= x <= text.x + text.width and text.y <= y <= text.y + text.height:
                return text
        return None

    def matching(self, row: str) -> tuple[Box | Arc, ...]:
        """What a layer table row stands for in the main column: its box or shortcut, every box of a block or
        stage, the fold that holds it; for a row drawn nowhere (a BN, a ReLU) that of the row around it."""
        while row:
            found = tuple(e for e in (*self.boxes, *self.arcs) if e.column == self.main and e.row and (
                e.row == row or e.row.startswith(row + ".") or _in_fold(e, row)))
            if found:
                return found
            row = row.rpartition(".")[0]
        return ()

    def arc_counts(self, column: int) -> dict[str, int]:
        """Shortcuts of each kind in a column, those of folded blocks included."""
        counts: dict[str, int] = collections.Counter()
        for arc in self.arcs:
            if arc.column == column:
                counts[arc.kind] += arc.count
        return dict(counts)


def _in_fold(element: Box | Arc, row: str) -> bool:
    if not isinstance(element, Box) or element.kind != "fold":
        return False
    stage, _, rest = row.partition(".")
    block = rest.partition(".")[0]
    return stage == element.row and block.isdigit() and int(block) >= element.first_block


def describe(element: Element) -> tuple[str, ...]:
    """What the hover readout says: the layer, its output size, parameters and MACs."""
    if isinstance(element, Text):
        return (element.text,)
    size = f"output {' × '.join(map(str, element.output))}"
    cost = (f"{element.params:,} parameters", f"{element.macs:,} MACs ({count(element.macs)})")
    if isinstance(element, Arc):
        many = f"{element.count} " if element.count > 1 else ""
        if element.kind == IDENTITY:
            return (f"{element.row}: {many}identity shortcut{'s' * bool(many)}", size,
                    "adds the block's input to its output: no parameters, no MACs")
        kind = "option A shortcut (subsampled, zero-padded)" if element.kind == ZERO_PAD else "projection shortcut"
        return (f"{element.row}: {many}{kind}{'s' * bool(many)}", element.label, size, *cost)
    if element.kind == "fold":
        last = element.first_block + element.blocks - 1
        return (f"{element.row}.{element.first_block} … {element.row}.{last}: {element.blocks} blocks of "
                f"{element.detail}", size, *cost, "click to open the stage")
    return (f"{element.row}: {element.label}" if element.row else element.label, size, *cost)


@dataclass
class _Item:
    row: str
    label: str
    output: tuple[int, ...]
    params: int
    macs: int
    kind: str = "layer"
    detail: str = ""
    first_block: int = 0
    blocks: int = 0
    caption: str = ""  # shown above the box: the first of a stage
    stage: str = ""  # a caption that folds or opens this stage

    @property
    def band(self) -> int:
        return self.output[1] if len(self.output) == 3 else 1

    @property
    def height(self) -> float:
        return FOLD_H if self.kind == "fold" else BOX_H


@dataclass
class _Shortcut:
    first: int  # item indices of the block's first and last boxes
    last: int
    row: str
    kind: str
    label: str
    output: tuple[int, ...]
    params: int
    macs: int
    count: int = 1


@dataclass
class _Column:
    title: str
    notes: tuple[str, ...]
    items: list[_Item] = field(default_factory=list)
    shortcuts: list[_Shortcut] = field(default_factory=list)


def build(summary: "Summary", twin: "Summary | None" = None, vgg: bool = False,
          opened: frozenset[str] = frozenset(), fold_over: int = FOLD_OVER) -> Layout:
    """The diagram of ``summary``'s network, with its plain (or residual) ``twin`` and VGG-19 beside it as
    Figure 3 orders them: VGG-19, plain, residual. Stages of more than ``fold_over`` blocks are folded unless
    ``opened`` names them ("layer3")."""
    columns = [_network_column(summary, opened, fold_over)]
    main = 0
    if twin is not None:
        twin_column = _network_column(twin, opened, fold_over)
        columns = [twin_column, columns[0]] if twin.config.plain else [columns[0], twin_column]
        main = 1 if twin.config.plain else 0
    if vgg:
        columns.insert(0, _vgg_column(summary.config))
        main += 1
    folded = tuple(sorted({item.row for column in columns for item in column.items if item.kind == "fold"}))
    return _place(columns, main, folded)


def _shape(row: "LayerRow") -> tuple[int, ...]:
    return tuple(row.output_shape[1:])


def _network_column(summary: "Summary", opened: frozenset[str], fold_over: int) -> _Column:
    config = summary.config
    rows = {row.name: row for row in summary.rows}
    convs: dict[str, list[LayerRow]] = collections.defaultdict(list)  # a block's convs on its main path
    for row in summary.rows:
        parts = row.name.split(".")
        if row.is_leaf and row.type == "Conv2d" and len(parts) == 3 and parts[0].startswith("layer"):
            convs[f"{parts[0]}.{parts[1]}"].append(row)
    top = [row for row in summary.rows if row.depth == 1 and row.is_leaf]
    column = _Column(config.label, (f"{count(summary.total_macs)} MACs · {params_text(summary.total_params)} "
                                    "parameters",))
    stem = [row for row in top if row.type in ("Conv2d", "MaxPool2d")]
    _add_layers(column, stem, stem_layers(config))
    for stage, blocks in enumerate(config.blocks_per_stage()):
        name = f"layer{stage + 1}"
        foldable = blocks > fold_over
        folded = foldable and name not in opened
        paper = table1_stage_name(config, stage)
        caption = f"{name}{f' ({paper})' if paper else ''} · {blocks} block{'s' * (blocks > 1)}"
        if foldable:
            caption += ": click to open" if folded else ": click to fold"
        for index in range(1 if folded else blocks):
            block = f"{name}.{index}"
            first = len(column.items)
            _add_layers(column, convs[block], block_layers(config, stage, index))
            if index == 0:
                column.items[first].caption, column.items[first].stage = caption, name if foldable else ""
            if not config.plain:
                column.shortcuts.append(_shortcut(config, rows, block, first, len(column.items) - 1,
                                                  column.items[first - 1].output))
        if folded:
            _add_fold(column, config, rows, stage, blocks)
    _add_layers(column, [row for row in top if row.type in ("AdaptiveAvgPool2d", "Linear")], head_layers(config))
    return column


def _add_layers(column: _Column, rows: list["LayerRow"], specs) -> None:
    if len(rows) != len(specs):  # the builder and model_config disagree: a bug, never a person's doing
        raise ValueError(f"the summary has {len(rows)} layers where the paper's table has {len(specs)}")
    for row, spec in zip(rows, specs):
        column.items.append(_Item(row.name, spec.figure_text, _shape(row), row.params, row.macs))


def _add_fold(column: _Column, config: ModelConfig, rows: dict, stage: int, blocks: int) -> None:
    """Blocks 1 … n-1 of a stage as one box and one arc: they are alike (same shapes, same shortcut)."""
    name = f"layer{stage + 1}"
    inside = [rows[f"{name}.{index}"] for index in range(1, blocks)]
    detail = " · ".join(spec.table_text for spec in block_layers(config, stage, 1))
    index = len(column.items)
    column.items.append(_Item(
        name, f"× {blocks - 1} blocks", _shape(inside[-1]), sum(r.params for r in inside),
        sum(r.macs for r in inside), kind="fold", detail=detail, first_block=1, blocks=blocks - 1))
    if not config.plain:
        one = _shortcut(config, rows, f"{name}.1", index, index, column.items[index - 1].output)
        downsample = [rows.get(f"{name}.{i}.downsample") for i in range(1, blocks)]
        column.shortcuts.append(dataclasses.replace(
            one, row=name, count=blocks - 1, label=f"{one.label} × {blocks - 1}".strip(),
            params=sum(r.params for r in downsample if r), macs=sum(r.macs for r in downsample if r)))


def _shortcut(config: ModelConfig, rows: dict, block: str, first: int, last: int,
              given: tuple[int, ...]) -> _Shortcut:
    """A block's shortcut, as the built network has it: no ``downsample`` is the identity, a zero-padding one is
    option A, any other a projection (B where the shape changes, C everywhere)."""
    downsample = rows.get(f"{block}.downsample")
    output = _shape(rows[block])
    if downsample is None:
        return _Shortcut(first, last, block, IDENTITY, "", output, 0, 0)
    stride = given[1] // output[1] if len(given) == 3 and output[1] else 1
    halved = f", /{stride}" if stride > 1 else ""
    if downsample.type == "ZeroPadShortcut":
        return _Shortcut(first, last, downsample.name, ZERO_PAD, f"A: zero-pad{halved}", output, 0, 0)
    label = f"{config.shortcut}: 1×1 conv, {output[0]}{halved}"
    return _Shortcut(first, last, downsample.name, PROJECTION, label, output, downsample.params, downsample.macs)


def _vgg_column(config: ModelConfig) -> _Column:
    """Figure 3's reference: VGG-19 on this network's input, from its spec (it has no layer table)."""
    costs = layer_costs(vgg19_layers(config.num_classes), config.input_size)
    macs, params = sum(c.macs for c in costs), sum(c.params for c in costs)
    notes = [f"{count(macs)} MACs · {params_text(params)} parameters"]
    paper = paper_figure3_gmacs("vgg-19")
    if config.input_size == 224 and config.num_classes == 1000 and paper is not None:
        notes.append(f"Figure 3: {paper} billion multiply-adds")
    column = _Column("VGG-19", tuple(notes))
    for cost in costs:
        column.items.append(_Item("", cost.spec.figure_text, cost.output, cost.params, cost.macs))
    return column


def _place(columns: list[_Column], main: int, folded: tuple[str, ...]) -> Layout:
    """Rows of boxes banded by output size (Figure 3's "output size: 56"), each band as tall as its tallest
    column, so the same sizes line up across the networks."""
    bands = sorted({item.band for column in columns for item in column.items}, reverse=True)
    tops: dict[int, float] = {}
    end = MARGIN + TITLE_H
    rules = []
    for band in bands:
        tops[band] = end
        end += max(sum(_slot(item) for item in column.items if item.band == band) for column in columns) + BAND_GAP
        rules.append(end - BAND_GAP / 2)
    texts = [Text(f"output size\n{band} × {band}", MARGIN, tops[band], BAND_W - 8, 2 * LINE_H, "band")
             for band in bands]
    boxes, arcs, links = [], [], []
    left = MARGIN + BAND_W
    for index, column in enumerate(columns):
        centre = left + BOX_W / 2
        width = COLUMN_W if column.shortcuts or index == main else BARE_W
        texts.append(Text(column.title, left, MARGIN, width, LINE_H + 4, "title"))
        texts += [Text(note, left, MARGIN + LINE_H + 4 + i * LINE_H, width, LINE_H, "note")
                  for i, note in enumerate(column.notes)]
        placed = []
        cursor: dict[int, float] = dict(tops)
        for item in column.items:
            y = cursor[item.band]
            if item.caption:  # a twin keeps the room, so its boxes stay level with the network's
                if index == main:
                    texts.append(Text(item.caption, centre + 8, y, COLUMN_W - BOX_W / 2 - 8, CAPTION_H - GAP / 2, "caption",
                                      item.stage))
                y += CAPTION_H
            box = Box(index, item.row, item.label, left, y, BOX_W, item.height, item.output, item.params,
                      item.macs, item.kind, item.detail, item.first_block, item.blocks)
            if placed:
                links.append(Link(centre, placed[-1].y + placed[-1].height, y))
            placed.append(box)
            cursor[item.band] = y + item.height + GAP
        boxes += placed
        arcs += [Arc(index, s.row, s.kind, s.label, centre, left + BOX_W, placed[s.first].y - GAP / 2,
                     placed[s.last].y + placed[s.last].height + GAP / 2, s.output, s.params, s.macs, s.count)
                 for s in column.shortcuts]
        left += width
    width = left + MARGIN
    return Layout(tuple(boxes), tuple(arcs), tuple(texts), tuple(links), tuple(rules[:-1]), width, end + MARGIN,
                  tuple(c.title for c in columns), main, folded)


def _slot(item: _Item) -> float:
    return item.height + GAP + (CAPTION_H if item.caption else 0)
