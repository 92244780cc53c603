"""The diagram as an SVG or PNG file that looks like the screen: the view's scene rendered whole, with the view's
palette and fonts, through QSvgGenerator or into a QImage (no new dependency).

Both carry the screen's resolution (the SVG's size in millimetres, the PNG's dots per metre); the diagram's
fonts are whole pixels, which every SVG renderer draws at the size the screen shows (diagram_view.py). The PNG is drawn at twice the screen's scale, for print, but no side longer than PNG_MAX_SIDE (a
ResNet-1202 with its stages opened is 46,000 pixels tall at zoom 1).
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter, QPalette

from explorer.system.files import atomic_write
from explorer.gui.architecture.diagram_view import DiagramView
from explorer.gui.widgets.figure_export import encoded, scene_svg

PNG_SCALE = 2.0
PNG_MAX_SIDE = 16_000
FORMATS = "SVG image (*.svg);;PNG image (*.png)"
INCHES_PER_METRE = 39.37


def png_image(view: DiagramView) -> QImage:
    rect = view.item.boundingRect()
    scale = min(PNG_SCALE, PNG_MAX_SIDE / max(rect.width(), rect.height(), 1))
    image = QImage(math.ceil(rect.width() * scale), math.ceil(rect.height() * scale),
                   QImage.Format.Format_ARGB32_Premultiplied)
    dots = round(view.logicalDpiX() * INCHES_PER_METRE)
    image.setDotsPerMeterX(dots)
    image.setDotsPerMeterY(dots)
    image.fill(view.palette().color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    try:
        view.scene().render(painter, QRectF(0, 0, image.width(), image.height()), rect)
    finally:
        painter.end()
    return image


def export(view: DiagramView, path: Path, title: str) -> str:
    """Write ``path`` by its suffix; returns what was written, for the status bar. Raises ValueError for a
    suffix that is neither .svg nor .png, before anything is written, and OSError when the file cannot be."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError(f"{Path(path).name} is not a .svg or .png file name; choose one of those")
    if view.item.layout is None:
        raise ValueError("there is no diagram to export yet; wait until it is drawn")
    if suffix == ".svg":
        atomic_write(path, scene_svg(view.scene(), view.item.boundingRect(), view.logicalDpiX(), title))
        return "the diagram (SVG)"
    image = png_image(view)
    atomic_write(path, encoded(lambda buffer: image.save(buffer, "PNG")))
    return f"the diagram (PNG, {image.width()} × {image.height()})"
