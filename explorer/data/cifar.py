"""CIFAR-10 and CIFAR-100 on disk: the folder, download (through torchvision's downloader), integrity, reading.

A data folder is not trusted: the archive is extracted member by member into the one folder it belongs in
(:mod:`explorer.data.archive`), the batch pickles are read without running code (:mod:`explorer.data.safe_pickle`),
and every file's md5 is checked against the published list - or against the folder's own ``md5sums.json``
(a private copy, the test fixture), which must then name every file. The result is remembered in a stamp
(device, inode, size, mtime and ctime per file): ctime cannot be set back by a program (``utime`` sets only
mtime and atime), so any write to a file, or a file put in its place, is hashed again; the 180 MB are not
hashed at every start as torchvision does. A list the folder brings lets a hostile folder vouch for itself, so
it vouches for content only: every file, and every archive member, is bounded by what the format allows
(:meth:`CifarSpec.max_bytes`, :meth:`CifarSpec.rows`) before it is hashed, written or read. Every failure a
person can fix is one sentence (``DatasetError``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch

from explorer.system.files import atomic_write, open_regular
from explorer.data.archive import real_folder, safe_extract
from explorer.data.cifar_spec import (
    CIFAR10, STAMP, CifarSpec, check_download_target, check_folder, default_data_dir, identity, manifest, read_stamp,
)
from explorer.data.dataset import Dataset
from explorer.data.errors import DatasetError, reason, too_large
from explorer.data.safe_pickle import unpickle

Progress = Callable[[int, int], None]


def load_cifar(
    spec: CifarSpec,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    checksums: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load ``spec`` from ``data_dir``, extracting or downloading its archive there if needed.

    ``checksums`` maps file names (the archive and each batch file) to md5 sums; by default the folder's
    ``md5sums.json`` when it has one, else the published sums. ``verify=False`` reads without checking (tests of
    the reader itself). ``progress(done_bytes, total_bytes)`` replaces the download bar on stderr."""
    root = Path(data_dir) if data_dir is not None else default_data_dir(spec.key)
    present = check_folder(root, spec)
    folder = root / spec.folder
    if verify:
        checksums = manifest(folder, spec) if checksums is None else checksums
    if not present:
        _fetch(root, spec, checksums if verify else {}, download, progress)
    if verify:
        _verify(folder, spec, checksums)
    train = [_read_batch(folder / name, spec) for name in spec.train_files]
    test_images, test_labels = _read_batch(folder / spec.test_file, spec)
    return Dataset(
        train_images=torch.cat([images for images, _ in train]),
        train_labels=torch.cat([labels for _, labels in train]),
        test_images=test_images, test_labels=test_labels, classes=_read_classes(folder / spec.meta_file, spec),
        name=spec.key,
    )


def load_cifar10(data_dir: str | os.PathLike | None = None, **options) -> Dataset:
    return load_cifar(CIFAR10, data_dir, **options)


def _fetch(root: Path, spec: CifarSpec, checksums: Mapping[str, str], download: bool,
           progress: Progress | None) -> None:
    """Extract the archive in ``root`` when it is intact, else download it (when allowed) and extract it."""
    archive = root / spec.archive
    expected = checksums.get(spec.archive)
    limits = {name: spec.max_bytes(name) for name in spec.files}
    if archive.is_file():
        _check_size(archive, archive.stat().st_size, spec)
    if archive.is_file() and (expected is None or _md5(archive, spec) == expected):
        safe_extract(archive, root, spec.folder, limits, spec.title)
    elif download:
        check_download_target(root, spec)
        _download(root, spec, expected, progress)
        safe_extract(archive, root, spec.folder, limits, spec.title)
    elif archive.is_file():
        raise DatasetError(f"{spec.title} archive {archive} is corrupt (checksum mismatch); delete it and download "
                           "again")
    else:
        raise DatasetError(f"{spec.title} is not in {root}; put {spec.archive} there, allow the download, or choose "
                           "the synthetic dataset")


def _download(root: Path, spec: CifarSpec, md5: str | None, progress: Progress | None) -> None:
    from torchvision.datasets.utils import download_url

    real_folder(root, spec.title)
    try:
        with _progress_to(progress):
            download_url(spec.url, str(root), filename=spec.archive, md5=md5)
    except (OSError, EOFError, RuntimeError) as exc:
        # torchvision raises a bare RuntimeError when the downloaded archive fails its md5 check.
        why = "the download is corrupt (checksum mismatch)" if type(exc) is RuntimeError else reason(exc)
        raise DatasetError(f"could not download {spec.title} to {root}: {why}; put {spec.archive} there or choose "
                           "the synthetic dataset") from None
    if not (root / spec.archive).is_file():
        raise DatasetError(f"could not download {spec.title} to {root}: the download did not arrive; put "
                           f"{spec.archive} there or choose the synthetic dataset")


