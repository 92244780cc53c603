"""Exports a person can open anywhere (issue 18, items 3 and 13): the figures as PNG and as SVG that renderers
other than a browser draw as the PNG - rsvg-convert (GNOME, Inkscape's library), Qt's own renderer and, where
installed, ImageMagick - with a title, the run's name and the line key; names that say which run."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from flows import open_in_runs_tab
from run_writer import write_run
from seen import export, pixels


def ink(rgb: np.ndarray) -> int:
    """Coloured pixels: the curves (the axes, grid and text are grey or black)."""
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def qt_render(svg, width: int, height: int) -> np.ndarray:
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return pixels(image)


def tool_render(command: list[str], out, width: int, height: int) -> np.ndarray:
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (width, height), (image.width(), image.height())
    return pixels(image)


def renders(svg, tmp_path, width: int, height: int) -> dict[str, np.ndarray]:
    """The SVG as each renderer here draws it, at the PNG's size on a white page."""
    found = {"Qt": qt_render(svg, width, height)}
    if shutil.which("rsvg-convert"):
        out = tmp_path / "rsvg.png"
        found["rsvg-convert"] = tool_render(["rsvg-convert", "-w", str(width), "-h", str(height), "-b", "white",
                                             "-o", str(out), str(svg)], out, width, height)
    magick = shutil.which("magick") or shutil.which("convert")
    if magick and subprocess.run([magick, "-version"], capture_output=True, text=True).stdout.startswith("Version"):
        out = tmp_path / "magick.png"
        millimetres = float(re.search(r'width="([\d.]+)mm"', svg.read_text()).group(1))
        density = width / (millimetres / 25.4)  # drawn at the PNG's size, not drawn small and enlarged
        found["ImageMagick"] = tool_render([magick, "-density", f"{density:.3f}", "-background", "white", str(svg),
                                            "-flatten", "-resize", f"{width}x{height}!", str(out)], out, width,
                                           height)
    return found


def test_3_an_svg_export_draws_in_every_renderer_as_the_png_does(qtbot, window, runs_dir, tmp_path, monkeypatch):
    run = write_run(runs_dir, depths=(20, 56), every=10, name="thin-lines")
    open_in_runs_tab(qtbot, window, run.path)
    for suffix in ("png", "svg"):
        export(window.action("export"), tmp_path / f"figure.{suffix}", monkeypatch)
    png = QImage(str(tmp_path / "figure.png"))
    reference = ink(pixels(png))
    drawn = renders(tmp_path / "figure.svg", tmp_path, png.width(), png.height())
    if "rsvg-convert" not in drawn:
        pytest.skip("rsvg-convert is not installed (apt librsvg2-bin): only Qt's renderer could be compared")
    ratios = {name: ink(rgb) / reference for name, rgb in drawn.items()}
    # curves 5x too thick made 5x the coloured pixels in rsvg-convert and ImageMagick; now within a third of the
    # PNG, line for line. ImageMagick's own renderer draws translucent strokes opaque (the faint raw curves and
    # the grid count in full): 1.5x here, 4.9x before, so a bound of 2.
    assert all(0.67 < ratio < (2.0 if name == "ImageMagick" else 1.5) for name, ratio in ratios.items()), ratios


def test_13_exported_figures_say_what_they_are_of_which_run_with_their_key_under_the_run_s_name(
        qtbot, window, runs_dir, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    run = write_run(runs_dir, depths=(20, 56), name="thin-lines")
    open_in_runs_tab(qtbot, window, run.path)
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _parent, _title, suggested, *a, **k: (
        offered.append(suggested) or str(tmp_path / f"figure.{'png' if len(offered) == 1 else 'svg'}"), ""))
    window.action("export").trigger()
    window.action("export").trigger()
    assert offered[0].endswith("/thin-lines-figure6.png")  # the run's name, not "figure6.png"
    svg = (tmp_path / "figure.svg").read_text()
    assert "Figure 6 — thin-lines (synthetic)" in svg  # a title, the run and its data
    assert all(f">{name}<" in svg for name in ("plain-20", "ResNet-56"))  # the line key
    png = pixels(QImage(str(tmp_path / "figure.png")))
    heading = png[: png.shape[0] // 25]
    assert (heading.max(axis=2) < 100).sum() > 200  # the title's dark letters above the panels
