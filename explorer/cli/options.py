"""The flags of the command line and the configs they describe: model flags -> ModelConfig, data and training
flags -> DataConfig / TrainConfig / RunConfig. The core validates (one owner of every rule); this module only maps
names, and names an option the core refuses as its flag."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.config.errors import ConfigError
from explorer.config.model import BLOCKS, FAMILIES, SHORTCUTS, STRIDE_ON, ModelConfig, default_block
from explorer.config.recipes import RECIPES, recipe_train_config
from explorer.config.run import (
    COMPARES, DATASET_LABELS, DATASETS, DEVICES, FINE_TUNES, PRECISIONS, SPLITS, STARTS, DataConfig, RunConfig,
    TrainConfig,
)
from explorer.runs.folder import default_runs_dir

# Training flags -> TrainConfig / DataConfig fields. None means "the recipe's or the config's default".
TRAIN_FLAGS = ("compare", "depths", "iterations", "batch_size", "lr", "momentum", "weight_decay", "milestones",
               "gamma", "warmup_lr", "warmup_until_error", "warmup_min_depth", "eval_every", "log_every",
               "checkpoint_every", "device", "precision", "channels_last", "seed", "seeds", "compile", "cuda_graphs",
               "devices", "sync_bn", "fuse", "deterministic", "start_from", "weights", "fine_tune")
DATA_FLAGS = ("dataset", "data_dir", "split", "train_subset", "augment", "synthetic_size")
MODEL_FLAGS = ("family", "depth", "block", "preact", "plain", "shortcut", "stride_on", "num_classes", "input_size",
               "zero_init_residual")


def flag_of(option: str, parser: argparse.ArgumentParser) -> str:
    """The core's name of an option ("batch-size", "augment") as the person types it ("--batch-size",
    "--no-augment"), where it is a flag of this command; otherwise the name as it is (the core's words for what
    has no flag)."""
    flags = {flag for action in parser._actions for flag in action.option_strings}
    if f"--{option}" in flags:
        return f"--{option}"
    dest = option.replace("-", "_")
    named = [a.option_strings[-1] for a in parser._actions if a.dest == dest and a.option_strings]
    return named[0] if named else option


def output_file(text: str) -> Path:
    """The file a command is to write, refused (ValueError: exit 2, before any work) where its folder is
    missing or it names a folder."""
    output = Path(text).expanduser()
    if output.is_dir():
        raise ValueError(f"{output} is a folder; give a file name in it")
    if not output.parent.is_dir():
        raise ValueError(f"the folder {output.parent} (for {output.name}) does not exist; make it first or choose "
                         "another")
    return output


def int_list(option: str):
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} {text!r} must be whole numbers separated by commas, e.g. 20,56") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{option} {text!r} names no number; write e.g. 20,56")
        return values
    return parse


def text_list(text: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in text.split(",") if part.strip())
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; write e.g. cuda:0,cuda:1")
    return values


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model flags; each is a ModelConfig field, None meaning the family default."""
    group = parser.add_argument_group("model")
    group.add_argument("--family", choices=FAMILIES, default="cifar", help="cifar (32 px) or imagenet (224 px)")
    group.add_argument("--depth", type=int, help="weighted layers: cifar 6n+2 (basic) or 9n+2 (bottleneck); "
                       "imagenet 18/34/50/101/152 (default 20 or 18)")
    group.add_argument("--block", choices=BLOCKS, help="default basic; bottleneck for imagenet depth >= 50")
    group.add_argument("--preact", action="store_true", help="pre-activation units (BN-ReLU-conv)")
    group.add_argument("--plain", action="store_true", help="remove every shortcut (train: the plain networks only, "
                       "as --compare plain)")
    group.add_argument("--shortcut", choices=SHORTCUTS, help="A zero-pad, B projection on shape change, "
                       "C projection everywhere (default A for cifar, B for imagenet)")
    group.add_argument("--stride-on", choices=STRIDE_ON, default="1x1",
                       help="bottleneck downsampling on the first 1x1 (paper) or the 3x3 (torchvision v1.5)")
    group.add_argument("--num-classes", type=int)
    group.add_argument("--input-size", type=int)
    group.add_argument("--zero-init-residual", action="store_true",
                       help="start each residual branch's last BN at zero")


def model_config_from_args(args: argparse.Namespace, **changes) -> ModelConfig:
    return ModelConfig(**{**{name: getattr(args, name) for name in MODEL_FLAGS}, **changes})


