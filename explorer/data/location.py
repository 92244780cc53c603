"""Where the dataset of a DataConfig is kept and whether it is there, without torch (the GUI asks before it
makes a run: the answer decides whether a download comes first)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from explorer.config.run import DataConfig, RunConfig
from explorer.data.cifar_spec import SPECS, check_download_target, check_folder, default_data_dir, vouched
from explorer.data.folder_layout import count_classes


def data_folder(config: DataConfig) -> Path | None:
    """Where the dataset of ``config`` is read from (None for the synthetic set, which is drawn, not read)."""
    if config.dataset == "synthetic":
        return None
    return Path(config.data_dir).expanduser() if config.data_dir else default_data_dir(config.dataset)


READY, VERIFY, DOWNLOAD = "ready", "verify", "download"


def data_state(config: DataConfig) -> str:
    """READY: the dataset is there and unchanged since it was checked; VERIFY: it (or its archive) is there but
    must be checked (and maybe extracted) first; DOWNLOAD: it must be downloaded. Raises DatasetError (one
    sentence) for a data folder that cannot be used: a file, unreadable, a link where a folder belongs. No side
    effect, no hashing: the GUI asks this before it makes a run."""
    if config.dataset == "synthetic":
        return READY
    root = data_folder(config)
    if config.dataset == "folder":  # its own images: nothing to download, every image to be read and checked
        count_classes(root)
        return VERIFY
    spec = SPECS[config.dataset]
    if check_folder(root, spec):
        return READY if vouched(root, spec) else VERIFY
    if (root / spec.archive).is_file():
        return VERIFY
    check_download_target(root, spec)
    return DOWNLOAD


def counted(config: RunConfig) -> RunConfig:
    """``config`` ready to make a run from: an image folder's classes counted now and recorded in the config, so
    the run reopens (and sizes its classifier) whatever becomes of the folder. Raises DatasetError (one sentence)
    for a folder that cannot be used. Other datasets are returned as they are."""
    if config.data.dataset != "folder" or config.data.classes is not None:
        return config
    classes = count_classes(config.data.data_dir)
    return config.replace(data=dataclasses.replace(config.data, classes=classes))
