"""Figure 6, live: training and test error of the plain nets (left) and the ResNets (right), side by side (for a
run of ResNets from scratch and from pretrained weights: scratch left, pretrained right).

Each shown run (the main one and any overlays) is a :class:`explorer.runs.series.RunSeries` plus its curve items,
created once per network and fed with ``setData`` on a ~15 Hz timer (pyqtgraph's ``scrollingPlots.py``
pattern, docs/architecture.md, convention 6). Which panel, colour and label a network gets comes from its ModelConfig in the
run's config, never from its name parsed back. Both panels share one x and y extent (the union of what either
shows), so neither follows an empty twin. Clicking a legend entry hides all of that network's lines. A run of
several seeds shows each network's mean ± std over them (single seeds on demand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from explorer.config.paper import PAPER_DATASET
from explorer.config.run import RunConfig
from explorer.gui.training.hover_readout import HoverReadout
from explorer.gui.training.paper_lines import PaperLines
from explorer.gui.widgets.tips import tip
from explorer.gui.widgets.legend import legend_under
from explorer.gui.widgets.network_curves import NetworkCurves, on_left, overlay_colour, panel_title
from explorer.gui.widgets.theme import GUIDE, caption, configure_plots
from explorer.runs.series import RunSeries

REDRAW_MS = 66  # ~15 Hz: smooth to the eye, negligible next to a training step
PAPER_TIP = "Dotted lines at the paper's CIFAR-10 test errors (Table 6) of the ResNets shown."
SETTINGS_KEYS = ("curves/x_axis", "curves/paper_lines", "curves/smoothing", "curves/single_seeds")


STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def step_up(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is at least ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(s * power for s in STEPS if s * power >= value * (1 - 1e-9))


class Extent(pg.GraphicsObject):
    """Nothing to see: a rectangle from the origin whose bounds the auto-range reads, and no painting."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents)
        self._rect = QRectF(0.0, 0.0, 1.0, 100.0)

    def set_extent(self, right: float, top: float) -> None:
        if (self._rect.width(), self._rect.height()) == (right, top):
            return
        self.prepareGeometryChange()
        self._rect = QRectF(0.0, 0.0, right, top)
        self.informViewBoundsChanged()

    def dataBounds(self, axis: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 (pyqtgraph)
        return (0.0, self._rect.width()) if axis == 0 else (0.0, self._rect.height())

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt)
        return self._rect

    def paint(self, *args) -> None:
        pass


@dataclass
class _Shown:
    key: str
    path: Path
    config: RunConfig
    overlay: bool
    series: RunSeries = field(default_factory=RunSeries)
    networks: dict[str, NetworkCurves] = field(default_factory=dict)  # by model name, one for all its seeds


