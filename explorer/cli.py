"""The command line: `summary`, `train` and `runs`. Every mistake a user can make ends in one sentence, exit 2."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.config import BLOCKS, FAMILIES, SHORTCUTS, STRIDE_ON, ModelConfig


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="resnet-explorer", description="Explore deep residual networks (He et al., 2016). "
                     "Run without arguments to open the app.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    summary = sub.add_parser("summary", help="layer table: output sizes, parameters, MACs")
    add_model_options(summary)
    summary.add_argument("--json", action="store_true", help="one JSON object on stdout")
    summary.set_defaults(func=_cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
