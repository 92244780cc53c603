"""The paper's layers as data: each layer of a network as Table 1 and Figure 3 write it ("3×3, 64",
"7×7 conv, 64, /2"), their output sizes and costs, the rows of Table 1, and VGG-19 (Figure 3's reference
column). The Architecture tab's Table-1 text and its diagram print these; the builder (explorer/models) makes the
same layers, and tests/test_layer_specs.py holds the two equal over the option space. Pure: no torch, no Qt."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.config.model import FAMILY_NUM_STAGES, FAMILY_WIDTHS, ModelConfig


TABLE1_WORDS = {"conv": "{k}×{k}, {w}{s}", "max pool": "{k}×{k} max pool{s}", "avg pool": "average pool",
                "fc": "{w}-d fc", "stride": ", stride {}"}
FIGURE3_WORDS = {"conv": "{k}×{k} conv, {w}{s}", "max pool": "pool{s}", "avg pool": "avg pool", "fc": "fc {w}",
                 "stride": ", /{}"}


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the paper's Table 1 and Figure 3 write it ("3×3, 64", "7×7 conv, 64, /2"): what the Table-1
    text of the Architecture tab and its diagram print, from one place. The builder (explorer/models) makes the
    same layers; tests/test_layer_specs.py holds the two equal over the option space."""

    kind: str  # "conv", "max pool", "avg pool" (global), "fc"
    kernel: int  # 0 for the global average pool and the fc layer
    width: int  # output channels; the fc layer's outputs
    stride: int = 1
    bias: bool = False  # VGG's convs and every fc layer have one; ResNet's convs do not (BN follows them)

    @property
    def table_text(self) -> str:
        """Table 1's words: "3×3, 64", "7×7, 64, stride 2", "3×3 max pool, stride 2", "average pool", "1000-d fc"."""
        return self._words(TABLE1_WORDS)

    @property
    def figure_text(self) -> str:
        """Figure 3's words: "3×3 conv, 128, /2", "pool, /2", "avg pool", "fc 1000"."""
        return self._words(FIGURE3_WORDS)

    def _words(self, words: dict[str, str]) -> str:
        stride = words["stride"].format(self.stride) if self.stride > 1 else ""
        return words[self.kind].format(k=self.kernel, w=self.width, s=stride)

    def output_size(self, size: int) -> int:
        """The output side of a ``size`` input: 'same' padding for convs and ResNet's 3×3 pool, floor for VGG's
        2×2 pools (no padding), 1 for the global pool and the fc layer."""
        if self.kind in ("avg pool", "fc"):
            return 1
        if self.kind == "max pool" and self.kernel == self.stride:
            return size // self.stride
        return (size - 1) // self.stride + 1


@dataclass(frozen=True)
class LayerCost:
    """A LayerSpec applied to an input: its output (C, H, W), or (outputs,) for an fc layer, parameters, MACs."""

    spec: LayerSpec
    output: tuple[int, ...]
    params: int
    macs: int


def stage_widths(config: ModelConfig) -> tuple[int, ...]:
    """The filters of each stage's 3×3 convs: 16/32/64 (CIFAR, §4.2), 64 to 512 (Table 1)."""
    return tuple(FAMILY_WIDTHS[config.family] * 2**i for i in range(FAMILY_NUM_STAGES[config.family]))


def stem_layers(config: ModelConfig) -> tuple[LayerSpec, ...]:
    """What comes before the first stage: one 3×3 conv (CIFAR), or Table 1's 7×7/2 conv and 3×3/2 max pool."""
    width = FAMILY_WIDTHS[config.family]
    if config.family == "cifar":
        return (LayerSpec("conv", 3, width),)
    return LayerSpec("conv", 7, width, 2), LayerSpec("max pool", 3, width, 2)


def block_layers(config: ModelConfig, stage: int, index: int) -> tuple[LayerSpec, ...]:
    """The convs on the main path of block ``index`` of ``stage`` (both from 0), in order. The first block of
    every stage but the first downsamples; a bottleneck does it on the conv ``stride_on`` names."""
    width = stage_widths(config)[stage]
    stride = 2 if stage and index == 0 else 1
    if config.block == "basic":
        return LayerSpec("conv", 3, width, stride), LayerSpec("conv", 3, width)
    first, middle = (stride, 1) if config.stride_on == "1x1" else (1, stride)
    return LayerSpec("conv", 1, width, first), LayerSpec("conv", 3, width, middle), LayerSpec("conv", 1, 4 * width)


def head_layers(config: ModelConfig) -> tuple[LayerSpec, ...]:
    """The global average pool and the fc layer."""
    width = stage_widths(config)[-1] * (1 if config.block == "basic" else 4)
    return LayerSpec("avg pool", 0, width), LayerSpec("fc", 0, config.num_classes, bias=True)


def table1_stage_name(config: ModelConfig, stage: int) -> str | None:
    """Table 1's name of a stage ("conv2_x" for layer1); the CIFAR nets' stages have none in the paper."""
    return f"conv{stage + 2}_x" if config.family == "imagenet" else None


# VGG-19 (Simonyan & Zisserman, configuration E), the reference column of the paper's Figure 3: (width, convs)
# per group, each group followed by a 2×2 max pool; then fc 4096, fc 4096, fc classes.
VGG19_GROUPS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
VGG19_FC = (4096, 4096)


def vgg19_layers(num_classes: int = 1000) -> tuple[LayerSpec, ...]:
    layers: list[LayerSpec] = []
    for width, convs in VGG19_GROUPS:
        layers += [LayerSpec("conv", 3, width, bias=True)] * convs + [LayerSpec("max pool", 2, width, 2)]
    return (*layers, *(LayerSpec("fc", 0, width, bias=True) for width in (*VGG19_FC, num_classes)))


def layer_costs(layers: tuple[LayerSpec, ...], size: int, channels: int = 3) -> tuple[LayerCost, ...]:
    """Each layer's output, parameters and multiply-accumulates for one ``size``×``size`` image of ``channels``
    (the paper's "FLOPs": one per weight per output position; an fc layer reads everything before it)."""
    costs = []
    features = channels * size * size
    for spec in layers:
        if spec.kind == "fc":
            params, macs, output = features * spec.width, features * spec.width, (spec.width,)
            features = spec.width
        else:
            size = spec.output_size(size)
            weights = spec.kernel * spec.kernel * channels * spec.width if spec.kind == "conv" else 0
            params, macs, output = weights, weights * size * size, (spec.width, size, size)
            channels, features = spec.width, spec.width * size * size
        costs.append(LayerCost(spec, output, params + (spec.width if spec.bias else 0), macs))
    return tuple(costs)


@dataclass(frozen=True)
class TableRow:
    """One row of the paper's Table 1 for a network: the stage's name, its output size (square) and its layers in
    the paper's words, repeated ``blocks`` times (1 for the stem, the pool and the classifier)."""

    stage: str
    size: int
    layers: tuple[str, ...]
    blocks: int = 1


def table1(config: ModelConfig) -> list[TableRow]:
    """The network as the paper's Table 1 draws it: the stem, each stage's output size and block, the head."""
    size = config.input_size
    rows = []
    for index, layer in enumerate(stem_layers(config)):
        size = layer.output_size(size)
        rows.append(TableRow("" if index else "conv1", size, (layer.table_text,)))
    for stage, blocks in enumerate(config.blocks_per_stage()):
        for layer in block_layers(config, stage, 0):  # the first block sets the stage's output size
            size = layer.output_size(size)
        rows.append(TableRow(f"layer{stage + 1}", size, tuple(layer.table_text for layer in
                                                              block_layers(config, stage, 1)), blocks))
    rows.append(TableRow("", 1, (", ".join(layer.table_text for layer in head_layers(config)),)))
    return rows


def kind_words(config: ModelConfig) -> str:
    """"plain", "residual" or "pre-activation residual"."""
    return "plain" if config.plain else ("pre-activation residual" if config.preact else "residual")