class CurvesView(QWidget):
    """The two panels, their controls (x axis, smoothing, paper lines) and the hover readout."""

    hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown: dict[str, _Shown] = {}
        self.frames = 0  # redraws that changed something (the responsiveness benchmark reads it)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_redraw)

    def _build(self) -> None:
        self.x_axis = QComboBox(objectName="xAxis")
        self.x_axis.addItems(["Iterations", "Epochs"])
        self.x_axis.setToolTip("Plot against iterations (mini-batches, as in the paper's Figure 6) or epochs")
        self.smoothing = QSlider(Qt.Orientation.Horizontal, objectName="smoothing")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMinimumWidth(90)
        self.smoothing.setMaximumWidth(160)
        self.smoothing.setToolTip("Exponential moving average of the training error; the raw curve stays faint")
        self._smoothing_label = QLabel()
        self.single_seeds = QCheckBox("Single seeds", objectName="singleSeeds")
        self.single_seeds.setToolTip(tip("A run of several seeds shows each network's mean over them with a ± std "
                                         "band; this adds each seed's own curves"))
        self.single_seeds.setVisible(False)
        self.reference = QCheckBox("Paper test errors", objectName="paperLines")
        self.reference.setToolTip(tip(PAPER_TIP))
        self.caption = QLabel("dashed: training error · bold: test error · dotted verticals: lr ÷10 · "
                              "click a legend entry to hide a network")
        caption(self.caption)
        controls = QHBoxLayout()
        for widget in (QLabel("x axis:"), self.x_axis):
            controls.addWidget(widget)
        controls.addSpacing(12)
        for widget in (QLabel("Smoothing:"), self.smoothing, self._smoothing_label):
            controls.addWidget(widget)
        controls.addSpacing(12)
        controls.addWidget(self.reference)
        controls.addWidget(self.single_seeds)
        controls.addStretch(1)

        configure_plots()
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.plain_plot = self.layout_widget.addPlot(row=0, col=0, title="Plain networks")
        self.residual_plot = self.layout_widget.addPlot(row=0, col=1, title="Residual networks (ResNets)")
        for plot in self.plots:
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.showGrid(x=True, y=True, alpha=0.25)
            for side in ("left", "bottom"):
                # Major grid lines only: the minor ones are hundreds of translucent lines that took 30 ms of
                # every repaint (the event-loop stalls while training); the major ones take 3.
                plot.getAxis(side).setStyle(maxTickLevel=0)
            plot.setLabel("left", "error (%)")
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # "epochs (x0.001)" said nothing a person could use
            plot.setLimits(yMin=0, yMax=100)
            legend_under(plot).sigSampleClicked.connect(self._on_legend_clicked)  # covers no curve
            # An invisible item carrying both panels' common extent (see _share_extent).
            plot.extent = Extent()
            plot.addItem(plot.extent)
            plot.hover_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(GUIDE, width=1))
            plot.hover_line.hide()
            plot.addItem(plot.hover_line, ignoreBounds=True)
            plot.markers = []
        self.residual_plot.setYLink(self.plain_plot)
        self.residual_plot.setXLink(self.plain_plot)
        self.paper = PaperLines(self.residual_plot)
        self.readout = HoverReadout(self)
        self._set_x_label()
        self._share_extent()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.layout_widget, 1)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignHCenter)
        self.x_axis.currentIndexChanged.connect(self._on_x_axis_changed)
        self.smoothing.valueChanged.connect(self._on_smoothing_changed)
        self.reference.toggled.connect(self._update_paper_lines)
        self.single_seeds.toggled.connect(lambda: self._on_redraw(everything=True))
        self._on_smoothing_changed()
        self._update_paper_lines()

    @property
    def plots(self) -> tuple[pg.PlotItem, pg.PlotItem]:
        return self.plain_plot, self.residual_plot

    # --- runs shown ---------------------------------------------------------------------------------------
    def show_run(self, key: str, path: Path, config: RunConfig, overlay: bool = False) -> None:
        """Start showing a run (replacing whatever ``key`` showed); its events come through :meth:`add_events`."""
        self.remove_run(key)
        taken = sum(len(s.networks) for s in self._shown.values() if s.overlay)
        shown = self._shown[key] = _Shown(key, Path(path), config, overlay)
        shown.series.milestones = config.train.milestones
        for i, model in enumerate(config.model_configs()):
            shown.networks[model.name] = NetworkCurves(
                model, self.plain_plot if on_left(model, config.train.start_from) else self.residual_plot,
                overlay=overlay,
                run_name=config.name, seeds=config.train.seeds, colour=overlay_colour(taken + i) if overlay else None)
        self._runs_changed()

    def add_events(self, key: str, events: list[dict]) -> None:
        """New events of a shown run; drawn on the next redraw tick."""
        shown = self._shown.get(key)  # networks the config does not list (a hand-edited file) are not drawn
        if shown is not None and shown.series.add(events):
            self._update_markers()

    def remove_run(self, key: str) -> None:
        shown = self._shown.pop(key, None)
        if shown is None:
            return
        for network in shown.networks.values():
            network.remove()
        self._runs_changed()

    def _runs_changed(self) -> None:
        """A run was added or removed: everything drawn from the set of runs follows."""
        self._update_seed_toggle()
        self.readout.hide()
        self._update_markers()
        self._update_paper_lines()
        self._update_titles()
        self._share_extent()

    def clear(self) -> None:
        for key in list(self._shown):
            self.remove_run(key)

    def save_settings(self, settings) -> None:
        for key, value in zip(SETTINGS_KEYS, (self.x_axis.currentIndex(), self.reference.isChecked(),
                                              self.smoothing.value(), self.single_seeds.isChecked())):
            settings.setValue(key, value)

    def restore_settings(self, settings) -> None:
        """The x axis, the paper lines, the smoothing and the single seeds as they were when the app closed."""
        self.x_axis.setCurrentIndex(1 if str(settings.value(SETTINGS_KEYS[0], "0")) == "1" else 0)
        self.reference.setChecked(str(settings.value(SETTINGS_KEYS[1], "false")).lower() == "true")
        self.single_seeds.setChecked(str(settings.value(SETTINGS_KEYS[3], "false")).lower() == "true")
        try:
            self.smoothing.setValue(int(settings.value(SETTINGS_KEYS[2], 60)))
        except (TypeError, ValueError):
            pass

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt)
        """Hidden curves are not redrawn; points keep collecting and are drawn when shown again."""
        super().hideEvent(event)
        self._timer.stop()

    def flush(self) -> None:
        """Draw what is pending now (exports and tests want the latest points)."""
        self._on_redraw()

    # --- items --------------------------------------------------------------------------------------------
    def _update_seed_toggle(self) -> None:
        self.single_seeds.setVisible(any(shown.config.train.seeds > 1 for shown in self._shown.values()))

    def _on_legend_clicked(self, item) -> None:
        """A legend entry toggles its test line; the same network's training lines follow it."""
        for shown in self._shown.values():
            for network in shown.networks.values():
                if network.test is item:
                    network.set_visible(item.isVisible())
        self.paper.follow_legend(item)

    # --- drawing ------------------------------------------------------------------------------------------
    def _scale(self, shown: _Shown) -> float | None:
        """Iterations to x: 1, or epochs per iteration (None while a run has not said how many)."""
        if self.x_axis.currentIndex() == 0:
            return 1.0
        return shown.series.epochs_per_iteration or None

    def _on_redraw(self, everything: bool = False) -> None:
        drew = False
        weight = self.smoothing.value() / 100.0
        single_seeds = self.single_seeds.isChecked()
        for shown in self._shown.values():
            scale = self._scale(shown)
            changed = {data.model for data in shown.series.networks.values() if data.changed or everything}
            for model in changed & set(shown.networks):
                seeds = shown.series.seeds_of(model)
                for data in seeds:
                    data.changed = False
                shown.networks[model].draw(seeds, scale, weight, single_seeds)
                drew = True
        if drew:
            self._share_extent()
            self.frames += 1

    def _share_extent(self) -> None:
        """Give both panels the same extent: from 0 to the largest iteration (or epoch) and the highest error
        either panel shows. Linked views auto-range each on its own items and the last one wins, so an empty
        panel would pin its twin to 0..1; with the union as an invisible item in each, they agree, and zooming
        and pyqtgraph's auto-range button keep working."""
        right = top = 0.0
        for shown in self._shown.values():
            scale = self._scale(shown)
            x, y = shown.series.extent()
            right, top = max(right, x * (scale or 0.0)), max(top, y)
        # In steps, not point by point: each change of range re-lays out all four axes' tick labels (the longest
        # repaints while training, 30-50 ms); stepped, a run of 200 points changes it some 20 times, not 200.
        right, top = step_up(right) if right else 1.0, min(100.0, math.ceil(top / 5) * 5) if top else 100.0
        for plot in self.plots:
            plot.extent.set_extent(right, top)

    def _set_x_label(self) -> None:
        for plot in self.plots:
            plot.setLabel("bottom", "iterations" if self.x_axis.currentIndex() == 0 else "epochs")

    def _on_x_axis_changed(self) -> None:
        self._set_x_label()
        self._update_markers()
        self._on_redraw(everything=True)
        self._share_extent()
        self.plain_plot.enableAutoRange()

    def _on_smoothing_changed(self) -> None:
        weight = self.smoothing.value() / 100.0
        self._smoothing_label.setText(f"{weight:.2f}" if weight else "off")
        self._on_redraw(everything=True)

    def _update_markers(self) -> None:
        """Dotted verticals at the main run's lr drops."""
        for plot in self.plots:
            for line in plot.markers:
                plot.removeItem(line)
            plot.markers = []
        shown = self._shown.get("main")
        scale = self._scale(shown) if shown else None
        if shown is None or scale is None:
            return
        for plot in self.plots:
            for milestone in shown.series.milestones:
                line = pg.InfiniteLine(pos=milestone * scale, angle=90,
                                       pen=pg.mkPen(GUIDE, width=1, style=Qt.PenStyle.DotLine))
                plot.addItem(line, ignoreBounds=True)
                plot.markers.append(line)

    def values_at(self, plot: pg.PlotItem, x: float) -> list[str]:
        """What the hover readout lists at ``x`` in panel ``plot``: each visible network's nearest points."""
        lines = []
        for shown in self._shown.values():
            scale = self._scale(shown)
            if scale is None:
                continue
            for name, network in shown.networks.items():
                seeds = shown.series.seeds_of(name)
                if network.plot is not plot or not seeds or not network.test.isVisible():
                    continue
                parts = network.readout(seeds, x / scale)
                if parts:
                    colour = network.colour.name()
                    lines.append(f"<span style='color:{colour}'>■</span> {network.label}: " + ", ".join(parts))
        return lines

    def _update_titles(self) -> None:
        """A panel with none of its kind among the runs shown says so (a "Residual only" run, say)."""
        networks = [n for shown in self._shown.values() for n in shown.networks.values()]
        for plot, left, title in ((self.plain_plot, True, "Plain networks"),
                                  (self.residual_plot, False, "Residual networks (ResNets)")):
            models = [n.model for n in networks if n.plot is plot]
            plot.setTitle(panel_title(models, left) if models else
                          title if not networks else f"{title}: none in the runs shown")

    def _update_paper_lines(self) -> None:
        """The paper's numbers are CIFAR-10's: drawn for the ResNets of CIFAR-10 runs only, never as a target
        for a synthetic set or someone's own images; the box says so while no CIFAR-10 run is shown."""
        models = [n.model for shown in self._shown.values() if shown.config.data.dataset == PAPER_DATASET
                  for n in shown.networks.values()]
        self.reference.setEnabled(bool(models))
        self.reference.setToolTip(tip(PAPER_TIP if models else f"{PAPER_TIP} Only for runs on CIFAR-10: the paper's "
                                      "numbers are about that dataset, not the one shown."))
        self.paper.show(models if self.reference.isChecked() else [])
