"""Statistics over the seeds of a run, the one place they are computed: the curves' mean ± std bands, the runs
table's "best (mean ± std over N)" and the CSV's mean rows all come from here. No Qt, no torch.

The spread is the sample standard deviation (n − 1 in the denominator), as a paper's "mean ± std" over a few
runs is (He et al. report ResNet-110 as 6.43 (6.61 ± 0.16) over 5 runs); with one seed it is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spread:
    """The best, mean and sample std of one number over the seeds that have it."""

    best: float
    mean: float
    std: float
    count: int


def spread(values: list[float]) -> Spread | None:
    """The spread of ``values`` (the finite ones); None when there is none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else 0.0
    return Spread(best=min(finite), mean=mean, std=std, count=len(finite))


@dataclass(frozen=True)
class Band:
    """Mean and sample std over seeds at each x where any seed has a point; ``count`` seeds at each."""

    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


def band(curves: list[tuple[np.ndarray, np.ndarray]]) -> Band:
    """The band of several seeds' curves, each (x, y). The seeds of a run log at the same iterations, so each x
    has every seed's point, except past the point a seed diverged at (then the seeds still training make it)."""
    pairs = [(np.asarray(x, float), np.asarray(y, float)) for x, y in curves if len(x)]
    if not pairs:
        empty = np.empty(0)
        return Band(empty, empty, empty, np.empty(0, int))
    xs = np.concatenate([x for x, _ in pairs])
    ys = np.concatenate([y for _, y in pairs])
    keep = np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    x, where = np.unique(xs, return_inverse=True)
    count = np.bincount(where, minlength=len(x))
    mean = np.bincount(where, weights=ys, minlength=len(x)) / np.maximum(count, 1)
    squares = np.bincount(where, weights=(ys - mean[where]) ** 2, minlength=len(x))
    std = np.sqrt(np.where(count > 1, squares / np.maximum(count - 1, 1), 0.0))
    return Band(x, mean, std, count)
