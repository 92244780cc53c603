"""How the app starts its children (the trainer, the data step, analyses): this Python, this package, and never
code from the folder they work on.

``python -m explorer`` puts its working folder first on the import path, so a child started inside a run or a
data folder would import an ``explorer/`` planted there instead of the app. The children are started with
``-P`` (Python 3.11: no such first entry) and from the folder the package itself comes from, and are told
their folders by absolute path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import explorer

CHILD_CWD = str(Path(explorer.__file__).resolve().parent.parent)


def child_argv(*args: str) -> list[str]:
    """``python [-P] -m explorer <args>`` for this interpreter."""
    safe = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *safe, "-m", "explorer", *args]
