"""The app looks right on any desktop: View → Theme (System, Light, Dark) repaints everything on screen at once -
windows, Figure 6's plots and hover box, the Analysis tab's plots, the texts that say an error - is kept across
restarts, and the colours read on both backgrounds by the WCAG's measure. Also the app's identity on a desktop:
version, icon, and the desktop entry docks match its window to."""

from __future__ import annotations

import configparser
import itertools
import math
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from explorer.gui.widgets import theme
from explorer.gui.widgets.theme import DEPTH_COLOURS, EXTRA_COLOURS, TEXT_COLOURS, apply_theme, palette_of

Role = QPalette.ColorRole
ROOT = Path(__file__).resolve().parents[2]


def luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def lab(colour: QColor) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    r, g, b = (linear(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
    x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047)
    y = f(0.2126 * r + 0.7152 * g + 0.0722 * b)
    z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    return 116 * y - 16, 500 * (x - y), 200 * (y - z)


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def themed(qapp):
    """Whatever a test chooses, the next test starts on the system's theme again."""
    yield
    apply_theme("system")


def test_curve_colours_read_on_light_and_dark_plots_and_stay_apart():
    backgrounds = [palette_of(t).color(Role.Base) for t in ("light", "dark")] + [QColor("#2d2d2d")]
    colours = [QColor(c) for c in {*DEPTH_COLOURS.values(), *EXTRA_COLOURS, *theme.OVERLAY_COLOURS, theme.GUIDE,
                                   theme.ERROR_LINE}]
    for colour, background in itertools.product(colours, backgrounds):
        assert contrast(colour, background) >= 3.0, (colour.name(), background.name())  # WCAG 1.4.11 (graphics)
    curves = {QColor(c).name() for c in (*DEPTH_COLOURS.values(), *EXTRA_COLOURS)}
    for a, b in itertools.combinations(curves, 2):  # at the same luminance, told apart by hue and saturation
        assert math.dist(lab(QColor(a)), lab(QColor(b))) > 25, (a, b)  # CIE76: far more than a just-noticeable 2.3


def test_texts_read_on_their_theme():
    for kind, (light, dark) in TEXT_COLOURS.items():
        for theme_name, colour in (("light", light), ("dark", dark)):
            palette = palette_of(theme_name)
            for role in (Role.Window, Role.Base):
                assert contrast(QColor(colour), palette.color(role)) >= 4.5, (kind, theme_name)  # WCAG 1.4.3
    for theme_name in ("light", "dark"):
        palette = palette_of(theme_name)
        assert contrast(palette.color(Role.Text), palette.color(Role.Base)) >= 7
        assert contrast(palette.color(Role.PlaceholderText), palette.color(Role.Window)) >= 4.5


def _pixel(widget, at: QPoint | None = None) -> QColor:
    image = widget.grab().toImage()
    return image.pixelColor(at or QPoint(image.width() // 2, 8))


def _plot_state(window) -> dict:
    curves = window.training.view.curves
    plot = curves.plain_plot
    return {"background": curves.layout_widget.backgroundBrush().color().name(),
            "axis": plot.getAxis("left").textPen().color().name(),
            "legend": plot.legend.brush().color().name(),
            "title": QColor(plot.titleLabel.opts["color"]).name()}


def test_the_theme_menu_repaints_everything_and_is_kept_across_restarts(qtbot, window, settings, runs_dir, themed):
    from explorer.gui.main_window import MainWindow

    window.tabs.setCurrentWidget(window.training)
    light = _plot_state(window)
    assert not theme.is_dark() and window.action("themeSystem").isChecked()
    assert _pixel(window.training.view.curves.layout_widget).lightness() > 200

    window.action("themeDark").trigger()
    qtbot.wait(20)  # the palette reaches the widgets through the event loop
    dark = theme.palette_of("dark")
    assert QApplication.palette().color(Role.Window) == dark.color(Role.Window) and theme.is_dark()
    state = _plot_state(window)
    assert state == {"background": dark.color(Role.Base).name(), "axis": dark.color(Role.Text).name(),
                     "legend": dark.color(Role.Base).name(), "title": dark.color(Role.Text).name()}
    assert state != light
    assert _pixel(window.training.view.curves.layout_widget).lightness() < 60  # what is on screen, not a setting
    readout = window.training.view.curves.readout.label
    readout.setText("iteration 100")
    readout.adjustSize()
    assert _pixel(readout, QPoint(readout.width() // 2, 3)).lightness() < 60  # the hover box is dark too
    form_problem = window.training.form.problem
    form_problem.setText("a problem")
    assert form_problem.palette().color(Role.WindowText) == QColor(TEXT_COLOURS["error"][1])
    window.tabs.setCurrentWidget(window.analysis)
    qtbot.wait(50)
    for view in window.analysis.findChildren(type(window.training.view.curves.layout_widget)):
        assert view.backgroundBrush().color() == dark.color(Role.Base)
    assert settings.value(theme.THEME_KEY) == "dark"

    again = MainWindow(settings, runs_dir)  # the next start of the app
    qtbot.addWidget(again)
    assert again.action("themeDark").isChecked() and theme.is_dark()
    assert again.training.view.curves.layout_widget.backgroundBrush().color() == dark.color(Role.Base)

    again.action("themeLight").trigger()
    qtbot.wait(20)
    assert QApplication.palette().color(Role.Base) == palette_of("light").color(Role.Base)
    assert form_problem.palette().color(Role.WindowText) == QColor(TEXT_COLOURS["error"][0])
    again.action("themeSystem").trigger()
    assert QApplication.style().name() == QApplication.instance().property("nativeStyle")
    assert not theme.is_dark() and settings.value(theme.THEME_KEY) == "system"
    assert _plot_state(again)["background"] == QApplication.palette().color(Role.Base).name()


def test_no_widget_names_a_colour_of_its_own():
    """The theme owns the colours: a colour written into a widget would not follow it (as "#555" captions and
    white plots did not, on a dark desktop)."""
    literal = re.compile(r"['\"][^'\"]*#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?\b")
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "explorer" / "gui").rglob("*.py"))
                 if path.name != "theme.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if literal.search(line.split("  #")[0])]
    assert not offenders, offenders


def test_the_app_has_its_name_version_icon_and_desktop_entry(qapp):
    import explorer
    from explorer.gui.app import DESKTOP_FILE, ICON, make_application

    app = make_application()  # the running one, given its identity as at start-up
    assert app.applicationVersion() == explorer.__version__
    assert app.desktopFileName() == DESKTOP_FILE
    assert not app.windowIcon().isNull()
    assert app.windowIcon().pixmap(16, 16).toImage().pixelColor(8, 8).alpha() > 0  # drawn at a dock's smallest
    folder = resources.files("explorer.resources")
    assert QSvgRenderer(str(folder.joinpath(ICON))).isValid()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read_string(folder.joinpath(f"{DESKTOP_FILE}.desktop").read_text(encoding="utf-8"))
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == app.applicationName()
    assert desktop["Icon"] == Path(ICON).stem == DESKTOP_FILE  # found where the README installs the SVG
    assert desktop["StartupWMClass"] == app.applicationName()  # Qt's X11 WM_CLASS class is the application name
    scripts = (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1]
    assert f'{desktop["Exec"]} = "explorer.__main__:main"' in scripts  # the command pip installs
    validate = shutil.which("desktop-file-validate")
    if validate:
        result = subprocess.run([validate, str(folder.joinpath(f"{DESKTOP_FILE}.desktop"))], capture_output=True,
                                text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout
