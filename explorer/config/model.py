"""One network as data: the frozen ModelConfig, the architectures it can describe (families, blocks, depths,
shortcuts) and its validation. No torch here. Every bad value raises ``ValueError`` whose message names the
option, the value and what is allowed (``depth 21 is not 6n+2 for cifar basic blocks; try 20, 32 …``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from explorer.config.errors import ConfigError
from explorer.config.limits import MAX_DEPTH, MAX_INPUT_SIZE, MAX_NUM_CLASSES, boolean, choice, whole

FAMILIES = ("cifar", "imagenet")
BLOCKS = ("basic", "bottleneck")
SHORTCUTS = ("A", "B", "C")
STRIDE_ON = ("1x1", "3x3")

# Blocks per stage of the ImageNet nets of the paper's Table 1.
IMAGENET_STAGES: dict[int, tuple[int, ...]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
CIFAR_BASIC_PRESETS = (20, 32, 44, 56, 110, 1202)
CIFAR_BOTTLENECK_PRESETS = (164, 1001)
IMAGENET_PRESETS = tuple(IMAGENET_STAGES)

FAMILY_WIDTHS = {"cifar": 16, "imagenet": 64}  # width of the first stage; each later stage doubles it
FAMILY_NUM_STAGES = {"cifar": 3, "imagenet": 4}
FAMILY_STRIDE = {"cifar": 4, "imagenet": 32}  # total downsampling: the smallest input that still has 1 pixel left
FAMILY_DEFAULT_INPUT = {"cifar": 32, "imagenet": 224}
FAMILY_DEFAULT_CLASSES = {"cifar": 10, "imagenet": 1000}
FAMILY_DEFAULT_SHORTCUT = {"cifar": "A", "imagenet": "B"}  # what the paper uses for each family (§4.2, Table 1)

LAYERS_PER_BLOCK = {"basic": 2, "bottleneck": 3}


def depth_presets(family: str, block: str) -> tuple[int, ...]:
    """The depths a person is offered for a family and block type."""
    if family == "imagenet":
        return tuple(d for d, s in IMAGENET_STAGES.items() if default_block(family, d) == block)
    return CIFAR_BASIC_PRESETS if block == "basic" else CIFAR_BOTTLENECK_PRESETS


def comparison_depths(family: str, block: str) -> tuple[int, ...]:
    """The depths a comparison starts from: Figure 6's 20 and 56 for CIFAR basic blocks, else the first two of
    the presets (ImageNet 18 and 34, or 50 and 101), or 164 alone for CIFAR bottlenecks (1001 trains for days)."""
    if (family, block) == ("cifar", "basic"):
        return (20, 56)
    presets = depth_presets(family, block)
    return presets[:1] if (family, block) == ("cifar", "bottleneck") else presets[:2]


def depth_rule(family: str, block: str) -> str:
    """The depths a family and block allow, in the paper's words: "6n+2", "9n+2", or ImageNet's list."""
    if family == "cifar":
        return f"{3 * LAYERS_PER_BLOCK[block]}n+2"
    return "/".join(map(str, depth_presets(family, block)))


IMAGENET_WEIGHTS = "imagenet"


def imagenet_weights_problem(config: "ModelConfig") -> str:
    """Why torchvision has no ImageNet weights for ``config`` ("" when it has): it publishes them for the residual
    ImageNet nets of Table 1 with projection shortcuts (option B) and, for bottlenecks, the stride on the 3×3 conv
    (v1.5)."""
    if config.family != "imagenet" or config.depth not in IMAGENET_STAGES:
        return f"torchvision's ImageNet weights are for ImageNet ResNet-{'/'.join(map(str, IMAGENET_STAGES))}"
    if config.plain or config.preact:
        return "torchvision's ImageNet weights are for residual networks without pre-activation"
    if config.shortcut != "B":
        return "torchvision's ImageNet weights have projection shortcuts (shortcut B)"
    if config.block == "bottleneck" and config.stride_on != "3x3":
        return "torchvision's ImageNet weights downsample on the 3x3 conv (stride-on 3x3, v1.5)"
    return ""


def default_block(family: str, depth: int | None) -> str:
    """Basic blocks, except the ImageNet nets of depth 50 and more (Table 1)."""
    return "bottleneck" if family == "imagenet" and depth is not None and depth >= 50 else "basic"


@dataclass(frozen=True)
class ModelConfig:
    """One network. ``None`` means "the family's default" and is filled in on construction.

    ``stages`` (blocks per stage) is derived from ``depth``; giving it explicitly builds any stage counts, and
    the depth is then the weighted-layer count those stages give.
    """

    family: str = "cifar"
    depth: int | None = None
    block: str | None = None
    preact: bool = False
    plain: bool = False
    shortcut: str | None = None
    stride_on: str = "1x1"
    num_classes: int | None = None
    input_size: int | None = None
    zero_init_residual: bool = False
    stages: tuple[int, ...] | None = None
    weights: str | None = None  # where training starts: None from scratch, "imagenet", or a weights file's path

    def __post_init__(self) -> None:
        choice("family", self.family, FAMILIES)
        if self.block is not None:
            choice("block", self.block, BLOCKS)  # before the fills below use it
        if self.stages is not None:
            stages = tuple(self.stages) if isinstance(self.stages, (tuple, list)) else (self.stages,)
            if len(stages) != FAMILY_NUM_STAGES[self.family] or not all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_DEPTH for s in stages
            ):
                raise ConfigError("stages",
                    f"{list(stages)!r} must be {FAMILY_NUM_STAGES[self.family]} block counts of at least 1 "
                    f"for the {self.family} family"
                )
            object.__setattr__(self, "stages", stages)
        fills = {
            "depth": 20 if self.family == "cifar" else 18,
            "num_classes": FAMILY_DEFAULT_CLASSES[self.family],
            "input_size": FAMILY_DEFAULT_INPUT[self.family],
            "shortcut": FAMILY_DEFAULT_SHORTCUT[self.family],
        }
        if self.depth is None and self.stages is not None:
            fills["depth"] = LAYERS_PER_BLOCK[self.block or "basic"] * sum(self.stages) + 2
        for name, value in fills.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.block is None:
            object.__setattr__(self, "block", default_block(self.family, self.depth if isinstance(self.depth, int)
                                                            else None))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad option; otherwise return None."""
        choice("family", self.family, FAMILIES)
        choice("block", self.block, BLOCKS)
        choice("shortcut", self.shortcut, SHORTCUTS)
        choice("stride-on", self.stride_on, STRIDE_ON)
        for name in ("preact", "plain", "zero_init_residual"):
            boolean(name.replace("_", "-"), getattr(self, name))
        whole("num-classes", self.num_classes, 2, MAX_NUM_CLASSES)
        minimum = FAMILY_STRIDE[self.family]
        if isinstance(self.input_size, int) and not isinstance(self.input_size, bool) and self.input_size < minimum:
            raise ConfigError("input-size",
                f"{self.input_size} is too small for the {self.family} family, which downsamples "
                f"{minimum}x; use at least {minimum}"
            )
        whole("input-size", self.input_size, minimum, MAX_INPUT_SIZE)
        whole("depth", self.depth, 1, MAX_DEPTH)
        self.blocks_per_stage()
        if self.weights is not None:
            if not isinstance(self.weights, str) or not self.weights.strip():
                raise ConfigError("weights", f"{self.weights!r} must be imagenet or a weights file's path")
            if self.weights == IMAGENET_WEIGHTS:
                problem = imagenet_weights_problem(self)
                if problem:
                    raise ConfigError("weights", f"imagenet: {problem}")

    def blocks_per_stage(self) -> tuple[int, ...]:
        """Blocks in each stage; raises ValueError when the depth does not fit the family and block."""
        per_block = LAYERS_PER_BLOCK[self.block]
        if self.stages is not None:
            implied = per_block * sum(self.stages) + 2
            if self.depth != implied:
                raise ConfigError("depth",
                    f"{self.depth} does not match stages {list(self.stages)}, which give "
                    f"{implied} weighted layers with {self.block} blocks"
                )
            return self.stages
        if self.family == "imagenet":
            if self.depth not in IMAGENET_STAGES:
                raise ConfigError("depth",
                    f"{self.depth} is not an ImageNet ResNet; try {', '.join(map(str, IMAGENET_PRESETS))}"
                )
            expected = default_block("imagenet", self.depth)
            if self.block != expected:
                raise ConfigError("block",
                    f"{self.block!r} does not fit ImageNet depth {self.depth}, which uses {expected} blocks; "
                    f"try depth {', '.join(map(str, depth_presets('imagenet', self.block)))}"
                )
            return IMAGENET_STAGES[self.depth]
        layers_per_stage = 3 * per_block  # three stages of n blocks: depth = 3 * per_block * n + 2
        n, rest = divmod(self.depth - 2, layers_per_stage)
        if rest or n < 1:
            formula = depth_rule("cifar", self.block)
            presets = depth_presets("cifar", self.block)
            other = "bottleneck" if self.block == "basic" else "basic"
            raise ConfigError("depth",
                f"{self.depth} is not {formula} for cifar {self.block} blocks; "
                f"try {', '.join(map(str, presets))} (or block {other} for "
                f"{', '.join(map(str, depth_presets('cifar', other)))})"
            )
        return (n,) * 3

    @property
    def name(self) -> str:
        """The label the paper uses: ``plain-20``, ``resnet-56``; pre-activation nets read ``preresnet-164``; a
        network that starts from trained weights reads ``resnet-18-pretrained``."""
        kind = "plain" if self.plain else ("preresnet" if self.preact else "resnet")
        return f"{kind}-{self.depth}" + ("-pretrained" if self.weights else "")

    @property
    def label(self) -> str:
        """The name as the paper's figures print it: ``plain-20``, ``ResNet-56``, ``Pre-ResNet-164``;
        ``ResNet-18 (pretrained)``."""
        kind = "plain" if self.plain else ("Pre-ResNet" if self.preact else "ResNet")
        return f"{kind}-{self.depth}" + (" (pretrained)" if self.weights else "")

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stages"] = list(self.stages) if self.stages is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        return cls(**known_fields(cls, data, "model"))



def known_fields(cls: type, data: Mapping[str, Any], section: str) -> dict[str, Any]:
    """``data`` (a JSON object) as the fields of dataclass ``cls``; ValueError names an option it does not know."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{section} config must be a JSON object, not {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{section} config has unknown option {unknown[0]!r}; known: {', '.join(sorted(names))}")
    return dict(data)


def describe(model: ModelConfig) -> str:
    """A network family in a person's words: "CIFAR basic, shortcut A", "ImageNet bottleneck pre-activation,
    shortcut C" (the depth aside: the Training tab's template)."""
    family = {"cifar": "CIFAR", "imagenet": "ImageNet"}.get(model.family, model.family)
    kind = "plain" if model.plain else f"shortcut {model.shortcut}"
    return f"{family} {model.block}{' pre-activation' if model.preact else ''}, {kind}"


def depth_fits(model: ModelConfig, depth: int) -> bool:
    """Whether ``model``'s family, block and shortcut make a network of ``depth``."""
    try:
        model.replace(depth=depth, stages=None)
    except ValueError:
        return False
    return True
