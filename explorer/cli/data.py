"""``resnet-explorer data``: make sure a dataset is on disk and intact, downloading it if need be. The app runs it
as a child before it makes a run (``--progress json``), so a download has its own progress and cancel."""

from __future__ import annotations

import argparse

from explorer.cli.options import add_data_options
from explorer.cli.progress import Progress, add_progress_option
from explorer.config.run import DataConfig
from explorer.system.exits import Failed


def add_parser(sub) -> None:
    data = sub.add_parser("data", help="download and check a dataset (training does this too, when needed)",
                          description="Download a dataset (CIFAR-10, CIFAR-100) and check it against its published "
                          "checksums, or read and decode an image folder, so that a run can start from it.")
    add_data_options(data)
    add_progress_option(data)
    data.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = DataConfig(**{k: getattr(args, k) for k in ("dataset", "data_dir") if getattr(args, k) is not None})
    from explorer.data.errors import DatasetError
    from explorer.data.loading import load_dataset
    from explorer.data.location import data_folder

    progress = Progress(args.progress)
    try:
        dataset = load_dataset(config, progress=progress.counter("download"), decoding=progress.counter("decode"))
    except DatasetError as exc:
        raise Failed(str(exc)) from None
    where = data_folder(config)
    train, test = len(dataset.train_labels), len(dataset.test_labels)
    progress.outcome("ready", f"{dataset.name}: {train} training and {test} test images ready"
                     + (f" in {where}" if where else ""), dataset=dataset.name, train=train, test=test,
                     folder=str(where) if where else None)
    return 0
