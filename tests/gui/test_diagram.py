"""The Architecture tab's diagram, driven through the main window: a click on a box selects its table row and a
row selected in the table lights its box, the twin and VGG-19 columns on demand, ResNet-1202's folded stages
opened and folded by clicks, the hover readout, and exports that rsvg-convert and QSvgRenderer draw as the PNG."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel

from explorer.gui.architecture.diagram_layout import IDENTITY, ZERO_PAD, Box, Layout
from explorer.config.model import ModelConfig

WAIT_MS = 30_000


def drawn(qtbot, window, config: ModelConfig, columns: int = 1) -> Layout:
    """Wait until the table shows ``config`` and the diagram draws it in ``columns`` columns."""
    def ready() -> bool:
        summary = window.layer_table.summary
        return (summary is not None and summary.config == config and not window.summaries.busy
                and window.diagram.shows(config, columns))
    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return window.diagram.view.layout_shown


def on_screen(qtbot, view, rect: QRectF):
    """The viewport point at the middle of the left part of ``rect`` (clear of its centred text), scrolled in."""
    view.ensureVisible(rect, 20, 20)
    qtbot.wait(10)
    return view.mapFromScene(QPointF(rect.x() + 6, rect.y() + rect.height() / 2))


def box_rect(box: Box) -> QRectF:
    return QRectF(box.x, box.y, box.width, box.height)


def click(qtbot, view, rect: QRectF) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=on_screen(qtbot, view, rect))


def colour_at(view, rect: QRectF) -> QColor:
    point = view.mapFromScene(QPointF(rect.x() + 6, rect.y() + rect.height() / 2))
    return view.viewport().grab().toImage().pixelColor(point)


def selected_rows(window) -> list[str]:
    tree, model = window.layer_table.tree, window.layer_table.model
    return [model.row_of(i).name for i in tree.selectionModel().selectedRows(0)]


def choose_depth(qtbot, window, depth: str) -> None:
    edit = window.architecture.findChild(QComboBox, "depth").lineEdit()
    edit.selectAll()
    qtbot.keyClicks(edit, depth)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_a_click_on_a_box_selects_its_row_and_a_selected_row_lights_its_box(qtbot, window):
    layout = drawn(qtbot, window, ModelConfig())
    view, tree, model = window.diagram.view, window.layer_table.tree, window.layer_table.model
    highlight = view.palette().color(QPalette.ColorRole.Highlight)
    box = next(b for b in layout.boxes if b.row == "layer2.1.conv2")
    assert colour_at(view, box_rect(box)) != highlight
    click(qtbot, view, box_rect(box))
    assert selected_rows(window) == ["layer2.1.conv2"]
    index = model.index_of("layer2.1.conv2")
    assert tree.isExpanded(index.parent()) and tree.isExpanded(index.parent().parent())
    assert tree.viewport().rect().intersects(tree.visualRect(index))  # scrolled to, on screen
    qtbot.waitUntil(lambda: colour_at(view, box_rect(box)) == highlight, timeout=5000)

    # The other way: a person clicks the row of layer3's first block in the table.
    block = model.index_of("layer3.0")
    tree.scrollTo(block)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualRect(block).center())
    assert selected_rows(window) == ["layer3.0"]
    lit = view.item.highlighted
    assert {e.row for e in lit} == {"layer3.0.conv1", "layer3.0.conv2", "layer3.0.downsample"}
    assert {e.kind for e in lit if not isinstance(e, Box)} == {ZERO_PAD}
    first = next(b for b in layout.boxes if b.row == "layer3.0.conv1")
    qtbot.waitUntil(lambda: colour_at(view, box_rect(first)) == highlight, timeout=5000)
    assert colour_at(view, box_rect(box)) != highlight

    # A click on a shortcut selects the shortcut's own row.
    arc = next(a for a in layout.arcs if a.row == "layer2.0.downsample")
    click(qtbot, view, QRectF(arc.right + 8, (arc.top + arc.bottom) / 2 - 4, 8, 8))
    assert selected_rows(window) == ["layer2.0.downsample"]


def test_the_twin_and_vgg19_columns_on_demand(qtbot, window):
    drawn(qtbot, window, ModelConfig())
    panel = window.diagram
    twin, vgg = panel.findChild(QCheckBox, "diagramTwin"), panel.findChild(QCheckBox, "diagramVgg")
    assert twin.text() == "Plain twin" and not vgg.isEnabled()  # Figure 3's VGG-19 is an ImageNet network
    qtbot.mouseClick(twin, Qt.MouseButton.LeftButton)
    layout = drawn(qtbot, window, ModelConfig(), columns=2)
    assert layout.titles == ("plain-20", "ResNet-20") and layout.main == 1
    assert layout.arc_counts(0) == {} and layout.arc_counts(1) == {IDENTITY: 7, ZERO_PAD: 2}
    twin_box = next(b for b in layout.boxes if b.column == 0 and b.row == "layer1.0.conv1")
    click(qtbot, panel.view, box_rect(twin_box))
    assert selected_rows(window) == []  # the twin is not the table's network

    window.architecture.findChild(QComboBox, "family").setCurrentIndex(1)  # ImageNet: ResNet-18
    config = ModelConfig(family="imagenet", depth=18)
    drawn(qtbot, window, config, columns=2)
    assert vgg.isEnabled()
    qtbot.mouseClick(vgg, Qt.MouseButton.LeftButton)
    layout = drawn(qtbot, window, config, columns=3)
    assert layout.titles == ("VGG-19", "plain-18", "ResNet-18")
    assert panel.view.transform().m11() < 1  # zoomed out so that the three columns fit across
    qtbot.mouseClick(twin, Qt.MouseButton.LeftButton)
    assert drawn(qtbot, window, config, columns=2).titles == ("VGG-19", "ResNet-18")
    window.architecture.findChild(QComboBox, "family").setCurrentIndex(0)
    drawn(qtbot, window, ModelConfig(), columns=1)  # no VGG-19 beside a CIFAR net


def test_resnet1202_folds_and_opens_on_click(qtbot, window):
    drawn(qtbot, window, ModelConfig())
    choose_depth(qtbot, window, "1202")
    config = ModelConfig(depth=1202)
    layout = drawn(qtbot, window, config)
    assert layout.folded == ("layer1", "layer2", "layer3") and len(layout.boxes) == 12
    view = window.diagram.view
    fold = next(b for b in layout.boxes if b.kind == "fold" and b.row == "layer2")
    click(qtbot, view, box_rect(fold))
    qtbot.waitUntil(lambda: view.layout_shown.folded == ("layer1", "layer3"), timeout=WAIT_MS)
    opened = view.layout_shown
    assert len([b for b in opened.boxes if b.row.startswith("layer2.")]) == 400

    deep = next(b for b in opened.boxes if b.row == "layer2.150.conv1")
    click(qtbot, view, box_rect(deep))  # a box of the opened stage selects its row, deep in the table
    assert selected_rows(window) == ["layer2.150.conv1"]

    caption = next(t for t in opened.texts if t.stage == "layer2")
    assert caption.text == "layer2 · 200 blocks: click to fold"
    click(qtbot, view, QRectF(caption.x, caption.y, 40, caption.height))
    qtbot.waitUntil(lambda: view.layout_shown.folded == ("layer1", "layer2", "layer3"), timeout=WAIT_MS)
    # The selected row is in the folded stage now: its fold is lit.
    assert [(e.row, e.kind) for e in view.item.highlighted] == [("layer2", "fold")]


def test_hovering_a_box_says_its_output_parameters_and_macs(qtbot, window):
    layout = drawn(qtbot, window, ModelConfig())
    view = window.diagram.view
    box = next(b for b in layout.boxes if b.row == "layer1.0.conv2")
    qtbot.mouseMove(view.viewport(), on_screen(qtbot, view, box_rect(box)))
    readout = view.findChild(QLabel, "diagramReadout")
    qtbot.waitUntil(readout.isVisible, timeout=5000)
    text = readout.text()
    assert "layer1.0.conv2: 3×3 conv, 16" in text and "output 16 × 32 × 32" in text
    assert "2,304 parameters" in text and "2,359,296 MACs (2.36 M)" in text
    qtbot.mouseMove(view.viewport(), view.mapFromScene(QPointF(4, 4)))  # empty paper
    qtbot.waitUntil(lambda: not readout.isVisible(), timeout=5000)


def as_array(image: QImage) -> np.ndarray:
    """Grey levels, averaged over 6 × 6 blocks: what the eye compares, not the antialiasing of each glyph."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    data = data[:, :image.width()].astype(float)
    h, w = (s - s % 6 for s in data.shape)
    return data[:h, :w].reshape(h // 6, 6, w // 6, 6).mean(axis=(1, 3))


def render_svg_with_qt(path, width: int, height: int) -> QImage:
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("magenta"))  # anything the SVG leaves unpainted shows
    painter = QPainter(image)
    QSvgRenderer(str(path)).render(painter)
    painter.end()
    return image


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert missing: apt-get install librsvg2-bin")
def test_the_exports_render_in_rsvg_and_qt_as_the_png_shows_them(qtbot, window, tmp_path, monkeypatch):
    qtbot.mouseClick(window.diagram.findChild(QCheckBox, "diagramTwin"), Qt.MouseButton.LeftButton)
    layout = drawn(qtbot, window, ModelConfig(), columns=2)
    paths = {suffix: tmp_path / f"resnet-20-diagram.{suffix}" for suffix in ("svg", "png")}
    for suffix, path in paths.items():
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, p=path: (str(p), ""))
        window.action("exportDiagram").trigger()
        assert window.statusBar().currentMessage().startswith(f"Wrote the diagram ({suffix.upper()}")
    svg = paths["svg"].read_text(encoding="utf-8")
    assert "non-scaling-stroke" not in svg and "stroke-dasharray" in svg  # the dotted shortcuts, as dashes
    png = QImage(str(paths["png"]))
    assert (png.width(), png.height()) == (round(2 * layout.width), round(2 * layout.height))

    rsvg = tmp_path / "rsvg.png"
    subprocess.run(["rsvg-convert", "-w", str(png.width()), "-h", str(png.height()), "-o", str(rsvg),
                    str(paths["svg"])], check=True, timeout=60)
    expected = as_array(png)
    for name, rendered in (("rsvg-convert", QImage(str(rsvg))),
                           ("QSvgRenderer", render_svg_with_qt(paths["svg"], png.width(), png.height()))):
        got = as_array(rendered)
        assert got.shape == expected.shape, name
        difference = np.abs(got - expected)
        # Measured: rsvg-convert 0.28 / 9.3 / 18, QSvgRenderer 0.02 / 0.4 / 10 (mean, 99.5th percentile, max). A
        # dashed arc left out gives a max of 72, non-scaling strokes a mean of 2.0 in Qt, a fractional font size
        # a 99.5th percentile of 27 in rsvg, no viewBox a mean of 16.
        summary = f"{name}: mean {difference.mean():.2f}, p99.5 {np.percentile(difference, 99.5):.1f}, " \
                  f"max {difference.max():.1f}"
        assert difference.mean() < 1.0 and np.percentile(difference, 99.5) < 20 and difference.max() < 45, summary

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "diagram.pdf"), ""))
    window.action("exportDiagram").trigger()
    assert window.statusBar().currentMessage() == "Diagram.pdf is not a .svg or .png file name; choose one of those."
    assert not (tmp_path / "diagram.pdf").exists()


