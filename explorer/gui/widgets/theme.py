"""The app's colours, one owner: the palette the app shows - the system's own (its style and its light or dark
palette, followed when the desktop switches), or Light or Dark as chosen in View → Theme (kept in QSettings) - and
every colour drawn on top of it: the plots' background, axes, grid, titles and legends, the curves of each depth,
the reference lines, the texts that say an error or give a note, the state of a run.

Curve colours are one set for every theme: matplotlib's ``tab10`` hues, each brought to the same luminance, so
that every one has a contrast of at least 3.5:1 on white and on a dark plot alike (the WCAG's 3:1 for graphics;
tests/gui/test_theme.py checks it). Texts (errors, notes, run states) need 4.5:1, which no colour has on both,
so they come in a light and a dark shade, chosen by the palette shown. Widgets keep following the palette as it
changes: labels through their palette roles, plots through :func:`style_plots`, called for every plot on screen
whenever the theme changes.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QSettings
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

Role, Group = QPalette.ColorRole, QPalette.ColorGroup

THEME_KEY = "view/theme"
THEMES = {"system": "System", "light": "Light", "dark": "Dark"}
DEFAULT_THEME = "system"
MARK = "themeColour"  # the dynamic property of a label whose text colour is one of TEXT_COLOURS

# tab10's hues, each at relative luminance 0.22 (see the module's docstring).
DEPTH_COLOURS = {20: "#2387cb", 32: "#d06100", 44: "#299429", 56: "#df5050", 110: "#9a6fc0", 1202: "#ad7267",
                 8: "#118f9b", 164: "#d945ac", 1001: "#828282", 18: "#2387cb", 34: "#d06100", 50: "#299429",
                 101: "#df5050", 152: "#9a6fc0"}
EXTRA_COLOURS = ("#858518", "#118f9b", "#d945ac", "#828282", "#ad7267")
# Runs overlaid on the one shown: colours of their own, apart from the depth colours, in the order their networks
# are added (an overlay of the same depths must not look like the run it is compared with); each reads at 3:1 or
# more on the light and the dark plot background alike (tests/gui/test_theme.py).
OVERLAY_COLOURS = ("#008a8a", "#b2820b", "#e71d9c", "#6c8f23", "#7b68ee", "#bf6236", "#6f8090", "#a359e8")
# Plain and residual nets of one depth drawn in one panel (the Analysis tab): the plain one in this darker shade.
PLAIN_SHADE = 160
GUIDE = "#888888"  # reference lines (the pointer's, the lr drops, chance): 3.5:1 on white, 5:1 on dark
SECONDARY_TEXT = GUIDE  # a secondary line inside rich text, which no palette role reaches
ERROR_LINE = DEPTH_COLOURS[56]  # the frame of a field with a wrong value: a red at 3.9:1 on white, 4.2:1 on dark
# (light shade, dark shade) of each kind of text, 4.5:1 or more on the window of its theme
TEXT_COLOURS = {"error": ("#b00020", "#ff8a80"), "note": ("#1565c0", "#8ab4f8"), "running": ("#1565c0", "#8ab4f8"),
                "finished": ("#2a7230", "#81c995"), "cancelled": ("#7a5f00", "#fdd663"),
                "failed": ("#b00020", "#ff8a80"), "unreadable": ("#b00020", "#ff8a80"),
                "created": ("#555555", "#a8a8a8")}

_PALETTE = {  # (Light, Dark) of each role
    Role.Window: ("#efefef", "#2b2d30"), Role.WindowText: ("#1d1d1d", "#e6e6e6"), Role.Base: ("#ffffff", "#1e1f22"),
    Role.AlternateBase: ("#f5f5f5", "#27292c"), Role.ToolTipBase: ("#ffffdc", "#3c3f41"),
    Role.ToolTipText: ("#1d1d1d", "#e6e6e6"), Role.PlaceholderText: ("#646464", "#9a9a9a"),
    Role.Text: ("#1d1d1d", "#e6e6e6"), Role.Button: ("#efefef", "#3a3d40"), Role.ButtonText: ("#1d1d1d", "#e6e6e6"),
    Role.BrightText: ("#ffffff", "#ffffff"), Role.Light: ("#ffffff", "#4a4d50"), Role.Midlight: ("#cacaca", "#3e4144"),
    Role.Mid: ("#b8b8b8", "#2f3235"), Role.Dark: ("#9f9f9f", "#1a1b1d"), Role.Shadow: ("#767676", "#000000"),
    Role.Highlight: ("#308cc6", "#3d8fd1"), Role.HighlightedText: ("#ffffff", "#ffffff"),
    Role.Link: ("#0b57d0", "#8ab4f8"), Role.LinkVisited: ("#7b3fb4", "#c58af9"),
}
FORCED = ("light", "dark")  # the themes that bring their own palette (in _PALETTE's order)
_DISABLED = {"light": "#9a9a9a", "dark": "#6f7276"}  # text of disabled widgets


def depth_colour(depth: int) -> str:
    """One colour per depth, the same in both panels, in every run and in every theme."""
    return DEPTH_COLOURS.get(depth, EXTRA_COLOURS[depth % len(EXTRA_COLOURS)])


def palette_of(theme: str) -> QPalette:
    """The palette of the Light or Dark theme."""
    palette = QPalette()
    for role, shades in _PALETTE.items():
        palette.setColor(role, QColor(shades[FORCED.index(theme)]))
    for role in (Role.WindowText, Role.Text, Role.ButtonText, Role.PlaceholderText):
        palette.setColor(Group.Disabled, role, QColor(_DISABLED[theme]))
    return palette


def saved_theme(settings: QSettings) -> str:
    theme = str(settings.value(THEME_KEY, DEFAULT_THEME))
    return theme if theme in THEMES else DEFAULT_THEME


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette if palette is not None else QApplication.palette()
    return palette.color(Role.Window).lightness() < 128


def text_colour(kind: str, palette: QPalette | None = None) -> QColor:
    """The colour of a text of ``kind`` (an error, a note, a run's state) on ``palette`` (the app's)."""
    light, dark = TEXT_COLOURS[kind]
    return QColor(dark if is_dark(palette) else light)


def mark(widget: QWidget, kind: str | None) -> None:
    """Colour ``widget``'s text as a ``kind`` (see TEXT_COLOURS), or as its palette's again (None); it follows
    the theme from then on."""
    widget.setProperty(MARK, kind or "")
    _paint_mark(widget)


def _paint_mark(widget: QWidget) -> None:
    kind = widget.property(MARK)
    if not kind:
        widget.setPalette(QPalette())  # every role inherited again
        return
    palette = QPalette()
    for role in (Role.WindowText, Role.Text):
        palette.setColor(role, text_colour(kind))
    widget.setPalette(palette)


def caption(widget: QWidget) -> QWidget:
    """A secondary text (a caption under a plot): the palette's placeholder colour, in every theme."""
    widget.setForegroundRole(Role.PlaceholderText)
    return widget


