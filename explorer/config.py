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

from explorer.limits import (
    MAX_BATCH_SIZE, MAX_DEPTH, MAX_IMAGES, MAX_INPUT_SIZE, MAX_ITERATIONS, MAX_LR, MAX_NUM_CLASSES, MAX_SEED,
    MAX_SYNTHETIC_IMAGES, MAX_WEIGHT_DECAY, boolean, choice, number, whole,
)

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
        choice("family", self.family, FAMILIES)
        if self.stages is not None:
            stages = tuple(self.stages) if isinstance(self.stages, (tuple, list)) else (self.stages,)
            if len(stages) != FAMILY_NUM_STAGES[self.family] or not all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_DEPTH for s in stages
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
            "shortcut": FAMILY_DEFAULT_SHORTCUT[self.family],
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
        choice("family", self.family, FAMILIES)
        choice("block", self.block, BLOCKS)
        choice("shortcut", self.shortcut, SHORTCUTS)
        choice("stride-on", self.stride_on, STRIDE_ON)
        for name in ("preact", "plain", "zero_init_residual"):
            boolean(name.replace("_", "-"), getattr(self, name))
        whole("num-classes", self.num_classes, 2, MAX_NUM_CLASSES)
        minimum = FAMILY_STRIDE[self.family]
        if isinstance(self.input_size, int) and not isinstance(self.input_size, bool) and self.input_size < minimum:
            raise ValueError(
                f"input-size {self.input_size} is too small for the {self.family} family, which downsamples "
                f"{minimum}x; use at least {minimum}"
            )
        whole("input-size", self.input_size, minimum, MAX_INPUT_SIZE)
        whole("depth", self.depth, 1, MAX_DEPTH)
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

    @property
    def label(self) -> str:
        """The name as the paper's figures print it: ``plain-20``, ``ResNet-56``, ``Pre-ResNet-164``."""
        kind = "plain" if self.plain else ("Pre-ResNet" if self.preact else "ResNet")
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


DATASETS = ("cifar10", "cifar100", "synthetic")
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "synthetic": "synthetic"}
DATASET_CLASSES = {"cifar10": 10, "cifar100": 100, "synthetic": 10}
SPLITS = ("test", "val")
COMPARES = ("both", "plain", "residual")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class DataConfig:
    """What the trainer reads. ``split='test'`` trains on all 50k and tests on the 10k test set (Figure 6);
    ``'val'`` is the paper's 45k/5k train/validation split. ``data_dir=None`` is the per-user cache folder."""

    dataset: str = "cifar10"
    data_dir: str | None = None  # CIFAR: the folder its archive is kept in (None: the per-user cache)
    split: str = "test"
    train_subset: int | None = None
    augment: bool = True
    synthetic_size: int = 10000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        choice("dataset", self.dataset, DATASETS)
        choice("split", self.split, SPLITS)
        boolean("augment", self.augment)
        if self.train_subset is not None:
            whole("train-subset", self.train_subset, 1, MAX_IMAGES)
        whole("synthetic-size", self.synthetic_size, 20, MAX_SYNTHETIC_IMAGES)
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir.strip()):
            raise ValueError(f"data-dir {self.data_dir!r} must be a folder path")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        return cls(**_known_fields(cls, data, "data"))


