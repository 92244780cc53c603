"""The diagram on screen: a QGraphicsView of one item that paints a Layout (diagram_layout.py), with a readout of
the layer under the pointer, clicks that select a layer table row or fold a stage, and zoom.

One item paints everything and only what is exposed: ResNet-1202 with its stages opened has 1,200 boxes, and as
many QGraphicsItems would take the GUI thread far longer to create than the 50 ms it may stall. Colours come from
the palette's roles (Base, Text, Highlight, …), mixed, never fixed: the diagram follows light and dark desktops,
and an export paints with the same palette, so it looks like the screen. Pens are never cosmetic (width 0):
QSvgGenerator writes those with ``vector-effect="non-scaling-stroke"``, which SVG renderers draw differently.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView, QLabel, QWidget

from explorer.gui.architecture.diagram_layout import (
    ARC_REACH, IDENTITY, MARGIN, Arc, Box, Layout, Text, describe,
)

ZOOM_STEP = 1.25
ZOOM_RANGE = (0.2, 4.0)
ARROW = 4.0  # half the width of an arrowhead
Role = QPalette.ColorRole


def mixed(palette: QPalette, role: Role, amount: float, base: Role = Role.Base) -> QColor:
    """``amount`` of ``role`` over ``base``: a tint that reads on light and dark palettes alike."""
    a, b = palette.color(base), palette.color(role)
    return QColor.fromRgbF(*(x + (y - x) * amount for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def _pen(colour: QColor, width: float = 1.0, dashed: bool = False) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(False)
    if dashed:
        pen.setDashPattern([3.0, 2.5])
    return pen


class DiagramItem(QGraphicsItem):
    """The whole Layout, painted from its plain data."""

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__()
        self._view = view
        self.layout: Layout | None = None
        self.highlighted: frozenset = frozenset()
        self.hovered: object = None
        self._bands: dict[int, int] = {}
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # paint the exposed part only

    def set_layout(self, layout: Layout | None) -> None:
        self.prepareGeometryChange()
        self.layout = layout
        self.highlighted, self.hovered = frozenset(), None
        sizes = sorted({_band(box) for box in layout.boxes}, reverse=True) if layout else []
        self._bands = {size: index for index, size in enumerate(sizes)}
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt)
        return QRectF(0, 0, self.layout.width, self.layout.height) if self.layout else QRectF()

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:
        if self.layout is None:
            return
        exposed = option.exposedRect if not option.exposedRect.isEmpty() else self.boundingRect()
        palette = self._view.palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.fillRect(exposed, palette.color(Role.Base))
        top, bottom = exposed.top() - 40, exposed.bottom() + 40
        line = mixed(palette, Role.Text, 0.7)
        painter.setPen(_pen(mixed(palette, Role.Text, 0.12)))
        for y in self.layout.rules:
            if top <= y <= bottom:
                painter.drawLine(QPointF(MARGIN, y), QPointF(self.layout.width - MARGIN, y))
        for link in self.layout.links:
            if link.bottom >= top and link.top <= bottom:
                painter.setPen(_pen(line))
                painter.drawLine(QPointF(link.x, link.top), QPointF(link.x, link.bottom - ARROW))
                _arrowhead(painter, line, QPointF(link.x, link.bottom), down=True)
        for arc in self.layout.arcs:
            if arc.bottom >= top and arc.top <= bottom:
                self._paint_arc(painter, palette, arc, line)
        for box in self.layout.boxes:
            if box.y + box.height >= top and box.y <= bottom:
                self._paint_box(painter, palette, box)
        for text in self.layout.texts:
            if text.y + text.height >= top and text.y <= bottom:
                self._paint_text(painter, palette, text)

    def _paint_arc(self, painter: QPainter, palette: QPalette, arc: Arc, line: QColor) -> None:
        lit = arc in self.highlighted or arc is self.hovered
        colour = palette.color(Role.Highlight) if lit else line
        start, end = QPointF(arc.x, arc.top), QPointF(arc.x + ARROW + 1, arc.bottom)
        out = arc.right + ARC_REACH
        path = QPainterPath(start)
        path.lineTo(arc.right, arc.top)
        path.cubicTo(QPointF(out, arc.top), QPointF(out, arc.bottom), QPointF(arc.right, arc.bottom))
        path.lineTo(end)
        painter.setPen(_pen(colour, 2.0 if lit else 1.2, dashed=arc.kind != IDENTITY))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        _arrowhead(painter, colour, QPointF(arc.x, arc.bottom), down=False)
        if arc.label:
            painter.setFont(self._font(0.9))
            painter.setPen(_pen(palette.color(Role.Text)))
            middle = (arc.top + arc.bottom) / 2
            painter.drawText(QRectF(out - 4, middle - 9, 200, 18),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, arc.label)

    def _paint_box(self, painter: QPainter, palette: QPalette, box: Box) -> None:
        lit = box in self.highlighted
        rect = QRectF(box.x, box.y, box.width, box.height)
        fill = palette.color(Role.Highlight) if lit else mixed(
            palette, Role.Highlight, 0.22 if self._bands.get(_band(box), 0) % 2 else 0.10)
        border = palette.color(Role.Highlight) if box is self.hovered else mixed(palette, Role.Text, 0.55)
        painter.setPen(_pen(border, 2.0 if box is self.hovered else 1.0, dashed=box.kind == "fold"))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(_pen(palette.color(Role.HighlightedText if lit else Role.Text)))
        centre = Qt.AlignmentFlag.AlignCenter
        if box.kind == "fold":
            painter.setFont(self._font(1.0, bold=True))
            painter.drawText(rect.adjusted(4, 2, -4, -box.height / 2), centre, box.label)
            painter.setFont(self._font(0.8))
            painter.drawText(rect.adjusted(2, box.height / 2 - 2, -2, -2), centre, box.detail)
        else:
            painter.setFont(self._font())
            painter.drawText(rect, centre, box.label)

    def _paint_text(self, painter: QPainter, palette: QPalette, text: Text) -> None:
        role = {"title": Role.Text, "caption": Role.Link if text.stage else Role.PlaceholderText}.get(
            text.role, Role.PlaceholderText)
        painter.setPen(_pen(palette.color(role)))
        painter.setFont(self._font(1.15, bold=True) if text.role == "title" else self._font(0.9))
        painter.drawText(QRectF(text.x, text.y, text.width, text.height),
                         Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft, text.text)

    def _font(self, scale: float = 1.0, bold: bool = False) -> QFont:
        """The view's font ``scale`` times, in whole pixels: QSvgRenderer draws a fractional SVG font-size at
        the whole size below it, so 10.8 px text would shrink in Qt's rendering of the export."""
        font = QFont(self._view.font())
        pixels = font.pixelSize() if font.pixelSize() > 0 else font.pointSizeF() * self._view.logicalDpiY() / 72
        font.setPixelSize(max(6, round(pixels * scale)))
        font.setBold(bold)
        return font


