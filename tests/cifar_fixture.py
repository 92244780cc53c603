"""Writes a small CIFAR-10 or CIFAR-100 folder in the exact on-disk format of the real ``cifar-10-batches-py``
and ``cifar-100-python``.

The real files were pickled by Python 2 (protocol 2): strings are Python 2 ``str`` (loaded as bytes with
``encoding='bytes'``), the image array is rebuilt by ``numpy.core.multiarray._reconstruct``, and each row of
``data`` holds 1024 red, then 1024 green, then 1024 blue bytes of a row-major 32x32 image. Python 3's pickler
would write bytes as ``_codecs.encode`` calls and name ``numpy._core``; the pickler below writes what
Python 2 wrote, so the reader is tested on the format it meets in the wild.

CIFAR-100 has one ``train`` and one ``test`` file and a ``meta`` file; its entries carry ``fine_labels`` (the 100
classes) beside ``coarse_labels`` (20 superclasses), and ``meta`` has ``fine_label_names`` and
``coarse_label_names``.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER_100 = "cifar-100-python"
FINE_NAMES = tuple(f"fine_{i:02d}" for i in range(100))
COARSE_NAMES = tuple(f"coarse_{i:02d}" for i in range(20))


class _Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: str and bytes alike become Python 2 strings."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: str | bytes) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, np.dtype):  # Python 2's numpy: dtype('u1', 0, 1) with the version-3 state
            return np.dtype, (obj.str[1:], 0, 1), (3, obj.byteorder, None, None, None, -1, -1, 0)
        return NotImplemented

    def save_global(self, obj: object, name: str | None = None) -> None:
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def dumps_py2(obj: object) -> bytes:
    """``obj`` pickled as Python 2's cPickle wrote the CIFAR-10 files (protocol 2)."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def batch_images(n: int, seed: int, index: int, classes: int = 10) -> tuple[np.ndarray, list[int]]:
    """The rows (uint8 [n, 3072]) and labels the fixture writes into batch ``index`` (0-4 train, 5 test)."""
    rng = np.random.default_rng([seed, index])
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in (np.arange(n) + index) % classes]
    return data, labels


def write_cifar_dir(root: Path, n_per_batch: int = 20, seed: int = 0, *, manifest: bool = True,
                    python3: bool = False) -> dict[str, str]:
    """Write ``root/cifar-10-batches-py/`` (5 training batches and a test batch of ``n_per_batch`` images each,
    plus ``batches.meta``) and return the md5 of each file, keyed by file name, for ``load_cifar10(checksums=)``.

    With ``manifest`` the sums are also written to the folder's ``md5sums.json``, so that code which cannot pass
    checksums (``load_dataset``, the ``train`` command in a child process) loads the folder as it is. With
    ``python3`` the files are pickled as Python 3 re-pickles them with protocol 2 (bytes as ``_codecs.encode``)."""
    dumps = (lambda obj: pickle.dumps(obj, protocol=2)) if python3 else dumps_py2
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for index, name in enumerate((*TRAIN_FILES, "test_batch")):
        data, labels = batch_images(n_per_batch, seed, index)
        title = f"training batch {index + 1} of 5" if index < 5 else "testing batch 1 of 1"
        entry = {
            b"batch_label": title.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"image_{index}_{i:05d}.png".encode() for i in range(n_per_batch)],
        }
        checksums[name] = _write(folder / name, dumps(entry))
    meta = {b"num_cases_per_batch": n_per_batch, b"label_names": [n.encode() for n in LABEL_NAMES], b"num_vis": 3072}
    checksums["batches.meta"] = _write(folder / "batches.meta", dumps(meta))
    if manifest:
        (folder / "md5sums.json").write_text(json.dumps(checksums))
    return checksums


def write_cifar100_dir(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0, *,
                       manifest: bool = True) -> dict[str, str]:
    """Write ``root/cifar-100-python/`` (``train``, ``test``, ``meta``) as CIFAR-100's authors did, and return the
    md5 of each file; ``manifest`` as for :func:`write_cifar_dir`. Train and test hold the rows of
    ``batch_images(n, seed, 0 | 5, classes=100)``; the coarse label of fine label ``f`` is ``f % 20``."""
    folder = Path(root) / FOLDER_100
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for index, name, n in ((0, "train", n_train), (5, "test", n_test)):
        data, fine = batch_images(n, seed, index, classes=100)
        entry = {
            b"filenames": [f"image_{index}_{i:05d}.png".encode() for i in range(n)],
            b"batch_label": f"{name}ing batch 1 of 1".encode(),
            b"fine_labels": fine,
            b"coarse_labels": [f % 20 for f in fine],
            b"data": data,
        }
        checksums[name] = _write(folder / name, dumps_py2(entry))
    meta = {b"fine_label_names": [n.encode() for n in FINE_NAMES],
            b"coarse_label_names": [n.encode() for n in COARSE_NAMES]}
    checksums["meta"] = _write(folder / "meta", dumps_py2(meta))
    if manifest:
        (folder / "md5sums.json").write_text(json.dumps(checksums))
    return checksums


def write_cifar_archive(root: Path, n_per_batch: int = 20, seed: int = 0, *, hundred: bool = False
                        ) -> dict[str, str]:
    """Write ``root/cifar-10-python.tar.gz`` (``hundred``: ``cifar-100-python.tar.gz``) holding the fixture
    folder (not extracted) and return the checksums, the archive's included under its file name."""
    staging = Path(root) / ".staging"
    if hundred:
        checksums = write_cifar100_dir(staging, 3 * n_per_batch, n_per_batch, seed, manifest=False)
        folder, archive = FOLDER_100, Path(root) / "cifar-100-python.tar.gz"
    else:
        checksums = write_cifar_dir(staging, n_per_batch, seed, manifest=False)
        folder, archive = FOLDER, Path(root) / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / folder, arcname=folder)
    for path in sorted((staging / folder).iterdir()):
        path.unlink()
    (staging / folder).rmdir()
    staging.rmdir()
    checksums[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    return checksums


def _write(path: Path, payload: bytes) -> str:
    path.write_bytes(payload)
    return hashlib.md5(payload).hexdigest()
