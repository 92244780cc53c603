"""A plot's legend that hides nothing: under its panel, in the panel's own layout (so an export carries it too),
in columns; a click on an entry's name toggles its line as a click on its sample does.

pyqtgraph's legend floats over the plot (it covered the ends of good curves, a third of a panel with an overlay)
and sizes itself with ``setGeometry``, which a layout cell would undo; here it tells the layout its size instead."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

COLUMNS = 2
LEGEND_ROW = 4  # a PlotItem's own layout: title, top axis, view, bottom axis (and its label) in rows 0-3


class Legend(pg.LegendItem):
    """Its width is its panel's (it never widens the window); its columns, as many as fit, up to ``columns``."""

    def __init__(self, columns: int = COLUMNS) -> None:
        super().__init__(labelTextSize="9pt", colCount=columns, frame=False)
        self._most = columns
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph)
        """The layout cell's height follows the entries (pyqtgraph would set its own geometry)."""
        self._fit(self.geometry().width())  # (self.size is pyqtgraph's fixed size, None)
        height = self.layout.preferredSize().height() if self.items else 0.0
        self.setMinimumSize(10, height)
        self.setMaximumHeight(height)
        self.updateGeometry()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._fit(event.newSize().width())

    def _fit(self, width: float) -> None:
        """As many columns as entries of the widest kind fit across ``width``."""
        if width <= 0:
            return
        # a label's text width is its minimum width as soon as it is set (its geometry comes later, from the layout)
        widest = max((s.boundingRect().width() + label.minimumWidth() + 2 * self.layout.horizontalSpacing()
                      for s, label in self.items), default=1.0)
        self.setColumnCount(max(1, min(self._most, int(width // widest))))

    def setColumnCount(self, columns: int) -> None:  # noqa: N802 (pyqtgraph)
        """Entries laid out row by row in ``columns`` columns (pyqtgraph's own relayout placed two entries in
        one cell once the count went down: the grid keeps its old column count)."""
        if columns == self.columnCount:
            return
        self.columnCount = columns
        self._relayout()

    def addItem(self, item, name) -> None:  # noqa: N802 (pyqtgraph)
        super().addItem(item, name)
        self._relayout()

    def removeItem(self, item) -> None:  # noqa: N802 (pyqtgraph)
        super().removeItem(item)
        self._relayout()

    def _relayout(self) -> None:
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        for index, (sample, label) in enumerate(self.items):
            row, col = divmod(index, self.columnCount)
            self.layout.addItem(sample, row, 2 * col, alignment=Qt.AlignmentFlag.AlignVCenter)
            self.layout.addItem(label, row, 2 * col + 1)
        self.rowCount = max(1, -(-len(self.items) // self.columnCount))
        self.updateSize()

    def mouseClickEvent(self, event) -> None:  # noqa: N802 (pyqtgraph)
        """A click on a name toggles its line, as a click on the line's sample does."""
        if event.button() == Qt.MouseButton.LeftButton:
            for sample, label in self.items:
                if label.sceneBoundingRect().contains(event.scenePos()):
                    sample.mouseClickEvent(event)
                    return
        event.ignore()

    def mouseDragEvent(self, event) -> None:  # noqa: N802 (pyqtgraph)
        event.ignore()  # it stays in its place under the panel


def legend_under(plot: pg.PlotItem, columns: int = COLUMNS) -> Legend:
    """Give ``plot`` a legend under its axes: items added to the plot with a name appear in it."""
    legend = Legend(columns)
    plot.layout.addItem(legend, LEGEND_ROW, 1)
    plot.legend = legend  # where PlotItem.addItem puts named items
    return legend
