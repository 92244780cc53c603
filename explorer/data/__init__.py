"""Training data: CIFAR-10/100 from disk (``cifar``), an offline synthetic set (``synthetic``), the paper's splits
(``dataset``) and the device-resident batch stream the trainer draws from (``batches``). Qt-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from explorer.config import DataConfig
from explorer.data.batches import DeviceBatches
from explorer.data.cifar import SPECS, check_folder, default_data_dir, load_cifar, load_cifar10
from explorer.data.dataset import Dataset
from explorer.data.errors import DatasetError
from explorer.data.synthetic import make_synthetic

__all__ = ["Dataset", "DatasetError", "DeviceBatches", "data_folder", "data_ready", "default_data_dir",
           "load_cifar10", "load_dataset", "make_synthetic"]


def data_folder(config: DataConfig) -> Path | None:
    """Where the dataset of ``config`` is read from (None for the synthetic set, which is drawn, not read)."""
    if config.dataset == "synthetic":
        return None
    return Path(config.data_dir).expanduser() if config.data_dir else default_data_dir(config.dataset)


def data_ready(config: DataConfig) -> bool:
    """True when the dataset can be read without a download; raises DatasetError (one sentence) for a data
    folder that cannot be used: a file, unreadable, a link where a folder belongs. No side effect."""
    if config.dataset == "synthetic":
        return True
    root = data_folder(config)
    spec = SPECS[config.dataset]
    return check_folder(root, spec) or (root / spec.archive).is_file()


def load_dataset(
    config: DataConfig, *, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> Dataset:
    """The dataset ``config`` names, split and subset as it asks.

    ``split='val'`` trains on a fixed 9/10 of the training set and tests on the rest (the paper's 45k/5k);
    ``train_subset`` keeps the first N of a permutation drawn from ``seed``. The synthetic set has
    ``synthetic_size`` training images and a fifth as many test images. ``progress(done_bytes, total_bytes)``
    follows a download.
    """
    if config.dataset == "synthetic":
        dataset = make_synthetic(config.synthetic_size, max(1, config.synthetic_size // 5), seed)
    else:
        dataset = load_cifar(SPECS[config.dataset], data_folder(config), progress=progress)
    if config.split == "val":
        dataset = dataset.with_validation_split()
    if config.train_subset is not None:
        dataset = dataset.with_train_subset(config.train_subset, seed=seed)
    return dataset
