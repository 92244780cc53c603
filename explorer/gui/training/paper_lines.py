"""The paper's CIFAR-10 test errors (Table 6) as dotted lines in the ResNet panel, for the depths shown only.

Each line's value goes into the legend ("paper ResNet-56 on CIFAR-10: 6.97 %"), not onto the plot, so labels never
pile up however close the errors are. Only the paper's own networks get a line: CIFAR, basic blocks, option A, 10
classes, one of the depths of Table 6 - and only for runs on CIFAR-10 (the caller's choice of models).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from explorer.config.model import ModelConfig
from explorer.config.paper import paper_seed_spread, paper_test_error


class PaperLines:
    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._lines: list[tuple[pg.InfiniteLine, pg.PlotDataItem]] = []

    def show(self, models: list[ModelConfig]) -> None:
        """Lines for the paper's figure of each residual network in ``models`` that the paper trained."""
        from explorer.gui.widgets.theme import depth_colour

        self.clear()
        values = {}
        for model in models:
            value = paper_test_error(model)
            if value is not None:
                values[model.depth] = value
        for depth, value in sorted(values.items()):
            pen = pg.mkPen(depth_colour(depth), width=1.2, style=Qt.PenStyle.DotLine)
            line = pg.InfiniteLine(pos=value, angle=0, pen=pen)
            spread = paper_seed_spread(depth)
            said = f" (best of {spread[2]}; {spread[0]:.2f} ± {spread[1]:.2f})" if spread else ""
            entry = pg.PlotDataItem(pen=pen, name=f"paper ResNet-{depth} on CIFAR-10: {value:.2f} %{said}")
            self._plot.addItem(line, ignoreBounds=True)
            self._plot.addItem(entry)
            self._lines.append((line, entry))

    def clear(self) -> None:
        for line, entry in self._lines:
            self._plot.removeItem(line)
            self._plot.removeItem(entry)
            self._plot.legend.removeItem(entry)
        self._lines = []

    def follow_legend(self, item) -> None:
        """A click on a paper entry in the legend hides or shows its line."""
        for line, entry in self._lines:
            if entry is item:
                line.setVisible(entry.isVisible())