def add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, help="cifar10 or cifar100 (downloaded once with checksums), "
                      "folder (your own images in --data-dir, one subfolder per class) or synthetic (offline)")
    data.add_argument("--data-dir", help="where the dataset is kept (default: a per-user cache folder); for "
                      "--dataset folder, the folder of class subfolders (or of train/ and test/ subfolders)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to train")
    what.add_argument("--compare", choices=COMPARES, help="plain, residual or both (default both)")
    what.add_argument("--depths", type=int_list("depths"), help="several depths at once, e.g. 20,56 "
                      "(default --depth)")
    what.add_argument("--start-from", choices=STARTS, help="where the residual networks start: scratch (default), "
                      "pretrained weights (--weights), or both, side by side on identical batches")
    what.add_argument("--weights", metavar="imagenet|FILE", help="the pretrained weights: torchvision's ImageNet "
                      "ones for ImageNet ResNet-18/34/50/101/152 (--family imagenet --stride-on 3x3; downloaded "
                      "once into torch's hub cache), or a .pth file of a state dict (default imagenet)")
    what.add_argument("--fine-tune", choices=tuple(FINE_TUNES), help="what a pretrained network trains: all its "
                      "layers (default), the classifier alone (head), or its body at a tenth of the lr (lower-body)")
    add_data_options(parser)
    data = parser.add_argument_group("data")
    data.add_argument("--split", choices=SPLITS, help="test: 50k train / 10k test (default); val: 45k/5k")
    data.add_argument("--train-subset", type=int, metavar="N", help="train on N images only")
    data.add_argument("--synthetic-size", type=int, metavar="N", help="images of the synthetic set (10000)")
    data.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                      help="no random crops and flips")
    recipe = parser.add_argument_group("recipe (paper defaults)")
    recipe.add_argument("--recipe", choices=tuple(RECIPES), help="; ".join(f"{r.key}: {r.label}"
                        for r in RECIPES.values()) + " (default paper); the options below override it")
    recipe.add_argument("--iterations", type=int, help="steps to train (64000)")
    recipe.add_argument("--batch-size", type=int, help="128")
    recipe.add_argument("--lr", type=float, help="0.1")
    recipe.add_argument("--momentum", type=float, help="0.9")
    recipe.add_argument("--weight-decay", type=float, help="1e-4")
    recipe.add_argument("--milestones", type=int_list("milestones"), help="iterations after which the lr is "
                        "multiplied by --gamma (default 50%% and 75%% of --iterations)")
    recipe.add_argument("--gamma", type=float, help="0.1")
    recipe.add_argument("--warmup-lr", type=float, help="lr of the warm-up of very deep nets (0.01)")
    recipe.add_argument("--warmup-until-error", type=float, help="warm up until the training error is below "
                        "this fraction (0.8)")
    recipe.add_argument("--warmup-min-depth", type=int, help="nets this deep or deeper warm up (110)")
    recipe.add_argument("--seed", type=int, help="0")
    recipe.add_argument("--seeds", type=int, metavar="N", help="train every network N times, from seeds --seed, "
                        "--seed+1, …: the curves show their mean and spread (1)")
    run = parser.add_argument_group("running")
    run.add_argument("--eval-every", type=int, help="iterations between test evaluations (default: follows "
                     "--iterations, 10 to 100 evaluations)")
    run.add_argument("--log-every", type=int, help="iterations between training-metric lines (default: about "
                     "200 lines, every 50 at most)")
    run.add_argument("--checkpoint-every", type=int, help="iterations between checkpoints (a quarter of the "
                     "run, 1000 at most)")
    run.add_argument("--device", choices=DEVICES, help="auto: cuda, then mps, then cpu")
    run.add_argument("--precision", choices=PRECISIONS, help="auto: bf16 where the hardware has it, fp16 on "
                     "older GPUs, else fp32")
    run.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False,
                     help="keep tensors in NCHW layout (slower on CPUs and tensor-core GPUs)")
    run.add_argument("--compile", action="store_const", const=True, help="torch.compile each network: faster "
                     "steps after a minute or so of compiling")
    graphs = run.add_mutually_exclusive_group()
    graphs.add_argument("--cuda-graphs", dest="cuda_graphs", action="store_const", const=True,
                        help="replay each network's whole step from a captured CUDA graph, bf16 or fp32 (default: "
                        "on with CUDA, where it made Figure 6's networks 8x faster on an H200)")
    graphs.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_const", const=False,
                        help="launch every step's kernels one by one (the eager way)")
    fuse = run.add_mutually_exclusive_group()
    fuse.add_argument("--fuse", dest="fuse", action="store_const", const=True, help="train same-shape networks "
                      "(a network's seeds; plain and ResNet of one depth under shortcut A) as one grouped network: "
                      "the same numbers, fewer kernel launches (default: on with CUDA, off elsewhere)")
    fuse.add_argument("--no-fuse", dest="fuse", action="store_const", const=False, help="train every network "
                      "on its own")
    run.add_argument("--deterministic", action="store_const", const=True, help="the same kernels in the same "
                     "order every time, full fp32 matrix products, a fixed CPU thread count: a resumed run "
                     "takes bit for bit the steps of an uninterrupted one (slower). Without it a resume restores "
                     "the data order, the weights and the optimizer exactly, but the GPU may pick other kernels")
    run.add_argument("--devices", type=text_list, help="spread the networks over these devices, e.g. cuda:0,cuda:1")
    run.add_argument("--sync-bn", dest="sync_bn", action="store_const", const=True,
                     help="under torchrun: batch-norm statistics over the whole global batch")
    run.add_argument("--runs-dir", help=f"where run folders are made (default {default_runs_dir()})")
    run.add_argument("--name", help="the run's name, part of its folder name (default: dataset, networks, depths)")
    start = run.add_mutually_exclusive_group()
    start.add_argument("--run-dir", metavar="RUN_DIR", help="start the run prepared in RUN_DIR (a folder with its "
                       "config.json, as the app makes one)")
    start.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last "
                       "checkpoint, with the settings in its config.json")