def test_the_diagram_follows_a_dark_palette_on_screen_and_in_its_export(qtbot, window, tmp_path, monkeypatch):
    layout = drawn(qtbot, window, ModelConfig())
    box = next(b for b in layout.boxes if b.row == "conv1")
    for name, base, text in (("light", "#ffffff", "#000000"), ("dark", "#1e1e1e", "#eeeeee")):
        palette = window.palette()
        palette.setColor(QPalette.ColorRole.Base, QColor(base))
        palette.setColor(QPalette.ColorRole.Text, QColor(text))
        palette.setColor(QPalette.ColorRole.Highlight, QColor("#3d7bd9"))
        window.setPalette(palette)
        qtbot.wait(20)
        path = tmp_path / f"{name}.png"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, p=path: (str(p), ""))
        window.action("exportDiagram").trigger()
        image = QImage(str(path))
        assert image.pixelColor(2, 2) == QColor(base)  # the paper is the palette's base
        fill = image.pixelColor(round(2 * (box.x + 6)), round(2 * (box.y + box.height / 2)))
        assert (fill.lightnessF() > 0.6) == (name == "light"), f"{name}: box {fill.name()} on {base}"
        on_screen_fill = colour_at(window.diagram.view, box_rect(box))
        assert on_screen_fill == fill  # the export looks like the screen


def test_table1_text_of_the_panel_comes_from_model_config(qtbot, window):
    window.architecture.findChild(QComboBox, "family").setCurrentIndex(1)
    window.architecture.findChild(QComboBox, "block").setCurrentIndex(1)
    drawn(qtbot, window, ModelConfig(family="imagenet", depth=50))
    text = window.architecture.findChild(QLabel, "configShape").text()
    assert "7×7, 64, stride 2" in text and "3×3 max pool, stride 2" in text
    assert "[1×1, 128<br>3×3, 128<br>1×1, 512] × 4" in text and "average pool, 1000-d fc" in text