class _CallbackBar:
    """Stands in for the tqdm bar torchvision's downloader draws, handing its byte counts to a callback."""

    def __init__(self, progress: Progress, total: int | None = None, **_: object) -> None:
        self._progress, self._total, self._done = progress, total or 0, 0

    def __enter__(self) -> "_CallbackBar":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        self._done += n
        self._progress(self._done, self._total)


@contextlib.contextmanager
def _progress_to(progress: Progress | None) -> Iterator[None]:
    """While downloading, send progress to ``progress`` instead of torchvision's tqdm bar on stderr.

    torchvision takes no progress argument; its downloader draws ``utils.tqdm``, so that name is swapped for the
    duration of the download (a download runs on its process's one thread, so nothing else sees the swap)."""
    from torchvision.datasets import utils

    if progress is None or not hasattr(utils, "tqdm"):
        yield
        return
    original = utils.tqdm
    utils.tqdm = functools.partial(_CallbackBar, progress)
    try:
        yield
    finally:
        utils.tqdm = original


def _verify(folder: Path, spec: CifarSpec, checksums: Mapping[str, str]) -> None:
    """md5-check every file, skipping the files the stamp vouches for (unchanged since they were hashed)."""
    stamp_path = folder / STAMP
    stamp = read_stamp(folder)
    verified = {}
    for name in spec.files:
        path = folder / name
        expected = checksums.get(name)
        if expected is None:
            raise DatasetError(f"no md5 sum is known for {spec.title} file {path}; it cannot be checked")
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise DatasetError(f"{spec.title} file {path} is missing; delete the folder {folder} and download "
                               "again") from None
        _check_size(path, stat.st_size, spec)  # before hashing: a vouched-for file may be of any size
        entry = identity(stat, expected)
        if stamp.get(name) != entry and _md5(path, spec) != expected:
            raise DatasetError(f"{spec.title} file {path} is corrupt (checksum mismatch); delete it and download again")
        verified[name] = entry
    if verified != stamp:
        try:
            atomic_write(stamp_path, json.dumps(verified))
        except OSError:
            pass  # A read-only data folder still loads; it is only hashed again next time.


def _check_size(path: Path, size: int, spec: CifarSpec) -> None:
    if size > spec.max_bytes(path.name):
        raise too_large(spec.title, path, size, spec.max_bytes(path.name))


def _md5(path: Path, spec: CifarSpec) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open_regular(path) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"could not read {spec.title} file {path} ({reason(exc)}); check that it is readable") from None
    return digest.hexdigest()


def _read_batch(path: Path, spec: CifarSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 3, 32, 32] uint8 (each row of the file is the R, G and B planes, row-major) and int64 labels;
    never more images than the published file holds."""
    entry = unpickle(path, spec.title, spec.max_bytes(path.name))
    data, labels = entry.get(b"data"), entry.get(spec.label_key)
    rows = spec.rows(path.name)
    if isinstance(data, np.ndarray) and data.ndim == 2 and len(data) > rows:
        raise DatasetError(f"{spec.title} file {path} holds {len(data):,} images, more than the {rows:,} of the "
                           f"published {path.name}; delete it and download again")
    if (
        not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32
        or not isinstance(labels, list) or len(labels) != len(data)
        or not all(type(label) is int and 0 <= label < spec.classes for label in labels)
    ):
        found = f"data {getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        raise DatasetError(
            f"{spec.title} file {path} does not hold {spec.title} images (expected uint8 data of shape [n, 3072] and "
            f"n labels 0-{spec.classes - 1}, found {found.strip()}); delete it and download again"
        )
    images = torch.from_numpy(np.ascontiguousarray(data)).reshape(-1, 3, 32, 32)
    return images, torch.tensor(labels, dtype=torch.int64)


def _read_classes(path: Path, spec: CifarSpec) -> tuple[str, ...]:
    names = unpickle(path, spec.title, spec.max_bytes(path.name)).get(spec.names_key)
    if not isinstance(names, list) or len(names) != spec.classes or not all(isinstance(n, bytes) for n in names):
        raise DatasetError(f"{spec.title} file {path} does not hold the {spec.classes} class names; delete it and "
                           "download again")
    return tuple(n.decode("ascii", "replace") for n in names)
