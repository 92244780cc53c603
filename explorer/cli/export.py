"""``resnet-explorer export-model``: a network as ONNX, either the one the model flags describe (freshly
initialised, as the Architecture tab shows it) or a trained one restored from a run's checkpoint
(``--run RUN_DIR [--network resnet-56] [--checkpoint ITER]``). The app runs this same command as a child."""

from __future__ import annotations

import argparse

from explorer.config.errors import ConfigError
from explorer.cli.options import (
    MODEL_FLAGS, add_model_options, changed_options, listed, model_config_from_args, output_file,
)
from explorer.cli.progress import Progress, add_progress_option
from explorer.runs.checkpoints import CheckpointError, chosen_iteration
from explorer.system.exits import Failed

FORMATS = ("onnx",)


def add_parser(sub) -> None:
    export = sub.add_parser("export-model", help="write a network (or a trained one from a run) as ONNX, for "
                            "Netron or any ONNX runtime",
                            description="Write a network as ONNX with the layer table's names: the one the model "
                            "flags describe, freshly initialised, or a trained one from a run's checkpoint.")
    add_model_options(export)
    export.add_argument("--run", metavar="RUN_DIR", help="export a trained network from this run's checkpoint "
                        "instead of the one the model flags describe")
    export.add_argument("--network", help="which network of the run, e.g. resnet-56 (needed when it has several)")
    export.add_argument("--checkpoint", type=int, metavar="ITER", help="a kept checkpoint (default: the latest)")
    export.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (the only one)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write, e.g. resnet-56.onnx")
    add_progress_option(export)
    export.set_defaults(func=run, parser=export)


def _trained(args: argparse.Namespace):
    """(ModelConfig, module, label, metadata) of the chosen network of ``--run``, restored on the CPU, with what
    it expects and answers (class names, input normalisation) when the run's data can still be read."""
    import torch

    from explorer.analysis.inputs import input_description, network_keys, networks
    from explorer.data.errors import DatasetError
    from explorer.runs.folder import RunDir

    run_dir = RunDir.open(args.run)
    keys = network_keys(run_dir)
    if args.network is None and len(keys) > 1:
        raise ConfigError("network", f"is needed: {run_dir.path.name} has {len(keys)} networks ({', '.join(keys)})")
    if args.network is not None and args.network not in keys:
        raise ConfigError("network", f"{args.network!r} is not in {run_dir.path.name}; choose one of {', '.join(keys)}")
    iteration = chosen_iteration(run_dir.checkpoint_dir, args.checkpoint, run_dir.path.name)
    (chosen,) = networks(run_dir, iteration, torch.device("cpu"), keys=[args.network or keys[0]])
    try:
        metadata = input_description(run_dir)
    except DatasetError as exc:  # the data moved or was deleted: the network is still worth exporting
        metadata = {"input": f"not recorded: the run's data could not be read ({exc})"}
    return (chosen.config, chosen.model, f"{chosen.key} at iteration {iteration:,} of {run_dir.path.name}",
            metadata)


def run(args: argparse.Namespace) -> int:
    output = output_file(args.output)
    if args.run is None:
        if args.network is not None or args.checkpoint is not None:
            raise ConfigError("run", "is needed for --network and --checkpoint: the run whose network to export")
        config = model_config_from_args(args)  # validated (and bounded) before torch is imported
    else:
        model_options = changed_options(args, args.parser, ignore=tuple(set(vars(args)) - set(MODEL_FLAGS)))
        if model_options:
            raise ConfigError("run", f"exports the network as the run trained it, which the model options cannot "
                              f"change; leave out {listed(model_options)}", others=tuple(model_options))
    from explorer.models.onnx_export import ExportError, export_onnx

    try:
        if args.run is None:
            from explorer.models import build_model

            model, label, metadata = build_model(config), f"{config.name} (freshly initialised)", None
        else:
            config, model, label, metadata = _trained(args)
        path = export_onnx(model, config.input_size, output, metadata)
    except (ExportError, CheckpointError) as exc:
        raise Failed(str(exc)) from None
    size = path.stat().st_size
    Progress(args.progress).outcome("done", f"wrote {label} to {path} ({size / 1e6:.1f} MB); open it in Netron "
                                    "(netron.app)", path=str(path), bytes=size, network=label)
    return 0
