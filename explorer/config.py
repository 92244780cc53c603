"""The one configuration source: frozen ModelConfig / DataConfig / TrainConfig, their validation and JSON form.

No torch here: the GUI validates what a person types without loading torch, and the CLI, the trainer and the
run directory all read and write these same objects. Every bad value raises ``ValueError`` whose message names
the option, the value and what is allowed, so the CLI and the GUI can show it to a person as it is.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

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

LAYERS_PER_BLOCK = {"basic": 2, "bottleneck": 3}


def _choice(option: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{option} {value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def _positive_int(option: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{option} {value!r} must be a whole number of at least {minimum}")


def _bool(option: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{option} {value!r} must be true or false")


def depth_presets(family: str, block: str) -> tuple[int, ...]:
    """The depths a person is offered for a family and block type."""
    if family == "imagenet":
        return tuple(d for d, s in IMAGENET_STAGES.items() if default_block(family, d) == block)
    return CIFAR_BASIC_PRESETS if block == "basic" else CIFAR_BOTTLENECK_PRESETS


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

    def __post_init__(self) -> None:
        _choice("family", self.family, FAMILIES)
        if self.stages is not None:
            stages = tuple(self.stages)
            if len(stages) != FAMILY_NUM_STAGES[self.family] or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in stages
            ):
                raise ValueError(
                    f"stages {list(stages)!r} must be {FAMILY_NUM_STAGES[self.family]} block counts of at least 1 "
                    f"for the {self.family} family"
                )
            object.__setattr__(self, "stages", stages)
        fills = {
            "depth": 20 if self.family == "cifar" else 18,
            "num_classes": FAMILY_DEFAULT_CLASSES[self.family],
            "input_size": FAMILY_DEFAULT_INPUT[self.family],
            "shortcut": "A" if self.family == "cifar" else "B",
        }
        if self.depth is None and self.stages is not None:
            fills["depth"] = LAYERS_PER_BLOCK[self.block or "basic"] * sum(self.stages) + 2
        for name, value in fills.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.block is None:
            object.__setattr__(self, "block", default_block(self.family, self.depth))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad option; otherwise return None."""
        _choice("family", self.family, FAMILIES)
        _choice("block", self.block, BLOCKS)
        _choice("shortcut", self.shortcut, SHORTCUTS)
        _choice("stride-on", self.stride_on, STRIDE_ON)
        for name in ("preact", "plain", "zero_init_residual"):
            _bool(name.replace("_", "-"), getattr(self, name))
        _positive_int("num-classes", self.num_classes, 2)
        minimum = FAMILY_STRIDE[self.family]
        if isinstance(self.input_size, int) and not isinstance(self.input_size, bool) and self.input_size < minimum:
            raise ValueError(
                f"input-size {self.input_size} is too small for the {self.family} family, which downsamples "
                f"{minimum}x; use at least {minimum}"
            )
        _positive_int("input-size", self.input_size, minimum)
        _positive_int("depth", self.depth, 1)
        self.blocks_per_stage()

    def blocks_per_stage(self) -> tuple[int, ...]:
        """Blocks in each stage; raises ValueError when the depth does not fit the family and block."""
        per_block = LAYERS_PER_BLOCK[self.block]
        if self.stages is not None:
            implied = per_block * sum(self.stages) + 2
            if self.depth != implied:
                raise ValueError(
                    f"depth {self.depth} does not match stages {list(self.stages)}, which give "
                    f"{implied} weighted layers with {self.block} blocks"
                )
            return self.stages
        if self.family == "imagenet":
            if self.depth not in IMAGENET_STAGES:
                raise ValueError(
                    f"depth {self.depth} is not an ImageNet ResNet; try {', '.join(map(str, IMAGENET_PRESETS))}"
                )
            expected = default_block("imagenet", self.depth)
            if self.block != expected:
                raise ValueError(
                    f"block {self.block!r} does not fit ImageNet depth {self.depth}, which uses {expected} blocks; "
                    f"try depth {', '.join(map(str, depth_presets('imagenet', self.block)))}"
                )
            return IMAGENET_STAGES[self.depth]
        layers_per_stage = 3 * per_block  # three stages of n blocks: depth = 3 * per_block * n + 2
        n, rest = divmod(self.depth - 2, layers_per_stage)
        if rest or n < 1:
            formula = f"{layers_per_stage}n+2"
            presets = depth_presets("cifar", self.block)
            other = "bottleneck" if self.block == "basic" else "basic"
            raise ValueError(
                f"depth {self.depth} is not {formula} for cifar {self.block} blocks; "
                f"try {', '.join(map(str, presets))} (or block {other} for "
                f"{', '.join(map(str, depth_presets('cifar', other)))})"
            )
        return (n,) * 3

    @property
    def name(self) -> str:
        """The label the paper uses: ``plain-20``, ``resnet-56``; pre-activation nets read ``preresnet-164``."""
        kind = "plain" if self.plain else ("preresnet" if self.preact else "resnet")
        return f"{kind}-{self.depth}"

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stages"] = list(self.stages) if self.stages is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        return cls(**_known_fields(cls, data, "model"))


