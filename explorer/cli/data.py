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
    data.add_argument("--imagenet-weights", type=int, nargs="+", default=(), metavar="DEPTH",
                      help="also fetch torchvision's ImageNet weights of these ResNets (18, 34, 50, 101, 152) into "
                      "torch's hub cache, checked against their hash (what --start-from pretrained needs)")
    add_progress_option(data)
    data.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = DataConfig(**{k: getattr(args, k) for k in ("dataset", "data_dir") if getattr(args, k) is not None})
    from explorer.data.errors import DatasetError
    from explorer.data.loading import load_dataset
    from explorer.data.location import data_folder

    progress = Progress(args.progress)
    fetch_imagenet_weights(args.imagenet_weights, progress)
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


def fetch_imagenet_weights(depths, progress: Progress) -> None:
    """torchvision's ImageNet weights of the ResNets ``depths`` in the hub cache: what is there is kept, what is
    not is downloaded (a depth they do not exist for is refused before anything is fetched)."""
    from explorer.config.model import IMAGENET_WEIGHTS, ModelConfig
    from explorer.models.pretrained import WeightsError, download, weights_path

    models = [ModelConfig(family="imagenet", depth=depth, weights=IMAGENET_WEIGHTS) for depth in depths]
    for model in models:
        try:
            if weights_path(model) is None:
                download(model, progress.counter("download"))
        except WeightsError as exc:
            raise Failed(str(exc)) from None
