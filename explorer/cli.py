"""The command line: `summary`, `train`, `runs` and `data`. Every mistake a user can make ends in one sentence and
exit code 2, before anything is written; a failure while running is one sentence and exit code 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from explorer.config import (
    COMPARES, DATASETS, DEVICES, PRECISIONS, SPLITS, DataConfig, RunConfig, TrainConfig,
)
from explorer.model_config import BLOCKS, FAMILIES, SHORTCUTS, STRIDE_ON, ModelConfig
from explorer.export_command import add_export_parser
from explorer.recipes import RECIPES, recipe_train_config
from explorer.run_list import list_runs
from explorer.runs import RunDirError, default_runs_dir


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in one sentence on stderr and exits 2, without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model flags of DESIGN.md; each is a ModelConfig field, None meaning the family default."""
    group = parser.add_argument_group("model")
    group.add_argument("--family", choices=FAMILIES, default="cifar", help="cifar (32 px) or imagenet (224 px)")
    group.add_argument("--depth", type=int, help="weighted layers: cifar 6n+2 (basic) or 9n+2 (bottleneck); "
                       "imagenet 18/34/50/101/152 (default 20 or 18)")
    group.add_argument("--block", choices=BLOCKS, help="default basic; bottleneck for imagenet depth >= 50")
    group.add_argument("--preact", action="store_true", help="pre-activation units (BN-ReLU-conv)")
    group.add_argument("--plain", action="store_true", help="remove every shortcut")
    group.add_argument("--shortcut", choices=SHORTCUTS, help="A zero-pad, B projection on shape change, "
                       "C projection everywhere (default A for cifar, B for imagenet)")
    group.add_argument("--stride-on", choices=STRIDE_ON, default="1x1",
                       help="bottleneck downsampling on the first 1x1 (paper) or the 3x3 (torchvision v1.5)")
    group.add_argument("--num-classes", type=int)
    group.add_argument("--input-size", type=int)
    group.add_argument("--zero-init-residual", action="store_true",
                       help="start each residual branch's last BN at zero")


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(
        family=args.family, depth=args.depth, block=args.block, preact=args.preact, plain=args.plain,
        shortcut=args.shortcut, stride_on=args.stride_on, num_classes=args.num_classes,
        input_size=args.input_size, zero_init_residual=args.zero_init_residual,
    )


def _cmd_summary(args: argparse.Namespace) -> int:
    config = model_config_from_args(args)  # validated (and bounded) before torch is imported
    from explorer.summary import format_table, summarize

    summary = summarize(config)
    if args.json:
        json.dump(summary.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(summary))
    return 0


def _int_list(option: str):
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


def _text_list(text: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in text.split(",") if part.strip())
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; write e.g. cuda:0,cuda:1")
    return values


# Training flags -> TrainConfig / DataConfig fields. None means "the recipe's or the config's default".
TRAIN_FLAGS = ("compare", "depths", "iterations", "batch_size", "lr", "momentum", "weight_decay", "milestones",
               "gamma", "warmup_lr", "warmup_until_error", "warmup_min_depth", "eval_every", "log_every",
               "checkpoint_every", "device", "precision", "channels_last", "seed", "seeds", "compile", "cuda_graphs",
               "devices", "sync_bn", "fuse", "deterministic")