DATASETS = ("cifar10", "synthetic")
SPLITS = ("test", "val")
COMPARES = ("both", "plain", "residual")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class DataConfig:
    """What the trainer reads. ``split='test'`` trains on all 50k and tests on the 10k test set (Figure 6);
    ``'val'`` is the paper's 45k/5k train/validation split. ``data_dir=None`` is the per-user cache folder."""

    dataset: str = "cifar10"
    data_dir: str | None = None
    split: str = "test"
    train_subset: int | None = None
    augment: bool = True
    synthetic_size: int = 10000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _choice("dataset", self.dataset, DATASETS)
        _choice("split", self.split, SPLITS)
        _bool("augment", self.augment)
        if self.train_subset is not None:
            _positive_int("train-subset", self.train_subset, 1)
        _positive_int("synthetic-size", self.synthetic_size, 20)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ValueError(f"data-dir {self.data_dir!r} must be a folder path")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        return cls(**_known_fields(cls, data, "data"))


@dataclass(frozen=True)
class TrainConfig:
    """The recipe (paper §4.2 by default) and what to compare. ``warmup_lr`` is used until the training error
    falls below ``warmup_until_error`` for nets of ``warmup_min_depth`` layers or more (ResNet-110: 0.01 until
    < 80%). ``eval_every=None`` evaluates once per epoch."""

    compare: str = "both"
    depths: tuple[int, ...] = ()
    iterations: int = 64000
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (32000, 48000)
    gamma: float = 0.1
    warmup_lr: float = 0.01
    warmup_until_error: float = 0.8
    warmup_min_depth: int = 110
    eval_every: int | None = None
    log_every: int = 50
    checkpoint_every: int = 1000
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(self.depths))
        object.__setattr__(self, "milestones", tuple(self.milestones))
        self.validate()

    def validate(self) -> None:
        _choice("compare", self.compare, COMPARES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        for d in self.depths:
            _positive_int("depths", d, 1)
        _positive_int("iterations", self.iterations, 1)
        _positive_int("batch-size", self.batch_size, 1)
        _positive_int("log-every", self.log_every, 1)
        _positive_int("checkpoint-every", self.checkpoint_every, 1)
        _positive_int("warmup-min-depth", self.warmup_min_depth, 1)
        if self.eval_every is not None:
            _positive_int("eval-every", self.eval_every, 1)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed {self.seed!r} must be a whole number of at least 0")
        for option, value, low in (
            ("lr", self.lr, 0.0),
            ("momentum", self.momentum, 0.0),
            ("weight-decay", self.weight_decay, 0.0),
            ("gamma", self.gamma, 0.0),
            ("warmup-lr", self.warmup_lr, 0.0),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low or value != value:
                raise ValueError(f"{option} {value!r} must be a number of at least {low:g}")
            if value == float("inf"):
                raise ValueError(f"{option} {value!r} must be finite")
        if self.lr <= 0:
            raise ValueError(f"lr {self.lr!r} must be greater than 0")
        if self.momentum >= 1:
            raise ValueError(f"momentum {self.momentum!r} must be below 1")
        if not 0 < self.warmup_until_error <= 1:
            raise ValueError(f"warmup-until-error {self.warmup_until_error!r} must be in (0, 1]")
        for m in self.milestones:
            _positive_int("milestones", m, 1)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones {list(self.milestones)} must be increasing iteration numbers")
        _bool("channels-last", self.channels_last)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["depths"] = list(self.depths)
        data["milestones"] = list(self.milestones)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        return cls(**_known_fields(cls, data, "train"))


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs: what ``config.json`` holds. ``model.depth`` is used when
    ``train.depths`` is empty."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "run"

    def model_configs(self) -> list[ModelConfig]:
        """The networks this run trains, plain ones first, each depth ascending (one label per network)."""
        depths = sorted(set(self.train.depths or (self.model.depth,)))
        kinds = {"both": (True, False), "plain": (True,), "residual": (False,)}[self.train.compare]
        return [self.model.replace(depth=d, plain=p, stages=None) for p in kinds for d in depths]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model.to_dict(), "data": self.data.to_dict(),
                "train": self.train.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        _known_fields(cls, data, "run")
        return cls(
            model=ModelConfig.from_dict(data.get("model", {})),
            data=DataConfig.from_dict(data.get("data", {})),
            train=TrainConfig.from_dict(data.get("train", {})),
            name=str(data.get("name", "run")),
        )

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("config must be a JSON object")
        return cls.from_dict(data)


def _known_fields(cls: type, data: Mapping[str, Any], section: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{section} config must be a JSON object, not {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{section} config has unknown option {unknown[0]!r}; known: {', '.join(sorted(names))}")
    return dict(data)
