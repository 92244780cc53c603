"""A run's curves as numbers, built from its events; no Qt, no torch.

:class:`RunSeries` takes a run's events as they come (all at once for a finished run, a few lines at a time for
a live one) and keeps, per network, the training error and the test error as growing numpy buffers, the
iteration a diverged network stopped at, the epochs per iteration and the lr milestones. A ``resume`` event
drops the points it supersedes (:func:`explorer.runs.events.superseded`, the one resume rule), as
:func:`explorer.runs.events.effective_events` does for a whole file. The GUI draws these buffers; the figure
exports and the CSV read the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from explorer.config.run import network_key
from explorer.runs.events import superseded


class Series:
    """Growing buffers of (iteration, value); capacity doubles so appends are amortised O(1)."""

    def __init__(self) -> None:
        self.n = 0
        self._x = np.empty(256)
        self._y = np.empty(256)
        self._smooth = np.empty(0)
        self._smooth_n = 0
        self._weight = -1.0
        self._acc = 0.0

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n], self._y[self.n] = x, y
        self.n += 1

    def drop_superseded(self, resumed_at: int) -> None:
        """Drop the points a resume to ``resumed_at`` supersedes: those past it (the points are in iteration
        order, so they are the tail)."""
        self.n = int(np.searchsorted(self._x[:self.n], resumed_at, side="right"))
        self._smooth_n = min(self._smooth_n, self.n)
        self._weight = -1.0  # the running average restarts

    def smoothed(self, weight: float) -> np.ndarray:
        """Debiased exponential moving average (TensorBoard's smoothing) of ``y``, extended incrementally so a
        redraw costs only the new points."""
        if weight != self._weight:
            self._weight, self._smooth_n, self._acc = weight, 0, 0.0
        if len(self._smooth) < len(self._y):
            self._smooth = np.resize(self._smooth, len(self._y))
        acc = self._acc
        for i in range(self._smooth_n, self.n):
            acc = weight * acc + (1.0 - weight) * self._y[i]
            self._smooth[i] = acc / (1.0 - weight ** (i + 1))
        self._acc, self._smooth_n = acc, self.n
        return self._smooth[:self.n]

    def nearest(self, x: float) -> tuple[float, float] | None:
        """The point whose iteration is nearest ``x``."""
        if not self.n:
            return None
        i = int(np.clip(np.searchsorted(self.x, x), 0, self.n - 1))
        if i and abs(self._x[i - 1] - x) <= abs(self._x[i] - x):
            i -= 1
        return float(self._x[i]), float(self._y[i])

    def last(self) -> float | None:
        return float(self._y[self.n - 1]) if self.n else None


def _seed(event: dict) -> int | None:
    seed = event.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class NetworkSeries:
    """One network of a run (one model, one seed): training and test error in percent, and where it diverged."""

    name: str  # its network_key: "resnet-56", or "resnet-56-seed3"
    model: str = ""
    seed: int | None = None
    train: Series = field(default_factory=Series)
    test: Series = field(default_factory=Series)
    diverged_at: int | None = None
    changed: bool = True


@dataclass
class RunSeries:
    """Every network of one run, filled from its events."""

    networks: dict[str, NetworkSeries] = field(default_factory=dict)
    epochs_per_iteration: float = 0.0
    milestones: tuple[int, ...] = ()
    last_iteration: int = 0

    def network(self, model: str, seed: int | None = None) -> NetworkSeries:
        name = network_key(model, seed)
        if name not in self.networks:
            self.networks[name] = NetworkSeries(name, model, seed)
        return self.networks[name]

    def seeds_of(self, model: str) -> list[NetworkSeries]:
        """Every seed's series of ``model``, in seed order."""
        found = [n for n in self.networks.values() if n.model == model]
        return sorted(found, key=lambda n: -1 if n.seed is None else n.seed)

    def add(self, events: list[dict]) -> bool:
        """Take events in file order; True when a curve changed."""
        changed = False
        for event in events:
            kind = event.get("type")
            if kind == "start":
                self.milestones = tuple(event.get("milestones") or self.milestones)
            elif kind == "train" and _finite(event.get("error")):
                net = self.network(event["model"], _seed(event))
                it = event["iteration"]
                net.train.append(it, 100.0 * event["error"])
                if not self.epochs_per_iteration and _finite(event.get("epoch")) and it > 0:
                    self.epochs_per_iteration = float(event["epoch"]) / it
                self.last_iteration = max(self.last_iteration, it)
                net.changed = changed = True
            elif kind == "eval" and _finite(event.get("test_error")):
                net = self.network(event["model"], _seed(event))
                net.test.append(event["iteration"], 100.0 * event["test_error"])
                net.changed = changed = True
            elif kind == "diverged":
                net = self.network(event["model"], _seed(event))
                net.diverged_at = event["iteration"]
                net.changed = changed = True
            elif kind == "resume":
                at = event["iteration"]
                for net in self.networks.values():
                    net.train.drop_superseded(at)
                    net.test.drop_superseded(at)
                    if superseded(net.diverged_at, at):
                        net.diverged_at = None
                    net.changed = changed = True
                self.last_iteration = min(self.last_iteration, at)
        return changed

    def extent(self) -> tuple[float, float]:
        """The largest iteration and the largest error (percent) any curve holds; (0, 0) when empty."""
        x = y = 0.0
        for net in self.networks.values():
            for series in (net.train, net.test):
                if series.n:
                    x = max(x, float(series.x[-1]))
                    y = max(y, float(np.nanmax(series.y)))
        return x, y