DATA_FLAGS = ("dataset", "data_dir", "split", "train_subset", "augment", "synthetic_size")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, help="cifar10 or cifar100 (downloaded once with checksums), "
                      "folder (your own images in --data-dir, one subfolder per class) or synthetic (offline)")
    data.add_argument("--data-dir", help="where the dataset is kept (default: a per-user cache folder); for "
                      "--dataset folder, the folder of class subfolders (or of train/ and test/ subfolders)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to train")
    what.add_argument("--compare", choices=COMPARES, help="plain, residual or both (default both)")
    what.add_argument("--depths", type=_int_list("depths"), help="several depths at once, e.g. 20,56 "
                      "(default --depth)")
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
    recipe.add_argument("--milestones", type=_int_list("milestones"), help="iterations after which the lr is "
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
    run.add_argument("--cuda-graphs", dest="cuda_graphs", action="store_const", const=True,
                     help="replay each network's whole step from a captured CUDA graph (bf16 or fp32)")
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
    run.add_argument("--devices", type=_text_list, help="spread the networks over these devices, e.g. cuda:0,cuda:1")
    run.add_argument("--sync-bn", dest="sync_bn", action="store_const", const=True,
                     help="under torchrun: batch-norm statistics over the whole global batch")
    run.add_argument("--runs-dir", help=f"where run folders are made (default {default_runs_dir()})")
    run.add_argument("--name", help="the run's name, part of its folder name (default: dataset, networks, depths)")
    start = run.add_mutually_exclusive_group()
    start.add_argument("--run-dir", metavar="RUN_DIR", help="start the run prepared in RUN_DIR (a folder with its "
                       "config.json, as the app makes one)")
    start.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last "
                       "checkpoint, with the settings in its config.json")


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the flags describe, validated as a whole (every network included)."""
    model = model_config_from_args(args)
    options = {k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k) is not None}
    train = recipe_train_config(args.recipe, **options) if args.recipe else TrainConfig(**options)
    data = DataConfig(**{k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k) is not None})
    return RunConfig(model=model, data=data, train=train, name=args.name)


def _changed_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    defaults = vars(parser.parse_args([]))
    return [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
            if k not in ("resume", "run_dir", "func", "command", "train_parser") and defaults.get(k) != v]


def _cmd_analyze(args: argparse.Namespace) -> int:
    from explorer.limits import MAX_ANALYSIS_IMAGES, whole

    if args.subset is not None:
        whole("subset", args.subset, 10, MAX_ANALYSIS_IMAGES)
    if args.points is not None:
        whole("points", args.points, 3, 201)
    if args.checkpoint is not None:
        whole("checkpoint", args.checkpoint, 0, 10**8)
    from explorer.analysis.command import main as analyze
    from explorer.data.errors import DatasetError
    from explorer.training.checkpoint import CheckpointError

    try:
        return analyze(args)
    except (CheckpointError, DatasetError) as exc:
        raise Failed(str(exc)) from None


def _cmd_train(args: argparse.Namespace) -> int:
    if not (args.resume or args.run_dir):
        run_config_from_args(args)  # a bad option is refused in a fraction of a second, before torch loads
    from explorer.training.command import train

    return train(args, run_config_from_args, _changed_options(args, args.train_parser))


def terminal_progress(kind: str):
    """``line(done, total)`` for a ``download`` or a ``decode``: one updated line on a terminal, nothing else."""
    from explorer.training.events import progress_line

    def line(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K{progress_line(kind, done, total)}" + ("\n" if done >= total else ""))
            sys.stderr.flush()

    return line


class Failed(Exception):
    """A failure of the environment (not of the person's options) before a run folder exists: exit 1."""


def _cmd_runs(args: argparse.Namespace) -> int:
    runs_dir = args.runs_dir or default_runs_dir()
    runs = list_runs(runs_dir)
    if args.json:
        json.dump([info.to_json() for info in runs], sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not runs:
        print(f"no runs in {runs_dir}")
        return 0
    for info in runs:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
        if info.problem and not info.models:
            print(f"{info.path.name}  {created}  {info.state:<9}  {info.problem}")
            continue
        best = ", ".join(f"{m} {info.best_text(m)}" for m in info.models)
        print(f"{info.path.name}  {created}  {info.state:<9}  {info.iteration}/{info.iterations}  "
              f"{info.dataset}  {info.device}/{info.precision}  best test error: {best}")
        if info.state in ("failed", "unreadable") and info.message:
            print(f"    {info.message}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    """Make sure a dataset is on disk and intact (downloading it if need be); ``--progress json`` prints one
    JSON object a line for the app that follows it."""
    config = DataConfig(**{k: getattr(args, k) for k in ("dataset", "data_dir") if getattr(args, k) is not None})
    from explorer.data.errors import DatasetError
    from explorer.data.loading import load_dataset
    from explorer.data.location import data_folder

    def reporter(kind: str):
        def report(done: int, total: int) -> None:
            print(json.dumps({"type": kind, "done": done, "total": total}), flush=True)

        return report if args.progress == "json" else terminal_progress(kind)

    try:
        dataset = load_dataset(config, progress=reporter("download"), decoding=reporter("decode"))
    except DatasetError as exc:
        raise Failed(str(exc)) from None
    where = data_folder(config)
    line = {"type": "ready", "dataset": dataset.name, "train": len(dataset.train_labels),
            "test": len(dataset.test_labels), "folder": str(where) if where else None}
    print(json.dumps(line) if args.progress == "json" else
          f"{dataset.name}: {line['train']} training and {line['test']} test images ready"
          + (f" in {where}" if where else ""), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="resnet-explorer", description="Explore deep residual networks (He et al., 2016). "
                     "Run without arguments to open the app.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    summary = sub.add_parser("summary", help="layer table: output sizes, parameters, MACs")
    add_model_options(summary)
    summary.add_argument("--json", action="store_true", help="one JSON object on stdout")
    summary.set_defaults(func=_cmd_summary)
    train = sub.add_parser("train", help="train plain and residual nets side by side on identical batches")
    add_model_options(train)
    add_train_options(train)
    train.set_defaults(func=_cmd_train, train_parser=train)
    runs = sub.add_parser("runs", help="list training runs: state, progress, best test errors")
    runs.add_argument("--runs-dir", help=f"default {default_runs_dir()}")
    runs.add_argument("--json", action="store_true", help="one JSON list on stdout")
    runs.set_defaults(func=_cmd_runs)
    analyze = sub.add_parser("analyze", help="layer responses, lesions or the loss landscape of a run's networks")
    analyze.add_argument("run_dir", metavar="RUN_DIR")
    analyze.add_argument("--what", required=True, choices=("responses", "lesion", "landscape"))
    analyze.add_argument("--checkpoint", type=int, metavar="ITER", help="a kept checkpoint (default: the latest)")
    analyze.add_argument("--subset", type=int, metavar="N", help="images to use (1000 test images; 2000 training "
                         "images for the landscape)")
    analyze.add_argument("--points", type=int, help="landscape steps along a direction (21 on a CPU, 41 on a GPU)")
    analyze.add_argument("--two-d", dest="two_d", action="store_true", help="landscape on a plane of two directions")
    analyze.add_argument("--seed", type=int, default=0, help="of the random directions and lesions (0)")
    analyze.add_argument("--device", choices=DEVICES, default="auto")
    analyze.add_argument("--progress", choices=("line", "json"), default="line", help=argparse.SUPPRESS)
    analyze.set_defaults(func=_cmd_analyze)
    data = sub.add_parser("data", help="download and check a dataset (training does this too, when needed)")
    add_data_options(data)
    data.add_argument("--progress", choices=("line", "json"), default="line", help=argparse.SUPPRESS)
    data.set_defaults(func=_cmd_data)
    add_export_parser(sub, add_model_options)
    return parser


def _as_flag(message: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The core names an option as its config field ("batch-size 0 must …"); the command line says "--batch-size"."""
    word, _, rest = message.partition(" ")
    if word == "depth" and getattr(args, "depths", None):
        word = "depths"  # the depth came from the list of --depths
    flags = {flag for action in parser._actions for flag in action.option_strings}
    return f"--{word} {rest}" if f"--{word}" in flags else message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser = parser._subparsers._group_actions[0].choices[args.command]
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that went away (`| head -1`) is met here, not at exit
        return code
    except ValueError as exc:
        print(f"resnet-explorer {args.command}: {_as_flag(str(exc), args, command_parser)}", file=sys.stderr)
        return 2
    except RunDirError as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `resnet-explorer runs | head -1`: the reader has gone; say nothing, as a Unix tool does (and keep
        # the interpreter's own flush at exit from meeting the closed pipe again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug, not a person's mistake: one sentence, the traceback on request
        if os.environ.get("RESNET_EXPLORER_DEBUG"):
            raise
        print(f"resnet-explorer {args.command}: internal error ({type(exc).__name__}: {exc}); run it again with "
              "RESNET_EXPLORER_DEBUG=1 for the traceback to report", file=sys.stderr)
        return 1
