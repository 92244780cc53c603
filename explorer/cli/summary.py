"""``resnet-explorer summary``: the layer table of a network - output sizes, parameters, MACs per layer."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.cli.options import add_model_options, model_config_from_args


def add_parser(sub) -> None:
    summary = sub.add_parser("summary", help="layer table: output sizes, parameters, MACs",
                             description="The layer table of one network: each layer's output size, parameters "
                             "and multiply-accumulates (the paper's FLOPs), with the totals.")
    add_model_options(summary)
    summary.add_argument("--json", action="store_true", help="one JSON object on stdout")
    summary.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = model_config_from_args(args)  # validated (and bounded) before torch is imported
    from explorer.models.summary import format_table, summarize

    summary = summarize(config)
    if args.json:
        json.dump(summary.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(summary))
    return 0
