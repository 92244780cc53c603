"""Figure 6, live: training and test error of the plain nets (left) and the ResNets (right), side by side.

Events from a run directory go in through :meth:`CurvesView.add_events`; points are coalesced into growing numpy
buffers and drawn on a ~15 Hz timer with one ``setData`` per changed curve (pyqtgraph's ``scrollingPlots.py``
pattern, DESIGN convention 6). Each curve is created once. Non-finite errors (a diverged net) are dropped, and
the net is labelled where it diverged with its curve kept. A second run can be overlaid as fainter curves.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters.ImageExporter)
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

REDRAW_MS = 66  # ~15 Hz: smooth to the eye, negligible next to a training step
DEPTH_COLOURS = {20: "#1f77b4", 32: "#ff7f0e", 44: "#2ca02c", 56: "#d62728", 110: "#9467bd", 1202: "#8c564b",
                 8: "#17becf", 164: "#e377c2", 1001: "#7f7f7f", 18: "#1f77b4", 34: "#ff7f0e", 50: "#2ca02c",
                 101: "#d62728", 152: "#9467bd"}
EXTRA_COLOURS = ("#bcbd22", "#17becf", "#e377c2", "#7f7f7f", "#8c564b")
CSV_COLUMNS = ("model", "iteration", "epoch", "kind", "error_percent", "loss", "lr", "images_per_sec")


def depth_colour(depth: int) -> str:
    """One colour per depth, the same in both panels and in every run."""
    return DEPTH_COLOURS.get(depth, EXTRA_COLOURS[depth % len(EXTRA_COLOURS)])


def parse_model(name: str) -> tuple[bool, int, str]:
    """``"plain-20"`` -> (plain, 20, "plain-20"); ``"resnet-56"`` -> (residual, 56, "ResNet-56")."""
    kind, _, depth = name.rpartition("-")
    label = {"plain": "plain", "resnet": "ResNet", "preresnet": "Pre-ResNet"}.get(kind, kind)
    return kind == "plain", int(depth) if depth.isdigit() else 0, f"{label}-{depth}"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Series:
    """Growing numpy buffers of (iteration, error %); capacity doubles so appends are amortised O(1)."""

    def __init__(self) -> None:
        self.n = 0
        self.it = np.empty(256)
        self.y = np.empty(256)
        self._smooth = np.empty(0)
        self._smooth_n = 0
        self._weight = -1.0
        self._acc: float | None = None

    def extend(self, points: list[tuple[float, float]]) -> None:
        need = self.n + len(points)
        if need > len(self.it):
            size = max(need, 2 * len(self.it))
            self.it = np.resize(self.it, size)
            self.y = np.resize(self.y, size)
        arr = np.asarray(points, dtype=float).reshape(-1, 2)
        self.it[self.n:need] = arr[:, 0]
        self.y[self.n:need] = arr[:, 1]
        self.n = need

    def truncate(self, iteration: float) -> None:
        self.n = int(np.searchsorted(self.it[:self.n], iteration, side="right"))
        self._smooth_n = min(self._smooth_n, self.n)
        self._acc = None

    def smoothed(self, weight: float) -> np.ndarray:
        """Debiased exponential moving average (TensorBoard's smoothing) of ``y``, extended incrementally so a
        redraw costs only the new points."""
        if weight != self._weight or self._acc is None:
            self._weight, self._smooth_n, self._acc = weight, 0, 0.0
        if len(self._smooth) < len(self.y):
            self._smooth = np.resize(self._smooth, len(self.y))
        acc = self._acc
        for i in range(self._smooth_n, self.n):
            acc = weight * acc + (1.0 - weight) * self.y[i]
            self._smooth[i] = acc / (1.0 - weight ** (i + 1))
        self._acc, self._smooth_n = acc, self.n
        return self._smooth[:self.n]

    def nearest(self, iteration: float) -> tuple[float, float] | None:
        if not self.n:
            return None
        i = int(np.clip(np.searchsorted(self.it[:self.n], iteration), 1, self.n - 1)) if self.n > 1 else 0
        if i and abs(self.it[i - 1] - iteration) <= abs(self.it[i] - iteration):
            i -= 1
        return float(self.it[i]), float(self.y[i])


@dataclass
class _ModelCurves:
    """One network of one run: its buffers and its three curve items (raw training, smoothed, test)."""

    label: str
    plain: bool
    colour: str
    train: _Series = field(default_factory=_Series)
    test: _Series = field(default_factory=_Series)
    items: dict = field(default_factory=dict)
    diverged: pg.TextItem | None = None
    diverged_at: tuple[float, float] | None = None
    pending: list = field(default_factory=list)
    pending_test: list = field(default_factory=list)
    dirty: bool = False


@dataclass
class _RunCurves:
    key: str
    faint: bool
    title: str = ""
    models: dict = field(default_factory=dict)
    epochs_per_iteration: float = 0.0
    milestones: tuple = ()


class CurvesView(QWidget):
    """The two panels, their controls (x axis, smoothing, paper lines) and exports."""

    hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: dict[str, _RunCurves] = {}
        self._rows: list[tuple] = []
        self._reference_items: list = []
        self._markers: list = []
        self.frames = 0
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_redraw)

    def _build(self) -> None:
        self.x_axis = QComboBox()
        self.x_axis.addItems(["Iterations", "Epochs"])
        self.x_axis.setToolTip("Plot against iterations (mini-batches, as in the paper's Figure 6) or epochs")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMinimumWidth(90)
        self.smoothing.setMaximumWidth(160)
        self.smoothing.setToolTip("Exponential moving average of the training error; the raw curve stays faint")
        self._smoothing_label = QLabel()
        self.reference = QCheckBox("Paper test errors")
        self.reference.setToolTip("Dotted lines at the ResNet test errors of the paper's Table 6 (CIFAR-10)")
        self.caption = QLabel("dashed: training error · bold: test error · dotted verticals: lr ÷10")
        self.caption.setStyleSheet("color: #555;")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x axis:"))
        controls.addWidget(self.x_axis)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Smoothing:"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self._smoothing_label)
        controls.addSpacing(12)
        controls.addWidget(self.reference)
        controls.addStretch(1)

        pg.setConfigOptions(antialias=True, background="w", foreground="#333")
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.plain_plot = self.layout_widget.addPlot(row=0, col=0, title="Plain networks")
        self.residual_plot = self.layout_widget.addPlot(row=0, col=1, title="Residual networks (ResNets)")
        for plot in (self.plain_plot, self.residual_plot):
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("left", "error (%)")
            plot.setLimits(yMin=0, yMax=100)
            plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
            plot.hover_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#999", width=1))
            plot.hover_text = pg.TextItem(anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 220), border="#bbb")
            for item in (plot.hover_line, plot.hover_text):
                item.setZValue(100)
                item.hide()
                plot.addItem(item, ignoreBounds=True)
            # Invisible points carrying both panels' y extent (see _share_y_range).
            plot.shared_bounds = pg.ScatterPlotItem(size=0, pen=None, brush=None)
            plot.addItem(plot.shared_bounds)
        self.residual_plot.setYLink(self.plain_plot)
        self.residual_plot.setXLink(self.plain_plot)
        self._share_y_range()
        self._set_x_label()
        self.layout_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.layout_widget, 1)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignHCenter)
        self.x_axis.currentIndexChanged.connect(self._on_x_axis_changed)
        self.smoothing.valueChanged.connect(self._on_smoothing_changed)
        self.reference.toggled.connect(self._update_reference)
        self._on_smoothing_changed()

    # --- public -------------------------------------------------------------------------------------------
    def clear(self, key: str | None = None) -> None:
        """Forget one run (``"main"`` or ``"overlay"``) or, with no key, everything."""
        for run_key in [key] if key else list(self._runs):
            run = self._runs.pop(run_key, None)
            if run is None:
                continue
            for model in run.models.values():
                plot = self.plain_plot if model.plain else self.residual_plot
                for item in list(model.items.values()) + ([model.diverged] if model.diverged else []):
                    plot.removeItem(item)
            if run_key == "main":
                self._rows.clear()
        self._update_markers()
        self._update_reference()
        self._share_y_range()

    def add_events(self, events: list[dict], key: str = "main", title: str = "") -> None:
        """Take new events of a run; they are drawn on the next redraw tick."""
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _RunCurves(key=key, faint=key != "main", title=title)
        for event in events:
            kind = event.get("type")
            if kind == "start":
                run.milestones = tuple(event.get("milestones") or ())
                self._update_markers()
            elif kind == "train":
                self._on_train(run, event)
            elif kind == "eval":
                self._on_eval(run, event)
            elif kind == "diverged":
                self._on_diverged(run, event)
            elif kind == "resume":
                self._on_resume(run, event.get("iteration", 0))

    def set_milestones(self, milestones, key: str = "main") -> None:
        run = self._runs.setdefault(key, _RunCurves(key=key, faint=key != "main"))
        run.milestones = tuple(milestones)
        self._update_markers()

    def model_names(self, key: str = "main") -> list[str]:
        run = self._runs.get(key)
        return list(run.models) if run else []

    def point_count(self, name: str, kind: str = "train", key: str = "main") -> int:
        """How many points the curve holds (drawn or about to be)."""
        model = self._runs[key].models[name]
        series, pending = (model.train, model.pending) if kind == "train" else (model.test, model.pending_test)
        return series.n + len(pending)

    def curve_item(self, name: str, kind: str = "test", key: str = "main") -> pg.PlotDataItem:
        return self._runs[key].models[name].items[kind]

    def divergence_label(self, name: str, key: str = "main") -> str:
        item = self._runs[key].models[name].diverged
        return item.toPlainText() if item is not None else ""

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

    def export_image(self, path: Path) -> None:
        """PNG, or SVG when the name ends in .svg: both panels as one figure."""
        self.flush()
        scene = self.layout_widget.scene()
        if Path(path).suffix.lower() == ".svg":
            # Qt's own SVG writer: pyqtgraph's SVGExporter fails on the dotted lr-drop markers' paths
            view = self.layout_widget
            rect = view.mapToScene(view.viewport().rect()).boundingRect()  # what is on screen, as for PNG
            generator = QSvgGenerator()
            generator.setFileName(str(path))
            generator.setSize(rect.size().toSize())
            generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            generator.setTitle("ResNet Explorer: training and test error")
            painter = QPainter(generator)
            try:
                scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
            finally:
                painter.end()
        else:
            exporter = pg.exporters.ImageExporter(scene)
            # Scale from what is on screen: the scene's own rect also spans off-screen items (thousands of
            # pixels), and rendering at that scale took minutes and gigabytes.
            exporter.parameters()["width"] = max(1600, self.layout_widget.width())
            exporter.export(str(path))

    def export_csv(self, path: Path) -> int:
        """The main run's points (training and test error, percent) as CSV; returns the number of rows."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(self._rows)
        return len(self._rows)

    # --- events -------------------------------------------------------------------------------------------
    def _model(self, run: _RunCurves, name: str) -> _ModelCurves:
        model = run.models.get(name)
        if model is not None:
            return model
        plain, depth, label = parse_model(name)
        model = run.models[name] = _ModelCurves(label=label, plain=plain, colour=depth_colour(depth))
        plot = self.plain_plot if plain else self.residual_plot
        colour = QColor(model.colour)
        faint = QColor(colour)
        faint.setAlpha(60)
        if run.faint:
            colour.setAlpha(110)
            label = f"{label} · {run.title or 'overlay'}"
        width = 1.5 if run.faint else 2.5
        model.items = {
            "raw": plot.plot(pen=pg.mkPen(faint, width=1)),
            "train": plot.plot(pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine)),
            "test": plot.plot(pen=pg.mkPen(colour, width=width), name=label),
        }
        return model

    def _on_train(self, run: _RunCurves, event: dict) -> None:
        model = self._model(run, str(event.get("model", "")))
        it, error = event.get("iteration"), event.get("error")
        if _finite(it) and _finite(event.get("epoch")) and it > 0 and not run.epochs_per_iteration:
            run.epochs_per_iteration = float(event["epoch"]) / it
        if _finite(it) and _finite(error):
            model.pending.append((float(it), 100.0 * error))
            model.dirty = True
        if run.key == "main":
            self._rows.append((event.get("model"), it, event.get("epoch"), "train",
                               100.0 * error if _finite(error) else "", event.get("loss"), event.get("lr"),
                               event.get("images_per_sec")))

    def _on_eval(self, run: _RunCurves, event: dict) -> None:
        model = self._model(run, str(event.get("model", "")))
        it, error = event.get("iteration"), event.get("test_error")
        if _finite(it) and _finite(error):
            model.pending_test.append((float(it), 100.0 * error))
            model.dirty = True
        if run.key == "main":
            epoch = it * run.epochs_per_iteration if _finite(it) and run.epochs_per_iteration else ""
            self._rows.append((event.get("model"), it, epoch, "test", 100.0 * error if _finite(error) else "",
                               event.get("test_loss"), "", ""))

    def _on_diverged(self, run: _RunCurves, event: dict) -> None:
        model = self._model(run, str(event.get("model", "")))
        it = event.get("iteration", 0)
        plot = self.plain_plot if model.plain else self.residual_plot
        if model.diverged is None:
            model.diverged = pg.TextItem(color=model.colour, anchor=(1, 1))
            plot.addItem(model.diverged)
        model.diverged.setText(f"{model.label} diverged at {it:,}")
        model.diverged_at = (float(it), 0.0)
        model.dirty = True

    def _on_resume(self, run: _RunCurves, iteration: int) -> None:
        """The trainer resumed from its checkpoint at ``iteration``: points logged after it are gone."""
        for model in run.models.values():
            self._commit(model)
            model.train.truncate(iteration)
            model.test.truncate(iteration)
            model.dirty = True
        if run.key == "main":
            self._rows = [r for r in self._rows if not (_finite(r[1]) and r[1] > iteration)]

    # --- drawing ------------------------------------------------------------------------------------------
    @staticmethod
    def _commit(model: _ModelCurves) -> None:
        if model.pending:
            model.train.extend(model.pending)
            model.pending.clear()
        if model.pending_test:
            model.test.extend(model.pending_test)
            model.pending_test.clear()

    def _scale(self, run: _RunCurves) -> float:
        return run.epochs_per_iteration if self.x_axis.currentIndex() == 1 and run.epochs_per_iteration else 1.0

    def _weight(self) -> float:
        return self.smoothing.value() / 100.0

    def _on_redraw(self, everything: bool = False) -> None:
        drew = False
        for run in self._runs.values():
            scale = self._scale(run)
            for model in run.models.values():
                if not (model.dirty or everything):
                    continue
                self._commit(model)
                model.dirty = False
                drew = True
                x = model.train.it[:model.train.n] * scale
                y = model.train.y[:model.train.n]
                weight = self._weight()
                if weight > 0:
                    model.items["raw"].setData(x, y)
                    model.items["train"].setData(x, model.train.smoothed(weight))
                else:
                    model.items["raw"].setData([], [])
                    model.items["train"].setData(x, y)
                model.items["test"].setData(model.test.it[:model.test.n] * scale, model.test.y[:model.test.n])
                if model.diverged is not None and model.diverged_at is not None:
                    last = model.train.y[model.train.n - 1] if model.train.n else 50.0
                    model.diverged.setPos(model.diverged_at[0] * scale, last)
        if drew:
            self._share_y_range()
        self.frames += drew  # redraws that changed something (the responsiveness benchmark reads it)

    def _share_y_range(self) -> None:
        """Give both panels the same y extent: 0 (as in Figure 6) to the highest error either shows.

        Linked views auto-range each on its own curves and the last one to do so wins, which cut the other
        panel's curves off; with the union of both as an invisible item in each, they agree, and the user's
        zoom and pyqtgraph's auto-range button keep working."""
        top = 0.0
        for run in self._runs.values():
            for model in run.models.values():
                for series in (model.train, model.test):
                    values = series.y[:series.n]
                    values = values[np.isfinite(values)]
                    if values.size:
                        top = max(top, float(values.max()))
        top = top or 100.0  # nothing drawn yet: the whole scale of an error in percent, not 0..1
        for plot in (self.plain_plot, self.residual_plot):
            plot.shared_bounds.setData([0.0, 1.0], [0.0, top])

    def _set_x_label(self) -> None:
        for plot in (self.plain_plot, self.residual_plot):
            plot.setLabel("bottom", "iterations" if self.x_axis.currentIndex() == 0 else "epochs")

    def _on_x_axis_changed(self) -> None:
        self._set_x_label()
        self._update_markers()
        self._on_redraw(everything=True)
        self.plain_plot.enableAutoRange()

    def _on_smoothing_changed(self) -> None:
        weight = self._weight()
        self._smoothing_label.setText(f"{weight:.2f}" if weight else "off")
        self._on_redraw(everything=True)

    def _update_markers(self) -> None:
        for plot, line in self._markers:
            plot.removeItem(line)
        self._markers = []
        run = self._runs.get("main")
        if run is None:
            return
        scale = self._scale(run)
        for plot in (self.plain_plot, self.residual_plot):
            for milestone in run.milestones:
                line = pg.InfiniteLine(pos=milestone * scale, angle=90,
                                       pen=pg.mkPen("#888", width=1, style=Qt.PenStyle.DotLine))
                plot.addItem(line, ignoreBounds=True)
                self._markers.append((plot, line))

    def _update_reference(self) -> None:
        for line in self._reference_items:
            self.residual_plot.removeItem(line)
        self._reference_items = []
        if not self.reference.isChecked():
            return
        from explorer.reference import paper_test_errors

        paper = paper_test_errors()
        depths = sorted({parse_model(n)[1] for run in self._runs.values() for n in run.models if "resnet" in n})
        for i, depth in enumerate(d for d in depths or sorted(paper) if d in paper):
            line = pg.InfiniteLine(
                pos=paper[depth], angle=0, pen=pg.mkPen(depth_colour(depth), width=1, style=Qt.PenStyle.DotLine),
                label=f"paper ResNet-{depth}: {paper[depth]:.2f}%",
                labelOpts={"position": 0.08 + 0.22 * (i % 4), "color": depth_colour(depth), "anchors": [(0, 1), (0, 1)]})
            self.residual_plot.addItem(line)
            self._reference_items.append(line)

    def _on_mouse_moved(self, pos) -> None:
        for plot in (self.plain_plot, self.residual_plot):
            inside = plot.sceneBoundingRect().contains(pos) and plot.vb.sceneBoundingRect().contains(pos)
            plot.hover_line.setVisible(inside)
            plot.hover_text.setVisible(inside)
            if not inside:
                continue
            point = plot.vb.mapSceneToView(pos)
            lines = self._values_at(plot is self.plain_plot, point.x())
            plot.hover_line.setPos(point.x())
            plot.hover_text.setHtml("<br>".join(lines) or "no data here")
            (x0, x1), (y0, y1) = plot.vb.viewRange()
            plot.hover_text.setPos(point.x(), y1)
            plot.hover_text.setAnchor((1, 0) if point.x() > (x0 + x1) / 2 else (0, 0))
            self.hovered.emit(" · ".join(lines))

    def _values_at(self, plain: bool, x: float) -> list[str]:
        lines = []
        unit = "epoch" if self.x_axis.currentIndex() == 1 else "iter"
        for run in self._runs.values():
            scale = self._scale(run)
            for model in run.models.values():
                if model.plain != plain:
                    continue
                parts = []
                for kind, series in (("train", model.train), ("test", model.test)):
                    near = series.nearest(x / scale)
                    if near is not None:
                        parts.append(f"{kind} {near[1]:.2f}% @ {unit} {near[0] * scale:,.4g}")
                if parts:
                    name = model.label + (" (overlay)" if run.faint else "")
                    lines.append(f"<span style='color:{model.colour}'>{name}</span>: " + ", ".join(parts))
        return lines
