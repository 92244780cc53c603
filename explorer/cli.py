"""The command line: `summary`, `train` and `runs`. Every mistake a user can make ends in one sentence, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time

from explorer.config import (
    BLOCKS, COMPARES, DATASETS, DEVICES, FAMILIES, PRECISIONS, SHORTCUTS, SPLITS, STRIDE_ON,
    DataConfig, ModelConfig, RunConfig, TrainConfig,
)
from explorer.runs import RunDir, RunDirError, default_runs_dir, list_runs


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
    from explorer.summary import format_table, summarize

    summary = summarize(model_config_from_args(args))
    if args.json:
        json.dump(summary.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(summary))
    return 0


def _int_list(option: str):
    def parse(text: str) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} {text!r} must be whole numbers separated by commas, e.g. 32000,48000") from None
    return parse


# Training flags -> TrainConfig / DataConfig fields. None means "the config's default".
TRAIN_FLAGS = ("compare", "depths", "iterations", "batch_size", "lr", "momentum", "weight_decay", "milestones",
               "gamma", "warmup_lr", "warmup_until_error", "warmup_min_depth", "eval_every", "log_every",
               "checkpoint_every", "device", "precision", "channels_last", "seed")
DATA_FLAGS = ("dataset", "data_dir", "split", "train_subset", "augment")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to train")
    what.add_argument("--compare", choices=COMPARES, help="plain, residual or both (default both)")
    what.add_argument("--depths", type=_int_list("depths"), help="several depths at once, e.g. 20,56 "
                      "(default --depth)")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, help="cifar10 (downloaded once) or synthetic (offline)")
    data.add_argument("--data-dir", help="where CIFAR-10 is kept (default: a per-user cache folder)")
    data.add_argument("--split", choices=SPLITS, help="test: 50k train / 10k test (default); val: 45k/5k")
    data.add_argument("--train-subset", type=int, metavar="N", help="train on N images only")
    data.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                      help="no random crops and flips")
    recipe = parser.add_argument_group("recipe (paper defaults)")
    recipe.add_argument("--iterations", type=int, help="steps to train (64000)")
    recipe.add_argument("--batch-size", type=int, help="128")
    recipe.add_argument("--lr", type=float, help="0.1")
    recipe.add_argument("--momentum", type=float, help="0.9")
    recipe.add_argument("--weight-decay", type=float, help="1e-4")
    recipe.add_argument("--milestones", type=_int_list("milestones"), help="iterations after which the lr is "
                        "multiplied by --gamma (32000,48000)")
    recipe.add_argument("--gamma", type=float, help="0.1")
    recipe.add_argument("--warmup-lr", type=float, help="lr of the warm-up of very deep nets (0.01)")
    recipe.add_argument("--warmup-until-error", type=float, help="warm up until the training error is below "
                        "this fraction (0.8)")
    recipe.add_argument("--warmup-min-depth", type=int, help="nets this deep or deeper warm up (110)")
    recipe.add_argument("--seed", type=int, help="0")
    run = parser.add_argument_group("running")
    run.add_argument("--eval-every", type=int, help="iterations between test evaluations (default: one epoch)")
    run.add_argument("--log-every", type=int, help="iterations between training-metric lines (50)")
    run.add_argument("--checkpoint-every", type=int, help="iterations between checkpoints (1000)")
    run.add_argument("--device", choices=DEVICES, help="auto: cuda, then mps, then cpu")
    run.add_argument("--precision", choices=PRECISIONS, help="auto: bf16 where the hardware has it, fp16 on "
                     "older GPUs, else fp32")
    run.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False,
                     help="keep tensors in NCHW layout (slower on CPUs and tensor-core GPUs)")
    run.add_argument("--runs-dir", help=f"where run folders are made (default {default_runs_dir()})")
    run.add_argument("--name", help="the run's name, part of its folder name")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint "
                     "(or start it, if it has none), with the settings in its config.json")


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    model = model_config_from_args(args)
    train = TrainConfig(**{k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k) is not None})
    data = DataConfig(**{k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k) is not None})
    depths = "-".join(map(str, train.depths or (model.depth,)))
    name = args.name or {"both": f"plain-vs-resnet-{depths}", "plain": f"plain-{depths}",
                         "residual": f"resnet-{depths}"}[train.compare]
    return RunConfig(model=model, data=data, train=train, name=name)


def _changed_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    defaults = vars(parser.parse_args([]))
    return [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
            if k not in ("resume", "func", "command") and defaults.get(k) != v]


def _cmd_train(args: argparse.Namespace) -> int:
    from explorer.training.stop import StopFlag

    with StopFlag() as stop:
        sys.stderr.write("starting…\n")
        sys.stderr.flush()
        if args.resume:
            changed = _changed_options(args, args.train_parser)
            if changed:
                raise ValueError(f"--resume continues a run with the settings in its config.json; leave out "
                                 f"{', '.join(changed)}")
            run = RunDir.open(args.resume)
            run.config()  # a config that cannot be read is the person's to fix: exit 2 before training
        else:
            config = run_config_from_args(args)
            # Importing torch takes seconds, but a device this machine lacks is the person's mistake: say so
            # before a run folder is made.
            from explorer.training.device import resolve_device, resolve_precision

            resolve_precision(config.train.precision, resolve_device(config.train.device))
            run = RunDir.create(args.runs_dir or default_runs_dir(), config)
        sys.stderr.write(f"run folder: {run.path}\n")
        from explorer.training.session import run_training

        return run_training(run, stop)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _cmd_runs(args: argparse.Namespace) -> int:
    runs_dir = args.runs_dir or default_runs_dir()
    runs = list_runs(runs_dir)
    if args.json:
        json.dump([{**info.__dict__, "path": str(info.path), "models": list(info.models)} for info in runs],
                  sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not runs:
        print(f"no runs in {runs_dir}")
        return 0
    for info in runs:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
        best = ", ".join(f"{m} {_percent(info.best_test_error.get(m))}" for m in info.models)
        print(f"{info.path.name}  {created}  {info.state:<9}  {info.iteration}/{info.iterations}  "
              f"{info.device}/{info.precision}  best test error: {best}")
        if info.state == "failed" and info.message:
            print(f"    {info.message}")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RunDirError) as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
