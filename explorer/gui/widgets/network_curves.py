"""The lines of one network of one shown run in Figure 6: its training error (smoothed, over the faint raw
curve), its test error and, when it diverged, where. For a run of several seeds the lines are the seeds' mean
with a ± std band around each (the numbers from :mod:`explorer.runs.seed_stats`), and each seed's own curves when
asked for. The items are made once and fed with ``setData``."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from explorer.config.model import ModelConfig
from explorer.runs.seed_stats import Band, band
from explorer.runs.series import NetworkSeries
from explorer.gui.widgets.theme import OVERLAY_COLOURS, PLAIN_SHADE, depth_colour

def on_left(model: ModelConfig, start_from: str) -> bool:
    """Which of the two side-by-side panels draws ``model`` of a run whose ResNets start ``start_from``: plain nets
    left, ResNets right (Figure 6); in a run that trains each ResNet both from scratch and from weights, the ones
    from scratch left and the pretrained ones right."""
    return model.plain or (start_from == "both" and model.weights is None)


def panel_title(models: list[ModelConfig], left: bool) -> str:
    """The title of a panel that draws ``models`` (every shown run's networks on that side)."""
    if left:
        kinds = ["Plain networks" if any(m.plain for m in models) else "",
                 "ResNets from scratch" if any(not m.plain for m in models) else ""]
    else:
        kinds = ["Residual networks (ResNets)" if any(m.weights is None for m in models) else "",
                 "ResNets from pretrained weights" if any(m.weights is not None for m in models) else ""]
    return " · ".join(filter(None, kinds))


def overlay_colour(index: int) -> str:
    """The colour of the ``index``-th network overlaid (counting every overlay's networks in order)."""
    return OVERLAY_COLOURS[index % len(OVERLAY_COLOURS)]


def network_colour(model: ModelConfig) -> str:
    """A network's colour where plain and residual nets share a panel: its depth's, darker for a plain net."""
    colour = QColor(depth_colour(model.depth))
    return colour.darker(PLAIN_SHADE).name() if model.plain else colour.name()


def _faint(colour: QColor, alpha: int) -> QColor:
    colour = QColor(colour)
    colour.setAlpha(alpha)
    return colour


class _Band:
    """A ± std band: two invisible edges and the fill between them. The edges are plain curves, not the plot's
    data items: those are clipped to the view, and the fill, computed from them when the data is set, is not
    computed again when the view changes - a band drawn before its linked panel had its range stayed empty."""

    def __init__(self, plot: pg.PlotItem, colour: QColor, alpha: int) -> None:
        edge = pg.mkPen(_faint(colour, 0))
        self.upper, self.lower = pg.PlotCurveItem(pen=edge), pg.PlotCurveItem(pen=edge)
        for item in (self.upper, self.lower):
            plot.addItem(item)
        self.fill = pg.FillBetweenItem(self.upper, self.lower, brush=_faint(colour, alpha))
        plot.addItem(self.fill)

    def items(self) -> list:
        return [self.upper, self.lower, self.fill]

    def set(self, x: np.ndarray, numbers: Band | None) -> None:
        if numbers is None:
            self.upper.setData([], [])
            self.lower.setData([], [])
        else:
            self.upper.setData(x, numbers.mean + numbers.std)
            self.lower.setData(x, numbers.mean - numbers.std)
        self.fill.updatePath()


class NetworkCurves:
    """One network's items in its panel; ``test`` is its legend entry."""

    def __init__(self, model: ModelConfig, plot: pg.PlotItem, *, overlay: bool, run_name: str, seeds: int = 1,
                 colour: str | None = None):
        seeded = seeds > 1
        self.model, self.plot, self.seeded = model, plot, seeded
        self.colour = QColor(colour or depth_colour(model.depth))
        colour = _faint(self.colour, 150) if overlay else self.colour
        self.label = f"{model.label} · {run_name}" if overlay else model.label
        test_style = Qt.PenStyle.DashDotLine if overlay else Qt.PenStyle.SolidLine
        self._train_style = Qt.PenStyle.DotLine if overlay else Qt.PenStyle.DashLine
        self.raw = plot.plot(pen=pg.mkPen(_faint(self.colour, 50 if overlay else 70), width=1))
        self.train = plot.plot(pen=pg.mkPen(colour, width=1, style=self._train_style))
        self.test = plot.plot(pen=pg.mkPen(colour, width=1.8 if overlay else 2.5, style=test_style),
                              name=self.label + (f" (mean ± std over {seeds} seeds)" if seeded else ""),
                              symbolBrush=colour, symbolPen=None, symbolSize=6)
        self.test.setSymbol(None)
        for kind in ("raw", "train", "test"):  # how a test of the window finds what a person sees
            getattr(self, kind).setObjectName(f"{self.label}: {kind}")
        self.bands = (_Band(plot, self.colour, 28), _Band(plot, self.colour, 55)) if seeded else ()
        self.seed_lines: dict[int | None, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.diverged: pg.TextItem | None = None

    def items(self) -> list:
        found = [self.raw, self.train, self.test]
        for part in self.bands:
            found += part.items()
        for lines in self.seed_lines.values():
            found += list(lines)
        return found + ([self.diverged] if self.diverged else [])

    def remove(self) -> None:
        for item in self.items():
            self.plot.removeItem(item)
        self.plot.legend.removeItem(self.test)

    def set_visible(self, visible: bool) -> None:
        for item in self.items():
            if item is not self.test:
                item.setVisible(visible)

    # --- drawing ------------------------------------------------------------------------------------------
    def draw(self, seeds: list[NetworkSeries], scale: float | None, weight: float, single_seeds: bool) -> None:
        """Draw from every seed's series (one, in a run of one seed); ``scale`` None draws nothing yet."""
        if scale is None:
            for item in self.items():
                if isinstance(item, pg.PlotDataItem):
                    item.setData([], [])
            return
        if not self.seeded:
            self._draw_one(seeds[0], scale, weight)
        else:
            self._draw_band(seeds, scale, weight, single_seeds)
        self._draw_divergence(seeds, scale)

    def _draw_one(self, data: NetworkSeries, scale: float, weight: float) -> None:
        x = data.train.x * scale
        self.raw.setData(x, data.train.y) if weight > 0 else self.raw.setData([], [])
        self.train.setData(x, data.train.smoothed(weight) if weight > 0 else data.train.y)
        self.test.setData(data.test.x * scale, data.test.y)
        self._mark_alone(data.test.n == 1)

    def _draw_band(self, seeds: list[NetworkSeries], scale: float, weight: float, single_seeds: bool) -> None:
        train = band([(s.train.x, s.train.smoothed(weight) if weight > 0 else s.train.y) for s in seeds])
        test = self.test_band(seeds)
        self.raw.setData([], [])
        self.train.setData(train.x * scale, train.mean)
        self.test.setData(test.x * scale, test.mean)
        self._mark_alone(len(test.x) == 1)
        self.bands[0].set(train.x * scale, train if len(train.x) else None)
        self.bands[1].set(test.x * scale, test if len(test.x) else None)
        for data in seeds:
            lines = self.seed_lines.get(data.seed)
            if lines is None and single_seeds:
                pen = pg.mkPen(_faint(self.colour, 110), width=1)
                lines = self.seed_lines[data.seed] = (
                    self.plot.plot(pen=pg.mkPen(_faint(self.colour, 90), width=1, style=self._train_style)),
                    self.plot.plot(pen=pen))
                for line, kind in zip(lines, ("train", "test")):
                    line.setVisible(self.test.isVisible())
                    line.setObjectName(f"{self.label}: seed {data.seed} {kind}")
            if lines is None:
                continue
            train_line, test_line = lines
            if single_seeds:
                train_line.setData(data.train.x * scale, data.train.smoothed(weight) if weight > 0 else data.train.y)
                test_line.setData(data.test.x * scale, data.test.y)
            else:
                train_line.setData([], [])
                test_line.setData([], [])

    def _mark_alone(self, alone: bool) -> None:
        """One evaluation is a point, not yet a line: drawn as a dot, and its legend sample too - until the
        second one (the sample kept its dot once the line had many points)."""
        symbol = "o" if alone else None
        if self.test.opts["symbol"] != symbol:
            self.test.setSymbol(symbol)
            for sample, _label in getattr(self.plot.legend, "items", []):
                sample.update()

    @staticmethod
    def test_band(seeds: list[NetworkSeries]) -> Band:
        return band([(s.test.x, s.test.y) for s in seeds])

    def _draw_divergence(self, seeds: list[NetworkSeries], scale: float) -> None:
        gone = [s for s in seeds if s.diverged_at is not None]
        if not gone:
            if self.diverged is not None:
                self.plot.removeItem(self.diverged)
                self.diverged = None
            return
        if self.diverged is None:
            self.diverged = pg.TextItem(color=self.colour, anchor=(1, 1))
            self.plot.addItem(self.diverged)
        if self.seeded:
            which = ", ".join(f"seed {s.seed} at {s.diverged_at:,}" for s in gone)
            self.diverged.setText(f"{self.model.label} diverged: {which}")
        else:
            self.diverged.setText(f"{self.model.label} diverged at {gone[0].diverged_at:,}")
        first = min(gone, key=lambda s: s.diverged_at)
        self.diverged.setPos(first.diverged_at * scale, first.train.last() or 50.0)

    def readout(self, seeds: list[NetworkSeries], iteration: float) -> list[str]:
        """What the hover readout says of this network near ``iteration``: each curve's nearest point, and for
        several seeds their mean ± std there."""
        parts = []
        for kind in ("train", "test"):
            if not self.seeded:
                near = getattr(seeds[0], kind).nearest(iteration)
                if near is not None:
                    parts.append(f"{kind} {near[1]:.2f}%")
                continue
            numbers = band([(getattr(s, kind).x, getattr(s, kind).y) for s in seeds])
            if len(numbers.x):
                i = int(np.argmin(np.abs(numbers.x - iteration)))
                parts.append(f"{kind} {numbers.mean[i]:.2f} ± {numbers.std[i]:.2f}% ({numbers.count[i]} seeds)")
        return parts