def _band(box: Box) -> int:
    return box.output[1] if len(box.output) == 3 else 1


def _arrowhead(painter: QPainter, colour: QColor, tip: QPointF, down: bool) -> None:
    if down:
        points = [tip, QPointF(tip.x() - ARROW, tip.y() - 2 * ARROW), QPointF(tip.x() + ARROW, tip.y() - 2 * ARROW)]
    else:  # pointing left, into the main path
        points = [tip, QPointF(tip.x() + 2 * ARROW, tip.y() - ARROW), QPointF(tip.x() + 2 * ARROW, tip.y() + ARROW)]
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawPolygon(QPolygonF(points))


class DiagramView(QGraphicsView):
    """``row_clicked(name)`` for a click on a layer or shortcut of the table's network, ``stage_clicked(name)``
    for a click on a fold or a stage's caption; ``highlight(rows)`` lights what table rows stand for."""

    row_clicked = Signal(str)
    stage_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = DiagramItem(self)
        self.scene().addItem(self.item)
        self.setMouseTracking(True)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self._rows: tuple[str, ...] = ()
        self.readout = QLabel(self.viewport(), objectName="diagramReadout")
        self.readout.setFrameShape(QFrame.Shape.Box)
        self.readout.setAutoFillBackground(True)
        self.readout.setBackgroundRole(Role.ToolTipBase)
        self.readout.setForegroundRole(Role.ToolTipText)
        self.readout.setMargin(4)
        self.readout.hide()
        self._apply_palette()

    @property
    def layout_shown(self) -> Layout | None:
        return self.item.layout

    def set_layout(self, layout: Layout | None) -> None:
        """Show ``layout``; when columns come or go, zoom so that they all fit across (not below 40 %)."""
        before = self.item.layout.titles if self.item.layout else None
        self.item.set_layout(layout)
        self.scene().setSceneRect(self.item.boundingRect())
        if layout is not None and (before is None or len(before) != len(layout.titles)):
            self.fit_width()
        self.readout.hide()
        self.highlight(self._rows, reveal=False)

    def highlight(self, rows: tuple[str, ...] | list[str], reveal: bool = True) -> None:
        """Light the boxes and shortcuts that table ``rows`` stand for, and scroll the first into view."""
        self._rows = tuple(rows)
        layout = self.item.layout
        found = tuple(e for row in self._rows for e in layout.matching(row)) if layout else ()
        self.item.highlighted = frozenset(found)
        self.item.update()
        if found and reveal:
            first = min(found, key=lambda e: e.y if isinstance(e, Box) else e.top)
            rect = QRectF(first.x, first.y, first.width, first.height) if isinstance(first, Box) else QRectF(
                first.right, first.top, ARC_REACH, first.bottom - first.top)
            self.ensureVisible(rect, 40, 40)

    def fit_width(self) -> None:
        if self.item.layout is not None:
            room = self.maximumViewportSize().width() - self.verticalScrollBar().sizeHint().width()
            scale = min(1.0, max(ZOOM_RANGE[0], 0.4, room / self.item.layout.width))
            self.zoom(scale / self.transform().m11())

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11()
        factor = min(max(scale * factor, ZOOM_RANGE[0]), ZOOM_RANGE[1]) / scale
        self.scale(factor, factor)

    def element_at(self, point) -> object:
        layout = self.item.layout
        if layout is None:
            return None
        scene = self.mapToScene(point)
        return layout.element_at(scene.x(), scene.y())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt)
        element = self.element_at(event.position().toPoint())
        if element is not self.item.hovered:
            self.item.hovered = element
            self.item.update()
        if element is None:
            self.readout.hide()
        else:
            lines = describe(element)
            self.readout.setText(f"<b>{lines[0]}</b><br>" + "<br>".join(lines[1:]))
            self.readout.adjustSize()
            self._place_readout(event.position().toPoint())
            self.readout.show()
        super().mouseMoveEvent(event)

    def _place_readout(self, at) -> None:
        area, size = self.viewport().rect(), self.readout.size()
        x = at.x() + 16 if at.x() + 16 + size.width() <= area.right() else at.x() - 16 - size.width()
        y = min(max(at.y() + 16, 0), max(0, area.bottom() - size.height()))
        self.readout.move(max(0, x), y)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.readout.hide()
        self.item.hovered = None
        self.item.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt)
        element = self.element_at(event.position().toPoint())
        layout = self.item.layout
        if event.button() == Qt.MouseButton.LeftButton and element is not None and layout is not None:
            if isinstance(element, Text):
                self.stage_clicked.emit(element.stage)
            elif isinstance(element, Box) and element.kind == "fold":
                self.stage_clicked.emit(element.row)
            elif element.column == layout.main and element.row:
                self.row_clicked.emit(element.row)
        super().mousePressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
            event.accept()
        else:
            super().wheelEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self._apply_palette()

    def _apply_palette(self) -> None:
        self.setBackgroundBrush(self.palette().color(Role.Base))
        self.item.update()
