"""The curves as a figure file: PNG or SVG of what is on screen (both panels), and the metrics as CSV.

SVG goes through Qt's own QSvgGenerator (pyqtgraph's SVGExporter fails on the dotted lr-drop markers' paths), its
hairlines then taken out of their huge transforms (:mod:`explorer.gui.widgets.svg_strokes`) so that renderers
that ignore non-scaling strokes draw them as thin as the PNG.
The generator must be told the screen's resolution: at its default 72 dpi, pyqtgraph lays out the axes' text
for one scale and draws the curves at another, and a renderer shows the axes shrunk into the top two thirds
with the curves running past them. Both start from what is on screen (the scene's own rect spans off-screen
items thousands of pixels wide; rendering that took minutes and gigabytes), and the PNG is that SVG drawn.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QCoreApplication, QEvent, QIODevice, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator, QSvgRenderer

from explorer.gui.widgets.theme import plot_colours
from explorer.gui.widgets.svg_strokes import flatten_hairlines
from explorer.system.files import atomic_write
from explorer.runs.metrics_csv import write_metrics_csv

PNG_MIN_WIDTH = 1600
HEADING_PX = 15
FORMATS = "PNG image (*.png);;SVG image (*.svg);;CSV metrics (*.csv)"


def encoded(write) -> bytes:
    """What ``write(buffer)`` writes into a QBuffer, as bytes."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    write(buffer)
    buffer.close()
    return bytes(buffer.data())


def settle_layouts() -> None:
    """Do the layouts still waiting for the event loop - the window's widgets, then the plots' legends (whose
    columns follow their width, and their height the columns) - so that an export drawn right after a change
    draws what the screen will show: entries on top of each other, or a figure 14 px shorter, otherwise."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)


def scene_svg(scene, source: QRectF, dpi: int, title: str, heading: str = "") -> bytes:
    """The ``source`` part of a QGraphicsScene as SVG, at the screen's ``dpi`` (shared with the diagram's export),
    under ``heading`` (what the figure is, of which run: a figure file says so itself) when one is given."""
    settle_layouts()
    font = QFont()
    font.setPixelSize(HEADING_PX)
    font.setBold(True)
    top = round(2.2 * HEADING_PX) if heading else 0
    width, height = source.width(), source.height() + top

    def render(buffer: QBuffer) -> None:
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setResolution(dpi)
        generator.setSize(QSizeF(width, height).toSize())
        generator.setViewBox(QRectF(0, 0, width, height))
        generator.setTitle(title)
        painter = QPainter(generator)
        try:
            if heading:
                background, foreground = plot_colours()  # the figure's own: a dark theme exports dark
                painter.fillRect(QRectF(0, 0, width, top), background)
                painter.setFont(font)
                painter.setPen(foreground)
                painter.drawText(QRectF(HEADING_PX, 0, width - 2 * HEADING_PX, top),
                                 int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), heading)
            scene.render(painter, QRectF(0, top, width, source.height()), source)
        finally:
            painter.end()

    return flatten_hairlines(encoded(render))


def view_svg(view: pg.GraphicsLayoutWidget, heading: str) -> bytes:
    """What is on screen of a plot view, under its heading, as SVG."""
    settle_layouts()
    source = view.mapToScene(view.viewport().rect()).boundingRect()
    return scene_svg(view.scene(), source, view.logicalDpiX(), heading, heading)


def export_svg(view: pg.GraphicsLayoutWidget, path: Path, heading: str) -> None:
    """Rendered into memory, then written atomically: a failed write leaves no half file and says so."""
    atomic_write(path, view_svg(view, heading))


def export_png(view: pg.GraphicsLayoutWidget, path: Path, heading: str) -> None:
    """What is on screen at a print resolution: the figure's own SVG (:func:`view_svg`) drawn at least
    ``PNG_MIN_WIDTH`` wide, so every line, font and marker scales alike and the PNG and the SVG are one picture
    (rendered from the scene, pyqtgraph's hairlines stayed one pixel thin in an image twice the size)."""
    renderer = QSvgRenderer(view_svg(view, heading))
    size = renderer.defaultSize()
    scale = max(1.0, PNG_MIN_WIDTH / max(1, size.width()))
    image = QImage(round(size.width() * scale), round(size.height() * scale), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        renderer.render(painter)
    finally:
        painter.end()
    atomic_write(path, encoded(lambda buffer: image.save(buffer, "PNG")))


def export(view: pg.GraphicsLayoutWidget, runs: list[Path], path: Path, title: str) -> str:
    """Write ``path`` by its suffix (.png, .svg, .csv); returns what was written, for the status bar.
    Raises OSError (a folder that cannot be written), ValueError (a suffix that is none of the three) and
    RunDirError (a run folder that can no longer be read, for the CSV)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        rows = write_metrics_csv(runs, Path(path))
        return f"{rows:,} rows of metrics"
    if suffix == ".svg":
        export_svg(view, Path(path), title)
        return "the curves (SVG)"
    if suffix == ".png":
        export_png(view, Path(path), title)
        return "the curves (PNG)"
    raise ValueError(f"{Path(path).name} is not a .png, .svg or .csv file name; choose one of those")