# -- plots ---------------------------------------------------------------------------------------------------------
def plot_colours(palette: QPalette | None = None) -> tuple[QColor, QColor]:
    """(background, foreground) of a plot: the palette's Base and Text, as the app's tables and editors."""
    palette = palette if palette is not None else QApplication.palette()
    return palette.color(Role.Base), palette.color(Role.Text)


def legend_brush() -> QBrush:
    background = QColor(plot_colours()[0])
    background.setAlpha(190)
    return QBrush(background)


def style_plots(view: pg.GraphicsView) -> None:
    """Give ``view`` (a GraphicsLayoutWidget or PlotWidget) and every plot in it the theme's colours: background,
    axes with their ticks, labels and grid, titles, legends."""
    background, foreground = plot_colours()
    view.setBackground(background)
    for item in view.scene().items():
        if isinstance(item, pg.AxisItem):
            item.setPen(foreground)
            item.setTextPen(foreground)
        elif isinstance(item, pg.LegendItem):
            item.setBrush(legend_brush())
            item.setLabelTextColor(foreground)
        elif isinstance(item, pg.LabelItem):
            item.setText(item.text, color=foreground)


def configure_plots() -> None:
    """Plots made from now on start in the theme's colours (pyqtgraph reads these when an item is made)."""
    background, foreground = plot_colours()
    pg.setConfigOptions(antialias=True, background=background, foreground=foreground)


# -- the theme -----------------------------------------------------------------------------------------------------
def apply_theme(theme: str) -> None:
    """Show the app in ``theme``: "system" (the platform's own style and palette), "light" or "dark" (Fusion with
    this module's palettes); every widget and plot on screen follows at once."""
    app = QApplication.instance()
    native = app.property("nativeStyle")
    if not native:  # the style Qt chose for this platform, before any theme replaced it
        native = app.style().name()
        app.setProperty("nativeStyle", native)
        hints = app.styleHints()
        if hasattr(hints, "colorSchemeChanged"):  # Qt 6.5: the desktop switched between light and dark
            hints.colorSchemeChanged.connect(lambda _: _restyle(app))
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8: the window frames and native dialogs follow too
        from PySide6.QtCore import Qt

        hints.setColorScheme({"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(
            theme, Qt.ColorScheme.Unknown))
    if theme in FORCED:
        app.setStyle("Fusion")
        app.setPalette(palette_of(theme))
    else:
        app.setStyle(native)
        app.setPalette(QPalette())  # the platform's palette again
    app.setProperty("theme", theme)
    _restyle(app)


def _restyle(app: QApplication) -> None:
    configure_plots()
    for widget in app.allWidgets():
        if isinstance(widget, pg.GraphicsView):
            style_plots(widget)
        elif widget.property(MARK):
            _paint_mark(widget)
