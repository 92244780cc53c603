"""CIFAR-10 and CIFAR-100 as their authors publish them, and where a copy is kept; no torch here, so the GUI can
tell whether a dataset is on disk (and whether its folder can be used at all) without loading torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from explorer.data.archive import real_folder_or_absent
from explorer.data.errors import DatasetError, reason
from explorer.data.folder_layout import holds_images
from explorer.system.files import read_text

STAMP = ".verified"
MANIFEST = "md5sums.json"
ROW_BYTES = 3 * 32 * 32  # one image: 1024 red, 1024 green, 1024 blue bytes
# Per image beside its pixels: a label or two and a file name; the official files spend about 32 bytes
# (data_batch_1 is 31,035,704 bytes for 10,000 images), a re-pickled copy up to some 70.
ROW_EXTRA_BYTES = 512
META_MAX_BYTES = 1 << 20  # the class names: 158 bytes for CIFAR-10
SLACK_BYTES = 1 << 20


@dataclass(frozen=True)
class CifarSpec:
    """One of the two CIFAR datasets as its authors publish it (torchvision lists the same names and sums)."""

    key: str
    title: str
    url: str
    archive: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes
    classes: int
    train_rows: int  # images in each training file, as published
    test_rows: int
    checksums: Mapping[str, str]

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)

    def rows(self, name: str) -> int:
        """How many images the published file ``name`` holds; a copy may hold fewer (the tests' small folders),
        never more."""
        return self.test_rows if name == self.test_file else self.train_rows

    def max_bytes(self, name: str) -> int:
        """The most bytes a faithful copy of file ``name`` can have: a folder that vouches for its own files (its
        ``md5sums.json``) or an archive that is not the published one is bounded by this, not trusted, so that no
        small file can ask for gigabytes. The pixels count twice: Python 3 re-pickles bytes with protocol 2 as
        latin-1 text, which UTF-8 spells with up to two bytes each."""
        if name == self.archive:  # gzip adds a few bytes in 10,000 to what it cannot compress; tar a header a file
            return sum(self.max_bytes(file) for file in self.files) + SLACK_BYTES
        if name == self.meta_file:
            return META_MAX_BYTES
        return self.rows(name) * (2 * ROW_BYTES + ROW_EXTRA_BYTES) + SLACK_BYTES


CIFAR10 = CifarSpec(
    key="cifar10", title="CIFAR-10", url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    archive="cifar-10-python.tar.gz", folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_file="test_batch", meta_file="batches.meta",
    label_key=b"labels", names_key=b"label_names", classes=10, train_rows=10_000, test_rows=10_000,
    checksums={
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
)
CIFAR100 = CifarSpec(
    key="cifar100", title="CIFAR-100", url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    archive="cifar-100-python.tar.gz", folder="cifar-100-python", train_files=("train",), test_file="test",
    meta_file="meta", label_key=b"fine_labels", names_key=b"fine_label_names", classes=100, train_rows=50_000,
    test_rows=10_000,
    checksums={
        "cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85",
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
)
SPECS = {spec.key: spec for spec in (CIFAR10, CIFAR100)}


def default_data_dir(dataset: str = "cifar10") -> Path:
    """``$RESNET_EXPLORER_DATA``, else the per-user cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    configured = os.environ.get("RESNET_EXPLORER_DATA")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "resnet-explorer" / dataset


def check_folder(root: Path, spec: CifarSpec) -> bool:
    """Raise DatasetError for a data folder that cannot be used; True when the dataset's files are there,
    False when it would be extracted or downloaded (into a folder made for it if it does not exist)."""
    try:
        if root.exists() and not root.is_dir():
            raise DatasetError(f"the data folder {root} is a file, not a folder; choose a folder for {spec.title}")
        real_folder_or_absent(root / spec.folder, spec.title)
        archive = root / spec.archive
        if archive.is_symlink() or (archive.exists() and not archive.is_file()):
            raise DatasetError(f"{archive} is a link or not a regular file, where the {spec.title} archive belongs; "
                               "remove it and try again")
        if not root.is_dir():
            return False
        if not os.access(root, os.R_OK | os.X_OK):
            raise DatasetError(f"the data folder {root} cannot be read (permission denied); choose another folder "
                               f"or fix its permissions")
        folder = root / spec.folder
        if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
            raise DatasetError(f"the {spec.title} folder {folder} cannot be read (permission denied); fix its "
                               "permissions")
        for name in spec.files:
            path = folder / name
            if path.exists() and not path.is_file():  # a FIFO or a device: reading it would hang or never end
                raise DatasetError(f"{spec.title} file {path} is not a regular file; remove it and try again")
        return all((folder / name).is_file() for name in spec.files)
    except OSError as exc:  # Path.exists() itself raises where a folder above cannot be searched
        raise DatasetError(f"the data folder {root} cannot be used ({reason(exc)}); choose another folder") from None


def identity(stat: os.stat_result, md5: str) -> dict:
    """What the stamp remembers of a file that was hashed: device, inode, size, mtime and ctime. ctime cannot be
    set back by a program, so any write to the file, or another file put in its place, changes the identity."""
    return {"dev": stat.st_dev, "ino": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "ctime_ns": stat.st_ctime_ns, "md5": md5}


def read_stamp(folder: Path) -> dict:
    path = folder / STAMP
    try:
        stamp = json.loads(read_text(path)) if not path.is_symlink() else {}
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        stamp = {}
    return stamp if isinstance(stamp, dict) else {}


def manifest(folder: Path, spec: CifarSpec) -> Mapping[str, str]:
    """The checksums to hold the files to: the folder's own ``md5sums.json`` (which must name every file), else
    the published ones."""
    path = folder / MANIFEST
    if not path.is_file():
        return spec.checksums
    try:
        sums = json.loads(read_text(path))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        sums = None
    if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
        raise DatasetError(f"checksum list {path} is unreadable; delete it to check against the published sums")
    missing = [name for name in spec.files if name not in sums]
    if missing:  # an empty or partial list must not switch checking off for the files it leaves out
        raise DatasetError(f"checksum list {path} has no md5 sum for {missing[0]}; add one for every file, or delete "
                           "the list to check against the published sums")
    return sums


def check_download_target(root: Path, spec: CifarSpec) -> None:
    """Raise DatasetError when ``root`` holds images: a download never goes into a folder of someone's pictures
    (the app once offered to put CIFAR-100 into the folder of an image-folder run)."""
    if holds_images(root):
        raise DatasetError(f"the data folder {root} holds images (a folder of your own pictures?), not "
                           f"{spec.title}; leave the data folder empty for the default cache, or choose an empty "
                           f"folder for {spec.title}")


def vouched(root: Path, spec: CifarSpec) -> bool:
    """True when every file is there and unchanged since it was hashed against its checksum (no hashing here)."""
    folder = root / spec.folder
    try:
        sums, stamp = manifest(folder, spec), read_stamp(folder)
        return all(stamp.get(name) == identity((folder / name).stat(), sums[name]) for name in spec.files)
    except (OSError, KeyError, DatasetError):
        return False
