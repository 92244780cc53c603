"""Where the dataset of a DataConfig is kept and whether it is there, without torch (the GUI asks before it
makes a run: the answer decides whether a download comes first)."""

from __future__ import annotations

from pathlib import Path

from explorer.config import DataConfig
from explorer.data.cifar_spec import SPECS, check_folder, default_data_dir


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
