"""The bounds of every number a person can type, and the checks that say so in one sentence.

Every numeric option has a bound, so that a typo (a batch of 99,999,999, a depth of 999,999,998, an input of
100,000 pixels) is refused at once with what is allowed, instead of allocating until the machine runs out of
memory. The bounds are generous: the largest networks and recipes of the papers fit well inside them. The GUI
fields and the CLI flags show these same numbers and messages (one owner of each rule).
"""

from __future__ import annotations

import math
from typing import Any

from explorer.config.errors import ConfigError

MAX_DEPTH = 2000  # ResNet-1202 and pre-activation ResNet-1001 are the deepest nets of the papers
MAX_INPUT_SIZE = 1024
MAX_NUM_CLASSES = 100_000  # ImageNet-21k has 21,841
MAX_ITERATIONS = 10_000_000
MAX_BATCH_SIZE = 65_536
MAX_LR = 1000.0  # far past divergence (the app shows it), yet a typo of 1e9 is refused
MAX_WEIGHT_DECAY = 1.0
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take it; seeds of a run count up from it
MAX_SEEDS = 100
MAX_NETWORKS = 64  # networks of one run, seeds counted: each takes its turn on every batch
MAX_IMAGES = 10_000_000  # a training subset; more than any dataset the app reads
MAX_SYNTHETIC_IMAGES = 200_000  # about 600 MB of uint8 images
MAX_ANALYSIS_IMAGES = 100_000
MAX_LANDSCAPE_POINTS = 201  # steps along one direction of a loss landscape
# Steps along each direction of a landscape on a plane: 51 × 51 = 2,601 evaluations of each network, about an hour
# for ResNet-56 on 500 images of a 2-core CPU (1.5 s each); 201 × 201 would be 40,401, most of a day.
MAX_LANDSCAPE_GRID = 51


def choice(option: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(option, f"{value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def whole(option: str, value: Any, minimum: int, maximum: int) -> None:
    """A whole number in [minimum, maximum]; the message says which bound was crossed."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, f"{value!r} must be a whole number from {minimum:,} to {maximum:,}")
    if value < minimum:
        raise ConfigError(option, f"{value!r} must be a whole number of at least {minimum:,}")
    if value > maximum:
        raise ConfigError(option, f"{value:,} is too large; use at most {maximum:,}")


def number(option: str, value: Any, minimum: float, maximum: float, *, above_minimum: bool = False,
           below_maximum: bool = False) -> None:
    """A finite number in the range; ``above_minimum``/``below_maximum`` make that end open."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(option, f"{value!r} must be a finite number")
    if value < minimum or (above_minimum and value == minimum):
        word = "greater than" if above_minimum else "at least"
        raise ConfigError(option, f"{value!r} must be {word} {minimum:g}")
    if value > maximum or (below_maximum and value == maximum):
        word = "below" if below_maximum else "at most"
        raise ConfigError(option, f"{value!r} is too large; it must be {word} {maximum:g}")


def boolean(option: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(option, f"{value!r} must be true or false")