def folder_option(option: str, value: str) -> str:
    """A folder a flag names: an empty name is refused, never read as "the default" or "here"."""
    if not value.strip():
        raise ConfigError(option, f"{value!r} names no folder; give the folder's path")
    return value


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the flags describe, validated as a whole (every network included). Flags that contradict one
    another are refused naming both, never one of them dropped: ``--plain`` trains plain networks (``--compare
    plain``), a block not chosen follows ``--depths`` as it follows ``--depth``, and ``--num-classes`` must be
    the data's own count."""
    options = {k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k) is not None}
    if args.plain:
        if options.get("compare", "plain") != "plain":
            raise ConfigError("plain", f"trains plain networks only, but {{compare}} {args.compare} asks for "
                              f"{'residual ones' if args.compare == 'residual' else 'both kinds'}; leave out one of "
                              "the two", others=("compare",))
        options["compare"] = "plain"
    template = {"block": _block_of(args)}
    if args.depths and args.depth is None and template["block"] != default_block(args.family, None):
        template["depth"] = args.depths[0]  # the family's default depth takes the other block
    try:
        model = model_config_from_args(args, **template)
    except ConfigError as exc:  # a depth of the list the person typed is said as that list's
        if exc.option != "depth" or "depth" not in template:
            raise
        raise ConfigError("depths", exc.says) from None
    train = recipe_train_config(args.recipe, **options) if args.recipe else TrainConfig(**options)
    data = DataConfig(**{k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k) is not None})
    config = RunConfig(model=model, data=data, train=train, name=args.name)
    check_classes(config, args.num_classes)
    return config


def _block_of(args: argparse.Namespace) -> str | None:
    """The block the person chose, else the one every depth of ``--depths`` takes (as ``--depth`` picks it)."""
    if args.block is not None or not args.depths:
        return args.block
    blocks = {d: default_block(args.family, d) for d in args.depths}
    if len(set(blocks.values())) > 1:
        words = "; ".join(f"{', '.join(str(d) for d in args.depths if blocks[d] == b)} take {b} blocks"
                          for b in BLOCKS)
        raise ConfigError("depths", f"{words}; the networks of one run share one block type: train them as two "
                          "runs")
    return next(iter(blocks.values()))


def check_classes(config: RunConfig, given: int | None) -> None:
    """``--num-classes`` where the data says how many classes there are: the same number, or refused (a run's
    classifiers have as many outputs as its data has classes)."""
    if given is not None and config.num_classes is not None and given != config.num_classes:
        raise ConfigError("num-classes", f"{given:,} does not match the {config.num_classes:,} classes of the "
                          f"{DATASET_LABELS[config.data.dataset]} data ({{dataset}} {config.data.dataset}); leave it "
                          "out", others=("dataset",))


def changed_options(args: argparse.Namespace, parser: argparse.ArgumentParser,
                    ignore: tuple[str, ...] = ()) -> list[str]:
    """The options given with values other than their defaults, in the core's words ("depth", "augment";
    ``ignore``: those that are no setting); :func:`flag_of` words them as the person typed them."""
    defaults = {action.dest: parser.get_default(action.dest) for action in parser._actions}
    return [k.replace("_", "-") for k, v in vars(args).items()
            if k not in ignore and k in defaults and defaults.get(k) != v]


def listed(options: list[str]) -> str:
    """Options in a ConfigError's sentence, each to be named as its reader names it: "{depth}, {augment}"."""
    return ", ".join(f"{{{option}}}" for option in options)
