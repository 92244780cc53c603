"""The readout that follows the pointer over Figure 6: the values of every visible network at that iteration.

A QLabel over the plots (not an item of their scene, so it is never part of an exported figure): the palette's
text on an opaque box of its base colour, framed, so it reads in every theme; placed beside the pointer and flipped to its left near the right edge so it is never cut off,
and hidden as soon as the pointer leaves the plots or another run is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel

GAP = 14


class HoverReadout(QObject):
    def __init__(self, view) -> None:
        super().__init__(view)
        self._view = view
        widget = view.layout_widget
        self.label = QLabel(widget, objectName="hoverReadout")
        self.label.setAutoFillBackground(True)  # the palette's roles follow the theme as it changes
        self.label.setBackgroundRole(QPalette.ColorRole.Base)
        self.label.setForegroundRole(QPalette.ColorRole.Text)
        self.label.setFrameShape(QFrame.Shape.Box)
        self.label.setMargin(5)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.hide()
        widget.viewport().installEventFilter(self)
        widget.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def hide(self) -> None:
        self.label.hide()
        for plot in self._view.plots:
            plot.hover_line.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.Leave:
            self.hide()
        return False

    def _on_mouse_moved(self, pos) -> None:
        inside = [p for p in self._view.plots if p.vb.sceneBoundingRect().contains(pos)]
        if not inside:
            self.hide()
            return
        plot = inside[0]
        for other in self._view.plots:
            other.hover_line.setVisible(other is plot)
        x = plot.vb.mapSceneToView(pos).x()
        lines = self._view.values_at(plot, x)
        plot.hover_line.setPos(x)
        at = f"epoch {x:,.2f}" if self._view.x_axis.currentIndex() else f"iteration {round(x):,}"  # no "24.3"
        self.label.setText(f"<b>{at}</b><br>" + ("<br>".join(lines) or "no data here"))
        self.label.adjustSize()
        self._place(self._view.layout_widget.mapFromScene(pos))
        self.label.show()
        self.label.raise_()
        self._view.hovered.emit(" · ".join(lines))

    def _place(self, at: QPoint) -> None:
        area, size = self._view.layout_widget.rect(), self.label.size()
        x = at.x() + GAP if at.x() + GAP + size.width() <= area.right() else at.x() - GAP - size.width()
        y = min(max(at.y() + GAP, 0), max(0, area.bottom() - size.height()))
        self.label.move(max(0, x), y)
