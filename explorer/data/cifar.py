"""CIFAR-10 on disk: download (through torchvision's downloader), integrity, and reading without running code.

The batch files are Python pickles, and unpickling a file can run any code it names. A data folder is not
trusted code, so the reader's unpickler builds only the few numpy objects the real files are made of and
refuses anything else. Each file's md5 is checked against the published list; the result is remembered in a
stamp (size, mtime, md5 per file) so later loads do not hash 180 MB again (torchvision re-hashes every time).
Every failure a person can fix is a ``DatasetError`` whose message is one sentence: the file, what is wrong,
what to do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import tarfile
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch

from explorer.data.dataset import Dataset

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
STAMP = ".verified"
# A folder written by something other than the official archive (the test fixture, a private copy) may list its
# own md5 sums here; the official archive has none, so the published sums below apply to every real download.
MANIFEST = "md5sums.json"

# The published md5 sums, as torchvision.datasets.CIFAR10 lists them (a test keeps the two equal). Copied rather
# than imported because importing torchvision.datasets costs more than a second at every start.
CHECKSUMS: Mapping[str, str] = {
    ARCHIVE: "c58f30108f718f92721af3b95e74349a",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    TEST_FILE: "40351d587109b95175f43aff81a1287e",
    META_FILE: "5ff9c542aee3614f3951f8cda6e48888",
}

Progress = Callable[[int, int], None]


class DatasetError(Exception):
    """A dataset that cannot be used; ``str()`` is one sentence for a person."""


def default_data_dir() -> Path:
    """``$RESNET_EXPLORER_DATA``, else the per-user cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    configured = os.environ.get("RESNET_EXPLORER_DATA")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "resnet-explorer" / "cifar10"


