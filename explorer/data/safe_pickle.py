"""Reading the CIFAR batch pickles without running code.

Unpickling a file can run any code it names, and a data folder is not trusted code, so this unpickler builds
only the few objects the real files are made of: plain containers, numpy arrays and their dtypes, and - for
files re-pickled by Python 3 with protocol 2 - ``_codecs.encode(text, 'latin1')``, which is how such a file
spells bytes (torch's own safe loader allows it too). Anything else a pickle names is refused, not imported.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.data.errors import DatasetError, reason
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


class RefusedGlobal(pickle.UnpicklingError):
    pass


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


def unpickle(path: Path, what: str) -> dict:
    """The dict a batch file holds; ``what`` names the dataset in the sentence ("CIFAR-10 file …")."""
    try:
        with open_regular(path) as f:
            # encoding='bytes' as the format's authors load it: the Python 2 strings stay bytes (b'data', ...).
            entry = _SafeUnpickler(f, encoding="bytes").load()
    except RefusedGlobal as exc:
        raise DatasetError(
            f"{what} file {path} was refused: it asks to run code ({exc}), which no {what} file does; "
            "delete it and download again"
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
