"""Reading the CIFAR batch pickles without running code, and without a small file asking for a large memory.

Unpickling a file can run any code it names, and a data folder is not trusted code, so this unpickler builds
only the few objects the real files are made of: plain containers, numpy arrays and their dtypes, and - for
files re-pickled by Python 3 with protocol 2 - ``_codecs.encode(text, 'latin1')``, which is how such a file
spells bytes (torch's own safe loader allows it too). Anything else a pickle names is refused, not imported.

The numpy names it allows could still ask for memory the file does not hold: ``numpy.ndarray(shape)`` or
``_reconstruct(ndarray, shape, ...)`` is an uninitialised array of any shape (a 0.6 MB file asked for 300,000
images, 1.4 GB), and an array filled from the file's bytes with a byte-swapped dtype is a copy of them, so many
arrays made from one string are many copies. numpy's own pickles make every array as ``_reconstruct(ndarray,
(0,), b'b')`` and then fill it from bytes the file holds, and a CIFAR file holds one array: that is all this
unpickler allows. The file's size is bounded before it is read, so what it builds is bounded by a small
multiple of that.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.data.errors import DatasetError, reason, too_large
from explorer.system.files import open_regular


def _numpy_reconstruct() -> Callable:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as a protocol-2 pickle from Python 3 uses it: a str of byte values back to bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not bytes")
    return text.encode("latin1")


class Refused(pickle.UnpicklingError):
    """What a file asks for that no genuine one does, worded to follow "it asks" in a sentence."""


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class _ArrayType:
    """Stands for ``numpy.ndarray`` where a pickle names it: handed to ``_reconstruct`` it is the real type, and
    called itself (an uninitialised array of any shape) it refuses."""

    def __call__(self, shape: object = None, *args: object, **kwargs: object) -> None:
        raise Refused(f"for an array of shape {_brief(shape)} without the data to fill it")


_ARRAY_TYPE = _ArrayType()


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }
    _RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
    _real_reconstruct = staticmethod(_numpy_reconstruct())

    def __init__(self, file, **options) -> None:
        super().__init__(file, **options)
        self._arrays = 0

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("numpy", "ndarray"):
            return _ARRAY_TYPE
        if (module, name) in self._RECONSTRUCT:
            return self._reconstruct
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"to run code ({module}.{name})") from None

    def _reconstruct(self, subtype: object, shape: object, typecode: object) -> np.ndarray:
        """An empty array for the pickle to fill from its own bytes, as numpy pickles one; one per file."""
        if subtype is not _ARRAY_TYPE:
            raise Refused(f"for an array of type {_brief(subtype)}")
        if not isinstance(shape, tuple) or not all(type(n) is int for n in shape) or 0 not in shape:
            raise Refused(f"for an array of shape {_brief(shape)} without the data to fill it")
        self._arrays += 1
        if self._arrays > 1:  # a batch file holds one array, its images (the labels are a list)
            raise Refused("for more than one array")
        return self._real_reconstruct(np.ndarray, shape, typecode)


def unpickle(path: Path, what: str, max_bytes: int) -> dict:
    """The dict a batch file holds; ``what`` names the dataset in the sentence ("CIFAR-10 file …"); a file of
    more than ``max_bytes`` is refused before it is read."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise too_large(what, path, size, max_bytes)
            # encoding='bytes' as the format's authors load it: the Python 2 strings stay bytes (b'data', ...).
            entry = _SafeUnpickler(f, encoding="bytes").load()
    except DatasetError:
        raise
    except Refused as exc:
        raise DatasetError(
            f"{what} file {path} was refused: it asks {exc}, which no {what} file does; delete it and download again"
        ) from None
    except OSError as exc:
        raise DatasetError(f"could not read {what} file {path} ({reason(exc)}); check that it is readable") from None
    except Exception as exc:  # A damaged pickle can fail in many ways (EOFError, UnpicklingError, ValueError, ...).
        raise DatasetError(
            f"{what} file {path} is truncated or damaged ({type(exc).__name__}); delete it and download again"
        ) from None
    if not isinstance(entry, dict):
        raise DatasetError(f"{what} file {path} does not hold a {what} batch; delete it and download again")
    return entry