def load_cifar10(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load CIFAR-10 from ``data_dir``, extracting or downloading ``cifar-10-python.tar.gz`` there if needed.

    ``checksums`` maps file names (the archive and each batch file) to md5 sums; by default the folder's
    ``md5sums.json`` when it has one, else the published sums. ``progress(done_bytes, total_bytes)`` replaces the
    download bar on stderr.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root / FOLDER
    checksums = _manifest(folder) if checksums is None else checksums
    if not all((folder / name).is_file() for name in (*TRAIN_FILES, TEST_FILE, META_FILE)):
        _fetch(root, checksums, download, progress)
    _verify(folder, checksums)
    train = [_read_batch(folder / name) for name in TRAIN_FILES]
    test_images, test_labels = _read_batch(folder / TEST_FILE)
    return Dataset(
        train_images=torch.cat([images for images, _ in train]),
        train_labels=torch.cat([labels for _, labels in train]),
        test_images=test_images,
        test_labels=test_labels,
        classes=_read_classes(folder / META_FILE),
        name="cifar10",
    )


def _manifest(folder: Path) -> Mapping[str, str]:
    path = folder / MANIFEST
    if not path.is_file():
        return CHECKSUMS
    try:
        sums = json.loads(path.read_text())
    except (OSError, ValueError):
        sums = None
    if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
        raise DatasetError(f"checksum list {path} is unreadable; delete it to check against the published sums")
    return sums


def _fetch(root: Path, checksums: Mapping[str, str], download: bool, progress: Progress | None) -> None:
    """Extract the archive in ``root`` when it is intact, else download it (when allowed) and extract it."""
    archive = root / ARCHIVE
    expected = checksums.get(ARCHIVE)
    if archive.is_file() and (expected is None or _md5(archive) == expected):
        from torchvision.datasets.utils import extract_archive

        try:
            extract_archive(str(archive), str(root))
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise DatasetError(
                f"CIFAR-10 archive {archive} could not be extracted ({_reason(exc)}); delete it and download again"
            ) from None
    elif download:
        _download(root, expected, progress)
    elif archive.is_file():
        raise DatasetError(f"CIFAR-10 archive {archive} is corrupt (checksum mismatch); delete it and download again")
    else:
        raise DatasetError(f"CIFAR-10 is not in {root}; put {ARCHIVE} there, allow the download, "
                           "or use --dataset synthetic")


def _download(root: Path, md5: str | None, progress: Progress | None) -> None:
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        with _progress_to(progress):
            download_and_extract_archive(URL, str(root), filename=ARCHIVE, md5=md5)
    except (OSError, EOFError, RuntimeError, tarfile.TarError) as exc:
        # torchvision raises a bare RuntimeError when the downloaded archive fails its md5 check.
        reason = "the download is corrupt (checksum mismatch)" if type(exc) is RuntimeError else _reason(exc)
        raise DatasetError(
            f"could not download CIFAR-10 to {root}: {reason}; put {ARCHIVE} there or use --dataset synthetic"
        ) from None


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
    duration of the download (a training child downloads on its one thread, so nothing else sees the swap).
    """
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


def _verify(folder: Path, checksums: Mapping[str, str]) -> None:
    """md5-check every file that has a checksum, skipping files whose size and mtime the stamp already vouches for."""
    stamp_path = folder / STAMP
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    verified = {}
    for name in (*TRAIN_FILES, TEST_FILE, META_FILE):
        path = folder / name
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise DatasetError(
                f"CIFAR-10 file {path} is missing; delete the folder {folder} and download again"
            ) from None
        expected = checksums.get(name)
        if expected is None:
            continue
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": expected}
        if stamp.get(name) != entry and _md5(path) != expected:
            raise DatasetError(f"CIFAR-10 file {path} is corrupt (checksum mismatch); delete it and download again")
        verified[name] = entry
    if verified != stamp:
        try:
            tmp = stamp_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(verified))
            os.replace(tmp, stamp_path)
        except OSError:
            pass  # A read-only data folder still loads; it is only hashed again next time.


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"could not read CIFAR-10 file {path} ({_reason(exc)}); check that it is readable") from None
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason)


def _numpy_reconstruct() -> Callable:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class _SafeUnpickler(pickle.Unpickler):
    """Builds plain containers and numpy arrays only; any other global a pickle names is refused, not imported."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            # encoding='bytes' as the format's authors load it: the Python 2 strings stay bytes (b'data', ...).
            entry = _SafeUnpickler(f, encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise DatasetError(
            f"CIFAR-10 file {path} was refused: it asks to run code ({exc}), which no CIFAR-10 file does; "
            "delete it and download again"
        ) from None
    except OSError as exc:
        raise DatasetError(f"could not read CIFAR-10 file {path} ({_reason(exc)}); check that it is readable") from None
    except Exception as exc:  # A damaged pickle can fail in many ways (EOFError, UnpicklingError, ValueError, ...).
        raise DatasetError(
            f"CIFAR-10 file {path} is truncated or damaged ({type(exc).__name__}); delete it and download again"
        ) from None
    if not isinstance(entry, dict):
        raise DatasetError(f"CIFAR-10 file {path} does not hold a CIFAR-10 batch; delete it and download again")
    return entry


def _read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 3, 32, 32] uint8 (each row of the file is the R, G and B planes, row-major) and int64 labels."""
    entry = _unpickle(path)
    data, labels = entry.get(b"data"), entry.get(b"labels")
    if (
        not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32
        or not isinstance(labels, list) or len(labels) != len(data)
        or not all(type(label) is int and 0 <= label <= 9 for label in labels)
    ):
        found = f"data {getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        raise DatasetError(
            f"CIFAR-10 file {path} does not hold CIFAR-10 images (expected uint8 data of shape [n, 3072] and n "
            f"labels 0-9, found {found.strip()}); delete it and download again"
        )
    images = torch.from_numpy(np.ascontiguousarray(data)).reshape(-1, 3, 32, 32)
    return images, torch.tensor(labels, dtype=torch.int64)


def _read_classes(path: Path) -> tuple[str, ...]:
    names = _unpickle(path).get(b"label_names")
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(n, bytes) for n in names):
        raise DatasetError(f"CIFAR-10 file {path} does not hold the 10 class names; delete it and download again")
    return tuple(n.decode("ascii", "replace") for n in names)
