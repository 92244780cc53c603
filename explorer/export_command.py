"""``resnet-explorer export-model``: a network as ONNX, either the one the model flags describe (freshly
initialised, as the Architecture tab shows it) or a trained one restored from a run's checkpoint
(``--run RUN_DIR [--network resnet-56] [--checkpoint ITER]``). The GUI runs this same command as a child."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FORMATS = ("onnx",)


def add_export_parser(sub, add_model_options) -> None:
    export = sub.add_parser("export-model", help="write a network (or a trained one from a run) as ONNX, for "
                            "Netron or any ONNX runtime")
    add_model_options(export)
    export.add_argument("--run", metavar="RUN_DIR", help="export a trained network from this run's checkpoint "
                        "instead of the one the model flags describe")
    export.add_argument("--network", help="which network of the run, e.g. resnet-56 (needed when it has several)")
    export.add_argument("--checkpoint", type=int, metavar="ITER", help="a kept checkpoint (default: the latest)")
    export.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (the only one)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write, e.g. resnet-56.onnx")
    export.add_argument("--progress", choices=("line", "json"), default="line", help=argparse.SUPPRESS)
    export.set_defaults(func=run_export)


def _trained(args: argparse.Namespace):
    """(ModelConfig, module, label) of the chosen network of ``--run``, restored on the CPU."""
    import torch

    from explorer.analysis.inputs import checkpoint_iteration, networks
    from explorer.runs import RunDir

    run = RunDir.open(args.run)
    iteration = checkpoint_iteration(run, args.checkpoint)
    found = networks(run, iteration, torch.device("cpu"))
    keys = [n.key for n in found]
    if args.network is None and len(found) > 1:
        raise ValueError(f"network is needed: {run.path.name} has {len(found)} networks ({', '.join(keys)})")
    if args.network is not None and args.network not in keys:
        raise ValueError(f"network {args.network!r} is not in {run.path.name}; choose one of {', '.join(keys)}")
    chosen = found[0] if args.network is None else found[keys.index(args.network)]
    return chosen.config, chosen.model, f"{chosen.key} at iteration {iteration:,} of {run.path.name}"


def run_export(args: argparse.Namespace) -> int:
    from explorer.cli import Failed, model_config_from_args
    from explorer.onnx_export import ExportError, export_onnx

    output = Path(args.output).expanduser()
    if not output.parent.is_dir():
        raise ValueError(f"the folder {output.parent} (for {output.name}) does not exist; make it first or choose "
                         "another")
    if args.run is None:
        if args.network is not None or args.checkpoint is not None:
            raise ValueError("run is needed for --network and --checkpoint: the run whose network to export")
        config = model_config_from_args(args)  # validated (and bounded) before torch is imported
    from explorer.training.checkpoint import CheckpointError

    try:
        if args.run is None:
            from explorer.models import build_model

            model, label = build_model(config), f"{config.name} (freshly initialised)"
        else:
            config, model, label = _trained(args)
        path = export_onnx(model, config.input_size, output)
    except (ExportError, CheckpointError) as exc:
        raise Failed(str(exc)) from None
    size = path.stat().st_size
    if args.progress == "json":
        print(json.dumps({"type": "done", "path": str(path), "bytes": size, "network": label}), flush=True)
    else:
        print(f"wrote {label} to {path} ({size / 1e6:.1f} MB); open it in Netron (netron.app)", flush=True)
    return 0
