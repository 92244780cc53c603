"""The one configuration source of a run: frozen DataConfig / TrainConfig / RunConfig (and the ModelConfig of
:mod:`explorer.config.model`), their validation and JSON form.

Pure: no torch, no disk, no Qt. The GUI validates what a person types without loading anything, and the CLI, the
trainer and the run directory all read and write these same objects. Every bad value raises
:class:`~explorer.config.errors.ConfigError`, naming the option apart from the sentence that says the value and
what is allowed, so the CLI and the GUI can each name the option their own way.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from explorer.config.errors import ConfigError
from explorer.config.limits import (
    MAX_BATCH_SIZE, MAX_DEPTH, MAX_IMAGES, MAX_INPUT_SIZE, MAX_NUM_CLASSES, MAX_ITERATIONS, MAX_LR, MAX_NETWORKS, MAX_SEED, MAX_SEEDS,
    MAX_SYNTHETIC_IMAGES, MAX_WEIGHT_DECAY, boolean, choice, number, whole,
)
from explorer.config.model import ModelConfig, known_fields


DATASETS = ("cifar10", "cifar100", "folder", "synthetic")
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "folder": "image folder", "synthetic": "synthetic"}
DATASET_CLASSES = {"cifar10": 10, "cifar100": 100, "synthetic": 10}
SPLITS = ("test", "val")
COMPARES = ("both", "plain", "residual")
STARTS = ("scratch", "pretrained", "both")  # where the residual networks start: from scratch, from weights, or both
# What a pretrained network trains, as the lr of its body (every layer but the classifier) over the run's lr: all
# layers alike, the classifier alone (the body's weights stay as loaded; its batch norms follow the new data), or
# the body ten times more slowly. Networks from scratch always train every layer at the run's lr.
FINE_TUNES = {"all": 1.0, "head": 0.0, "lower-body": 0.1}
# torchvision's ImageNet weights were trained on inputs normalised with these (per channel, of [0, 1] pixels)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class DataConfig:
    """What the trainer reads. ``split='test'`` trains on all 50k and tests on the 10k test set (Figure 6);
    ``'val'`` is the paper's 45k/5k train/validation split. ``data_dir=None`` is the per-user cache folder.
    ``dataset='folder'``: ``data_dir`` is a folder of one's own images, one subfolder per class
    (:mod:`explorer.data.folder_layout`); a run records its ``classes`` and ``image_size`` (RunConfig fills them)."""

    dataset: str = "cifar10"
    data_dir: str | None = None  # CIFAR: the folder its archive is kept in (None: the per-user cache)
    split: str = "test"
    train_subset: int | None = None
    augment: bool = True
    synthetic_size: int = 10000
    classes: int | None = None  # an image folder's class count, as counted when the run was made
    image_size: int | None = None  # an image folder's images are resized to this (the network's input size)
    # How the networks see the images, applied on the device: each channel normalised with ``mean`` and ``std``
    # (of [0, 1] pixels; None: the training set's per-pixel statistics, the paper's), and the images resized to
    # ``resize`` pixels a side (None: as stored). A run from pretrained weights records their preprocessing here.
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: int | None = None

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (tuple, list)) or len(value) != 3:
                    raise ConfigError(name, f"{value!r} must be three numbers, one per colour channel")
                object.__setattr__(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        choice("dataset", self.dataset, DATASETS)
        choice("split", self.split, SPLITS)
        boolean("augment", self.augment)
        if self.train_subset is not None:
            whole("train-subset", self.train_subset, 1, MAX_IMAGES)
        whole("synthetic-size", self.synthetic_size, 20, MAX_SYNTHETIC_IMAGES)
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir.strip()):
            raise ConfigError("data-dir", f"{self.data_dir!r} must be a folder path")
        if self.dataset == "folder" and self.data_dir is None:
            raise ConfigError("data-dir", "must name the image folder (one subfolder of images per class) when the "
                             "dataset is an image folder")
        if self.classes is not None:
            whole("classes", self.classes, 2, MAX_NUM_CLASSES)
        if self.image_size is not None:
            whole("image-size", self.image_size, 8, MAX_INPUT_SIZE)
        if self.resize is not None:
            whole("resize", self.resize, 8, MAX_INPUT_SIZE)
        for value in self.mean or ():
            number("mean", value, 0.0, 1.0)
        for value in self.std or ():
            number("std", value, 0.0, 1.0, above_minimum=True)
        if (self.mean is None) != (self.std is None):
            raise ConfigError("mean", "and std are given together or not at all", others=("std",))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("mean", "std"):
            data[name] = list(data[name]) if data[name] is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        return cls(**known_fields(cls, data, "data"))


def network_key(model: str, seed: int | None) -> str:
    """One network of a run: its model's name (``resnet-56``), and in a run of several seeds its seed
    (``resnet-56-seed3``); events carry the two apart (``model`` and ``seed``)."""
    return model if seed is None else f"{model}-seed{seed}"


def run_name(dataset: str, preact: bool, compare: str, depths: tuple[int, ...], start_from: str = "scratch") -> str:
    """A run's name when it is given none (``synthetic-plain-vs-resnet-20-56``), also for a draft that does not
    validate yet (the form's placeholder follows the dataset as it is switched)."""
    residual = "preresnet" if preact else "resnet"
    residual = {"pretrained": f"pretrained-{residual}", "both": f"scratch-vs-pretrained-{residual}"}.get(start_from,
                                                                                                          residual)
    kinds = {"both": f"plain-vs-{residual}", "plain": "plain", "residual": residual}.get(compare, compare)
    return f"{dataset}-{kinds}-{'-'.join(map(str, depths))}" if depths else f"{dataset}-{kinds}"


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


def check_scaler_free(train: "TrainConfig", precision: str, auto: bool = False) -> None:
    """CUDA graphs and fused networks need a step that never skips: fp16's gradient scaler skips a step on an
    overflow, decided on the host (which a captured graph cannot) and for one network (which a group cannot).
    ``precision`` is the one chosen, or the one ``auto`` chose on this machine."""
    if precision != "fp16":
        return
    chosen = " (precision auto chose fp16 on this GPU)" if auto else ""
    if train.cuda_graphs:
        raise ConfigError("cuda-graphs", f"works with precision bf16 or fp32{chosen} (fp16's gradient scaler skips "
                          "steps, which a captured graph cannot); choose one of those", others=("precision",))
    if train.fuse:
        raise ConfigError("fuse", f"works with precision bf16 or fp32{chosen} (fp16's gradient scaler skips a step "
                          "of one network, which a grouped network cannot); choose one of those, or leave fuse off",
                          others=("precision",))


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
    seeds: int = 1  # every network trained from seeds seed, seed+1, …: initialisation and data order per seed
    compile: bool = False  # torch.compile each network (opt-in: a minute of compiling before the first step)
    cuda_graphs: bool | None = None  # each network's whole step replayed from a CUDA graph; None: the device's default
    devices: tuple[str, ...] = ()  # spread the networks over these devices ("cuda:0", "cuda:1"); () = device
    sync_bn: bool = False  # under torchrun: batch norm statistics over the global batch, not each rank's part
    fuse: bool | None = None  # same-shape networks as one grouped network; None: the device's default (groups.py)
    deterministic: bool = False  # the same kernels in the same order every time: a resume is bit for bit exact
    start_from: str = "scratch"  # STARTS: from scratch, from pretrained weights, or each residual network both ways
    weights: str = "imagenet"  # the pretrained weights: torchvision's ImageNet ones, or a weights file's path
    fine_tune: str = "all"  # FINE_TUNES: what a pretrained network trains

    def __post_init__(self) -> None:
        for name in ("depths", "devices"):
            if not isinstance(getattr(self, name), (tuple, list)):
                raise ConfigError(name, f"{getattr(self, name)!r} must be a list")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        whole("iterations", self.iterations, 1, MAX_ITERATIONS)  # the defaults below are derived from it
        if self.milestones is None:
            object.__setattr__(self, "milestones", default_milestones(self.iterations))
        elif not isinstance(self.milestones, (tuple, list)):
            raise ConfigError("milestones", f"{self.milestones!r} must be a list of iteration numbers")
        object.__setattr__(self, "milestones", tuple(self.milestones))
        for name, value in cadence(self.iterations).items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        self.validate()

    def validate(self) -> None:
        choice("compare", self.compare, COMPARES)
        choice("start-from", self.start_from, STARTS)
        choice("fine-tune", self.fine_tune, tuple(FINE_TUNES))
        if not isinstance(self.weights, str) or not self.weights.strip():
            raise ConfigError("weights", f"{self.weights!r} must be imagenet or a weights file's path")
        if self.start_from != "scratch" and self.compare != "residual":
            raise ConfigError("start-from", f"{self.start_from} starts residual networks from trained weights; "
                              "their plain twins have none: choose compare residual", others=("compare",))
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
        whole("seeds", self.seeds, 1, MAX_SEEDS)
        if self.seed + self.seeds - 1 > MAX_SEED:
            raise ConfigError("seeds", f"{self.seeds} from seed {self.seed:,} go past {MAX_SEED:,}; start lower")
        for name in ("compile", "sync_bn", "deterministic"):
            boolean(name.replace("_", "-"), getattr(self, name))
        for name in ("fuse", "cuda_graphs"):  # None: the device's default (training/groups.py)
            if getattr(self, name) is not None:
                boolean(name.replace("_", "-"), getattr(self, name))
        for device in self.devices:
            if not isinstance(device, str) or not (device in ("cpu", "cuda", "mps") or
                                                   (device.startswith("cuda:") and device[5:].isdigit())):
                raise ConfigError("devices", f"{device!r} is not a device; write cpu, mps, cuda or cuda:N")
            if self.device != "auto" and device.partition(":")[0] != self.device:
                raise ConfigError("devices", f"{', '.join(self.devices)} and {{device}} {self.device} name different "
                                  "devices; leave out one of the two", others=("device",))
        check_scaler_free(self, self.precision)
        number("lr", self.lr, 0.0, MAX_LR, above_minimum=True)
        number("momentum", self.momentum, 0.0, 1.0, below_maximum=True)
        number("weight-decay", self.weight_decay, 0.0, MAX_WEIGHT_DECAY)
        number("gamma", self.gamma, 0.0, 1.0, above_minimum=True)
        number("warmup-lr", self.warmup_lr, 0.0, MAX_LR, above_minimum=True)
        number("warmup-until-error", self.warmup_until_error, 0.0, 1.0, above_minimum=True)
        for m in self.milestones:
            whole("milestones", m, 1, MAX_ITERATIONS)
            if m > self.iterations:
                raise ConfigError("milestones", f"{m:,} is beyond the {self.iterations:,} iterations of the run; use "
                                 f"iterations from 1 to {self.iterations:,}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError("milestones", f"{list(self.milestones)} must be increasing iteration numbers")
        boolean("channels-last", self.channels_last)

    @property
    def kept_iterations(self) -> tuple[int, ...]:
        """The checkpoints kept for analysis beside the latest one: the start, each lr drop and the end."""
        return tuple(sorted({0, *self.milestones, self.iterations}))

    def body_lr(self, model: ModelConfig) -> float:
        """The lr of ``model``'s body over the run's lr (its classifier always learns at the run's lr)."""
        return FINE_TUNES[self.fine_tune] if model.weights is not None else 1.0

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.seeds))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("depths", "milestones", "devices"):
            data[name] = list(getattr(self, name))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        return cls(**known_fields(cls, data, "train"))


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
        if self.data.dataset == "folder" and self.data.image_size is None:
            # An image folder's images are resized to the network's input; its class count is counted from the
            # disk by whoever makes the run (explorer.data.location.counted): a config never reads the disk.
            object.__setattr__(self, "data", dataclasses.replace(self.data, image_size=self.model.input_size))
        if self.train.start_from != "scratch" and self.data.mean is None:
            # Pretrained weights see what they were trained on: ImageNet's normalisation, at the network's input
            # size (CIFAR's 32 px upsampled on the device); a run records it, and every network of it sees it.
            resize = None if self.data.dataset == "folder" else self.model.input_size
            object.__setattr__(self, "data", dataclasses.replace(self.data, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                                                  resize=resize))
        networks = len(self.depths) * (2 if self.train.compare == "both" else 1) * self.train.seeds * (
            2 if self.train.start_from == "both" else 1)
        if networks > MAX_NETWORKS:
            kinds = "plain and residual" if self.train.compare == "both" else self.train.compare
            count = lambda n, word: f"{n} {word}{'s' if n != 1 else ''}"  # noqa: E731
            says = (f"{networks} networks in one run ({count(len(self.depths), 'depth')} × {kinds} × "
                    f"{count(self.train.seeds, 'seed')}), too many; use at most {MAX_NETWORKS}")
            if self.train.seeds > 1:  # the seeds multiply what the depths alone allow: the seeds are named
                raise ConfigError("seeds", f"{self.train.seeds} give {says}", others=("depths",))
            raise ConfigError("depths", f"give {says}")
        try:
            self.model_configs()  # every network validated: its depth, and weights that fit it
        except ConfigError as exc:  # a depth of the list the person typed is said as that list's
            if exc.option != "depth" or not self.train.depths:
                raise
            raise ConfigError("depths", exc.says) from None
        if self.name is None:
            object.__setattr__(self, "name", self.default_name())
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("name", f"{self.name!r} must be a non-empty text")

    @property
    def depths(self) -> tuple[int, ...]:
        depths = self.train.depths if self.train.depths else (self.model.depth,)
        return tuple(sorted(set(depths)))

    def model_configs(self) -> list[ModelConfig]:
        """The networks this run trains, plain ones first, each depth ascending (one label per network); their
        classifiers have as many outputs as the data has classes."""
        kinds = {"both": (True, False), "plain": (True,), "residual": (False,)}[self.train.compare]
        starts = {"scratch": (None,), "pretrained": (self.train.weights,),
                  "both": (None, self.train.weights)}[self.train.start_from]
        classes = self.num_classes
        return [self.model.replace(depth=d, plain=p, stages=None, num_classes=classes, weights=w) for p in kinds
                for w in starts for d in self.depths]

    def networks(self) -> list[tuple[str, ModelConfig, int | None]]:
        """Every network the run trains as (key, model, seed), seed by seed: seed None in a run of one seed.
        The key (:func:`network_key`) names it in the checkpoints, the analyses and the curves."""
        seeds = self.train.seed_list if self.train.seeds > 1 else (None,)
        return [(network_key(m.name, seed), m, seed) for seed in seeds for m in self.model_configs()]

    @property
    def num_classes(self) -> int:
        if self.data.dataset == "folder":
            return self.data.classes
        return DATASET_CLASSES.get(self.data.dataset, self.model.num_classes)

    def default_name(self) -> str:
        """``synthetic-plain-vs-resnet-20-56``: the dataset, the kinds of network and their depths
        (``folder-scratch-vs-pretrained-resnet-18`` for a fine-tuning comparison)."""
        return run_name(self.data.dataset, self.model.preact, self.train.compare, self.depths, self.train.start_from)

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model.to_dict(), "data": self.data.to_dict(),
                "train": self.train.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        known_fields(cls, data, "run")
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
            raise ConfigError("config", f"is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("config", "must be a JSON object")
        try:
            return cls.from_dict(data)
        except TypeError as exc:  # e.g. a list where a number belongs, deep inside a dataclass
            raise ConfigError("config", f"has a value of the wrong type ({exc})") from None