def default_milestones(iterations: int) -> tuple[int, ...]:
    """The lr drops at 50% and 75% of the run, as the paper's 32k and 48k of 64k."""
    return tuple(sorted({m for m in (iterations // 2, iterations * 3 // 4) if 1 <= m < iterations}))


def cadence(iterations: int) -> dict[str, int]:
    """How often a run of ``iterations`` steps logs, evaluates and checkpoints, when not told otherwise.

    About 200 training points (every 50 iterations at most, the paper's 64k giving 1,280), 10 to 100 test
    evaluations (each costs about as much as a few dozen training steps, so short runs evaluate less often),
    aligned to the logging so test and training points meet, and a checkpoint every quarter, at most every 1,000.
    """
    log_every = max(1, min(50, iterations // 200))
    evaluations = min(100, max(10, iterations // 50))
    eval_every = max(log_every, iterations // evaluations // log_every * log_every)
    return {"log_every": log_every, "eval_every": eval_every,
            "checkpoint_every": min(1000, max(1, iterations // 4))}


@dataclass(frozen=True)
class TrainConfig:
    """The recipe (paper §4.2 by default) and what to compare. ``warmup_lr`` is used until the training error
    falls below ``warmup_until_error`` for nets of ``warmup_min_depth`` layers or more (ResNet-110: 0.01 until
    < 80%). ``milestones``, ``log_every``, ``eval_every`` and ``checkpoint_every`` left at None follow from the
    iterations (:func:`default_milestones`, :func:`cadence`); what was used is what ``config.json`` records."""

    compare: str = "both"
    depths: tuple[int, ...] = ()
    iterations: int = 64000
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] | None = None
    gamma: float = 0.1
    warmup_lr: float = 0.01
    warmup_until_error: float = 0.8
    warmup_min_depth: int = 110
    eval_every: int | None = None
    log_every: int | None = None
    checkpoint_every: int | None = None
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.depths, (tuple, list)):
            raise ValueError(f"depths {self.depths!r} must be a list of depths")
        object.__setattr__(self, "depths", tuple(self.depths))
        whole("iterations", self.iterations, 1, MAX_ITERATIONS)  # the defaults below are derived from it
        if self.milestones is None:
            object.__setattr__(self, "milestones", default_milestones(self.iterations))
        elif not isinstance(self.milestones, (tuple, list)):
            raise ValueError(f"milestones {self.milestones!r} must be a list of iteration numbers")
        object.__setattr__(self, "milestones", tuple(self.milestones))
        for name, value in cadence(self.iterations).items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        self.validate()

    def validate(self) -> None:
        choice("compare", self.compare, COMPARES)
        choice("device", self.device, DEVICES)
        choice("precision", self.precision, PRECISIONS)
        for d in self.depths:
            whole("depths", d, 1, MAX_DEPTH)
        whole("iterations", self.iterations, 1, MAX_ITERATIONS)
        whole("batch-size", self.batch_size, 1, MAX_BATCH_SIZE)
        for option, value in (("log-every", self.log_every), ("eval-every", self.eval_every),
                              ("checkpoint-every", self.checkpoint_every)):
            whole(option, value, 1, MAX_ITERATIONS)
        whole("warmup-min-depth", self.warmup_min_depth, 1, MAX_DEPTH)
        whole("seed", self.seed, 0, MAX_SEED)
        number("lr", self.lr, 0.0, MAX_LR, above_minimum=True)
        number("momentum", self.momentum, 0.0, 1.0, below_maximum=True)
        number("weight-decay", self.weight_decay, 0.0, MAX_WEIGHT_DECAY)
        number("gamma", self.gamma, 0.0, 1.0, above_minimum=True)
        number("warmup-lr", self.warmup_lr, 0.0, MAX_LR, above_minimum=True)
        number("warmup-until-error", self.warmup_until_error, 0.0, 1.0, above_minimum=True)
        for m in self.milestones:
            whole("milestones", m, 1, MAX_ITERATIONS)
            if m > self.iterations:
                raise ValueError(f"milestones {m:,} is beyond the {self.iterations:,} iterations of the run; use "
                                 f"iterations from 1 to {self.iterations:,}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones {list(self.milestones)} must be increasing iteration numbers")
        boolean("channels-last", self.channels_last)

    @property
    def kept_iterations(self) -> tuple[int, ...]:
        """The checkpoints kept for analysis beside the latest one: the start, each lr drop and the end."""
        return tuple(sorted({0, *self.milestones, self.iterations}))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

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
    """Everything a training run needs: what ``config.json`` holds. ``model`` is the template every network of
    the run is made from (the Architecture tab's choice); ``train.depths`` (``model.depth`` when empty) and
    ``train.compare`` say which networks (the Training tab's choice). Every network is validated on
    construction, so a depth that does not fit the family fails before any folder exists. ``name=None`` is
    :meth:`default_name`."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str | None = None

    def __post_init__(self) -> None:
        for part, kind in ((self.model, ModelConfig), (self.data, DataConfig), (self.train, TrainConfig)):
            if not isinstance(part, kind):
                raise ValueError(f"{kind.__name__} expected, not {type(part).__name__}")
        for depth in self.depths:
            self.model.replace(depth=depth, stages=None, num_classes=self.num_classes)  # raises the depth's sentence
        if self.name is None:
            object.__setattr__(self, "name", self.default_name())
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name {self.name!r} must be a non-empty text")

    @property
    def depths(self) -> tuple[int, ...]:
        depths = self.train.depths if self.train.depths else (self.model.depth,)
        return tuple(sorted(set(depths)))

    def model_configs(self) -> list[ModelConfig]:
        """The networks this run trains, plain ones first, each depth ascending (one label per network); their
        classifiers have as many outputs as the data has classes."""
        kinds = {"both": (True, False), "plain": (True,), "residual": (False,)}[self.train.compare]
        classes = self.num_classes
        return [self.model.replace(depth=d, plain=p, stages=None, num_classes=classes) for p in kinds
                for d in self.depths]

    @property
    def num_classes(self) -> int:
        return DATASET_CLASSES.get(self.data.dataset, self.model.num_classes)

    def default_name(self) -> str:
        """``synthetic-plain-vs-resnet-20-56``: the dataset, the kinds of network and their depths."""
        residual = "preresnet" if self.model.preact else "resnet"
        kinds = {"both": f"plain-vs-{residual}", "plain": "plain", "residual": residual}[self.train.compare]
        return f"{self.data.dataset}-{kinds}-{'-'.join(map(str, self.depths))}"

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model.to_dict(), "data": self.data.to_dict(),
                "train": self.train.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        _known_fields(cls, data, "run")
        name = data.get("name")
        return cls(
            model=ModelConfig.from_dict(data.get("model", {})),
            data=DataConfig.from_dict(data.get("data", {})),
            train=TrainConfig.from_dict(data.get("train", {})),
            name=None if name is None else str(name),
        )

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("config must be a JSON object")
        try:
            return cls.from_dict(data)
        except TypeError as exc:  # e.g. a list where a number belongs, deep inside a dataclass
            raise ValueError(f"config has a value of the wrong type ({exc})") from None


def _known_fields(cls: type, data: Mapping[str, Any], section: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{section} config must be a JSON object, not {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{section} config has unknown option {unknown[0]!r}; known: {', '.join(sorted(names))}")
    return dict(data)
