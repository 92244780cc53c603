"""Loading the dataset a DataConfig names, split and subset as it asks."""

from __future__ import annotations

from typing import Callable

from explorer.config.run import DataConfig
from explorer.data.cifar import load_cifar
from explorer.data.cifar_spec import SPECS
from explorer.data.dataset import Dataset
from explorer.data.image_folder import load_image_folder
from explorer.data.location import data_folder
from explorer.data.synthetic import make_synthetic


def load_dataset(
    config: DataConfig, *, seed: int = 0, progress: Callable[[int, int], None] | None = None,
    decoding: Callable[[int, int], None] | None = None,
) -> Dataset:
    """The dataset ``config`` names, split and subset as it asks.

    ``split='val'`` trains on a fixed 9/10 of the training set and tests on the rest (the paper's 45k/5k);
    ``train_subset`` keeps the first N of a permutation drawn from ``seed``. The synthetic set has
    ``synthetic_size`` training images and a fifth as many test images; an image folder is decoded at its
    ``image_size`` (32 when none is recorded). ``progress(done_bytes, total_bytes)``
    follows a download, ``decoding(done_images, total_images)`` the decoding of an image folder (once: the decoded
    images are cached, see :mod:`explorer.data.decoded_cache`).
    """
    if config.dataset == "synthetic":
        dataset = make_synthetic(config.synthetic_size, max(1, config.synthetic_size // 5), seed)
    elif config.dataset == "folder":
        dataset = load_image_folder(data_folder(config), config.image_size or 32, classes=config.classes,
                                    progress=decoding)
    else:
        dataset = load_cifar(SPECS[config.dataset], data_folder(config), progress=progress)
    if config.split == "val":
        dataset = dataset.with_validation_split()
    if config.train_subset is not None:
        dataset = dataset.with_train_subset(config.train_subset, seed=seed)
    return dataset
