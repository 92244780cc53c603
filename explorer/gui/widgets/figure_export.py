"""The curves as a figure file: PNG or SVG of what is on screen (both panels), and the metrics as CSV.

SVG goes through Qt's own QSvgGenerator (pyqtgraph's SVGExporter fails on the dotted lr-drop markers' paths), its
hairlines then taken out of their huge transforms (:mod:`explorer.gui.widgets.svg_strokes`) so that renderers
that ignore non-scaling strokes draw them as thin as the PNG.
The generator must be told the screen's resolution: at its default 72 dpi, pyqtgraph lays out the axes' text
for one scale and draws the curves at another, and a renderer shows the axes shrunk into the top two thirds
with the curves running past them. PNG scales from what is on screen too (the scene's own rect spans off-screen
items thousands of pixels wide; rendering that took minutes and gigabytes).
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.ImageExporter)
from PySide6.QtCore import QBuffer, QIODevice, QRectF
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator

from explorer.gui.widgets.svg_strokes import flatten_hairlines
from explorer.system.files import atomic_write
from explorer.runs.metrics_csv import write_metrics_csv

PNG_MIN_WIDTH = 1600
FORMATS = "PNG image (*.png);;SVG image (*.svg);;CSV metrics (*.csv)"


def encoded(write) -> bytes:
    """What ``write(buffer)`` writes into a QBuffer, as bytes."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    write(buffer)
    buffer.close()
    return bytes(buffer.data())


def scene_svg(scene, source: QRectF, dpi: int, title: str) -> bytes:
    """The ``source`` part of a QGraphicsScene as SVG, at the screen's ``dpi`` (shared with the diagram's export)."""

    def render(buffer: QBuffer) -> None:
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setResolution(dpi)
        generator.setSize(source.size().toSize())
        generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
        generator.setTitle(title)
        painter = QPainter(generator)
        try:
            scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
        finally:
            painter.end()

    return flatten_hairlines(encoded(render))


def export_svg(view: pg.GraphicsLayoutWidget, path: Path, title: str) -> None:
    """Rendered into memory, then written atomically: a failed write leaves no half file and says so."""
    rect = view.mapToScene(view.viewport().rect()).boundingRect()
    atomic_write(path, scene_svg(view.scene(), rect, view.logicalDpiX(), title))


def export_png(view: pg.GraphicsLayoutWidget, path: Path) -> None:
    exporter = pg.exporters.ImageExporter(view.scene())
    exporter.parameters()["width"] = max(PNG_MIN_WIDTH, view.width())
    image = exporter.export(toBytes=True)
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
        export_png(view, Path(path))
        return "the curves (PNG)"
    raise ValueError(f"{Path(path).name} is not a .png, .svg or .csv file name; choose one of those")
