"""The pictures of the Analysis tab, plain networks left and ResNets right where both are shown: gradient flow
(a heat map of iteration × layer and the first layer's norm over time), layer responses (Figure 7), lesions
(error per removed block, error against the number removed) and the loss landscape (a line, or a contour plot
on a plane). Each view draws the numbers it is given and lists them as CSV rows; it computes nothing."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.gui.widgets.theme import GUIDE, caption
from explorer.config.model import ModelConfig
from explorer.gui.widgets.legend import legend_under
from explorer.gui.widgets.network_curves import network_colour


def _pen(model: ModelConfig, width: float = 2.0, style=Qt.PenStyle.SolidLine):
    """Plain and residual nets of one depth share a panel here: each its own colour (the plain one darker)."""
    return pg.mkPen(network_colour(model), width=width, style=style)


class _View(QWidget):
    """A graphics layout with a caption; subclasses fill ``self.plots``."""

    title = ""
    caption = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.controls = QHBoxLayout()
        self.note = QLabel(self.caption)
        self.note.setWordWrap(True)
        caption(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.controls)
        layout.addWidget(self.layout_widget, 1)
        layout.addWidget(self.note)
        self._rows: list[tuple] = []

    def rows(self) -> tuple[tuple, list[tuple]]:
        return self.header, list(self._rows)

    def _network_choice(self, label: str) -> QComboBox:
        """The network that the view's big plot (contour, heat map) draws, chosen above the plots."""
        choice = QComboBox()
        choice.currentIndexChanged.connect(self._redraw)
        self.choice_label = QLabel(label)
        self.controls.addWidget(self.choice_label)
        self.controls.addWidget(choice)
        self.controls.addStretch(1)
        return choice

    def _plot(self, row: int, col: int, title: str, left: str, bottom: str, log_y: bool = False) -> pg.PlotItem:
        plot = self.layout_widget.addPlot(row=row, col=col, title=title)
        plot.showGrid(x=True, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(maxTickLevel=0)
        plot.setLabel("left", left)
        plot.setLabel("bottom", bottom)
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)  # "(x0.001)" beside ticks already in powers of ten
        plot.setLogMode(y=log_y)
        legend_under(plot)  # under the axes: it hides no line
        return plot

    def placeholder(self, text: str) -> None:
        """A word where the plots will be (computing, or nothing computed yet), instead of an empty frame."""
        self.layout_widget.clear()
        self._rows = []
        self.layout_widget.addLabel(text, row=0, col=0, color=GUIDE, size="11pt")

    def _panels(self, title: str, left: str, bottom: str, log_y: bool = False) -> tuple[pg.PlotItem, pg.PlotItem]:
        self.layout_widget.clear()
        plain = self._plot(0, 0, f"Plain networks: {title}", left, bottom, log_y)
        residual = self._plot(0, 1, f"ResNets: {title}", left, bottom, log_y)
        return plain, residual


def share_range(plots, xs, ys, headroom: float = 1.05) -> None:
    """One x and one y range for side-by-side panels, from 0 (or the smallest x) to the largest value any of them
    shows. A y link would not do: linked views auto-range each on its own items and the last one wins, which
    cut the ResNets' responses at the plain nets' top."""
    xs = [float(x) for x in xs if math.isfinite(x)]
    ys = [float(y) for y in ys if math.isfinite(y)]
    if not xs or not ys:
        return
    top = max(ys) * headroom or 1.0
    for plot in plots:
        plot.setRange(xRange=(min(xs), max(xs)), yRange=(min(0.0, min(ys)), top), padding=0.02)


def integer_ticks(plot: pg.PlotItem, last: int) -> None:
    """Ticks at whole numbers only on the x axis (block indices, counts of blocks): no "1.5 blocks"."""
    step = max(1, math.ceil(last / 12))
    plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(0, last + 1, step)]])


SMALLER = 0.8  # ResNets' responses this much smaller than the plain nets' count as showing Figure 7's effect


class ResponsesView(_View):
    caption = ("Standard deviation of each 3×3 layer's output after BN, before the ReLU (for ResNets: the residual "
               "branch before the addition), over test images - the paper's Figure 7. Smaller in ResNets: each "
               "block only nudges its input.")
    header = ("network", "seed", "layer_index", "layer", "std")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sorted = QCheckBox("Sorted by magnitude (the figure's lower half)")
        self.sorted.toggled.connect(self._redraw)
        self.controls.addWidget(self.sorted)
        self.controls.addStretch(1)
        self._data: dict = {}
        self._models: dict = {}
        self._iteration = None

    def show(self, data: dict, models: dict, iteration=None) -> None:  # noqa: A003 (a view's "show these numbers")
        self._data, self._models, self._iteration = data, models, iteration
        self._redraw()

    def _redraw(self) -> None:
        if not self._data:
            self.placeholder("No layer responses at this checkpoint yet: press Layer responses above")
            self.note.setText(self.caption)
            return
        self.note.setText(self.caption + self._not_yet())
        order = "sorted by magnitude" if self.sorted.isChecked() else "in layer order"
        plain, residual = self._panels(f"layer responses, {order}", "std", "layer index")
        self._rows = []
        values, last = [], 1
        for key, result in self._data.items():
            model, seed = self._models[key]
            std = np.asarray(result["std"])
            shown = np.sort(std)[::-1] if self.sorted.isChecked() else std
            (plain if model.plain else residual).plot(np.arange(1, len(shown) + 1), shown, pen=_pen(model),
                                                      name=_label(model, seed))
            values += list(std)
            last = max(last, len(std))
            self._rows += [(model.name, seed, i + 1, name, s) for i, (name, s) in enumerate(zip(result["layers"], std))]
        share_range((plain, residual), (1, last), values)

    def _not_yet(self) -> str:
        """When this run does not (yet) show the figure's effect, say so and why, rather than promise it."""
        means = {plain: [float(np.mean(r["std"])) for k, r in self._data.items() if self._models[k][0].plain == plain]
                 for plain in (True, False)}
        if not means[True] or not means[False]:
            return ""
        plain, residual = float(np.mean(means[True])), float(np.mean(means[False]))
        if residual < SMALLER * plain:
            return ""
        at = f" at iteration {self._iteration:,}" if self._iteration is not None else ""
        return (f"\nHere the ResNets' responses are not (yet) smaller: mean std {residual:.2f} against the plain "
                f"nets' {plain:.2f}{at}. The networks are still near where they started; the paper's Figure 7 is "
                "of networks trained for 64,000 iterations (the Paper recipe), and a short run shows it only once "
                "the plain nets' responses have grown.")


class LesionView(_View):
    caption = ("Test error with residual blocks removed at test time (Veit et al. 2016; a removed block passes "
               "its input through its shortcut). ResNets degrade gently, as ensembles of shorter paths; a plain "
               "net falls to chance (grey dots) when any block is removed. Each network's own error intact, no block "
               "removed, is its dotted line on the left: what a removal is measured against.")
    header = ("network", "seed", "removed", "block", "error_percent")

    def show(self, data: dict, models: dict, iteration=None) -> None:  # noqa: A003
        if not data:
            self.placeholder("No lesions at this checkpoint yet: press Lesions above")
            return
        self.layout_widget.clear()
        single = self._plot(0, 0, "One block removed", "test error (%)", "block removed (index)")
        count = self._plot(0, 1, "Several blocks removed (mean of random draws)", "test error (%)",
                           "blocks removed")
        self._rows = []
        chance = None
        values, blocks, removed = [], 1, 1
        for key, result in data.items():
            model, seed = models[key]
            errors = 100 * np.asarray(result["single_errors"])
            style = Qt.PenStyle.DashLine if model.plain else Qt.PenStyle.SolidLine
            single.plot(np.arange(1, len(errors) + 1), errors, pen=_pen(model, style=style), symbol="o",
                        symbolSize=4, symbolBrush=network_colour(model), name=_label(model, seed))
            intact = pg.InfiniteLine(pos=100 * result["baseline_error"], angle=0,
                                     pen=_pen(model, width=1.2, style=Qt.PenStyle.DotLine))
            single.addItem(intact)
            single.legend.addItem(pg.PlotDataItem(pen=intact.pen), f"{_label(model, seed)}: intact")
            ks = [0] + [c["removed"] for c in result["by_count"]]
            means = [100 * result["baseline_error"]] + [100 * c["mean"] for c in result["by_count"]]
            count.plot(ks, means, pen=_pen(model, style=style), name=_label(model, seed))
            chance = 100 * result["chance"]
            values += [*errors, *means, chance]
            blocks, removed = max(blocks, len(errors)), max(removed, *ks)
            self._rows.append((model.name, seed, 0, "", 100 * result["baseline_error"]))
            self._rows += [(model.name, seed, 1, block, e) for block, e in zip(result["blocks"], errors)]
            self._rows += [(model.name, seed, c["removed"], "random", 100 * c["mean"]) for c in result["by_count"]]
        if chance is not None:
            for plot in (single, count):
                plot.addItem(pg.InfiniteLine(pos=chance, angle=0, pen=pg.mkPen(GUIDE, style=Qt.PenStyle.DotLine)))
        # The intact network (0 removed, a few per cent) and chance both in view, on both panels alike.
        share_range((single,), (1, blocks), values)
        share_range((count,), (0, removed), values)
        integer_ticks(single, blocks)
        integer_ticks(count, removed)


class LandscapeView(_View):
    caption = ("Training loss around the checkpoint along filter-normalised random directions (Li et al. 2018; "
               "BN parameters and biases held, BN in eval mode). Plain nets: sharp and chaotic; ResNets: smooth "
               "and wide.")
    header = ("network", "seed", "alpha", "beta", "loss", "error_percent")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.network = self._network_choice("Contours of:")
        self._data: dict = {}
        self._plane: dict = {}
        self._models: dict = {}

    def show(self, data: dict, models: dict, plane: dict | None = None) -> None:  # noqa: A003
        """``data``: the 1D results by network; ``plane``: the 2D ones (either may be empty). The contours are
        drawn a depth (and seed) at a time, plain and ResNet side by side on one colour scale."""
        self._data, self._plane, self._models = data, plane or {}, models
        current = self.network.currentData()
        pairs = sorted({self._pair(k) for k in self._plane})
        self.network.blockSignals(True)
        self.network.clear()
        for depth, seed in pairs:
            self.network.addItem(f"depth {depth}" + (f", seed {seed}" if seed >= 0 else ""), (depth, seed))
        if current is not None and self.network.findData(current) >= 0:
            self.network.setCurrentIndex(self.network.findData(current))
        self.network.blockSignals(False)
        self.network.setVisible(len(pairs) > 1)
        self.choice_label.setVisible(len(pairs) > 1)
        self._redraw()

    def _pair(self, key: str) -> tuple[int, int]:
        """(depth, seed) of a network, seed -1 in a run of one seed: what one pair of contours shows."""
        model, seed = self._models[key]
        return model.depth, -1 if seed is None else seed

    def _redraw(self) -> None:
        self.layout_widget.clear()
        self._rows = []
        if not self._data and not self._plane:
            self.placeholder("No loss landscape at this checkpoint yet: press Landscape, 1D or 2D above")
            return
        if self._data:
            panels = self._panels("loss along one direction", "training loss", "step along the direction",
                                  log_y=True)
            losses = [loss for r in self._data.values() for loss in r["losses"] if loss > 0]
            for key, result in self._data.items():
                model, seed = self._models[key]
                panels[0 if model.plain else 1].plot(result["alphas"], result["losses"], pen=_pen(model),
                                                     name=_label(model, seed))
                self._rows += [(model.name, seed, a, "", loss, 100 * e)
                               for a, loss, e in zip(result["alphas"], result["losses"], result["errors"])]
            if losses:
                low, high = np.log10(min(losses)), np.log10(max(losses))
                for panel in panels:
                    panel.setYRange(low, high, padding=0.05)
        if self._plane:
            self._contours(row=1 if self._data else 0)

    def _contours(self, row: int) -> None:
        depth, seed = self.network.currentData() or (None, None)
        chosen = [k for k in self._plane if self._pair(k) == (depth, seed)]
        chosen = sorted(chosen or list(self._plane)[:2], key=lambda k: not self._models[k][0].plain)
        grids = {k: np.log10(np.clip(np.asarray(self._plane[k]["losses"], dtype=float), 1e-6, None)) for k in chosen}
        low, high = min(g.min() for g in grids.values()), max(g.max() for g in grids.values())
        levels = np.linspace(low, high, 12)[1:-1]
        images = []
        for col, key in enumerate(chosen):
            result, (model, seed) = self._plane[key], self._models[key]
            plot = self.layout_widget.addPlot(row=row, col=col,
                                              title=f"{_label(model, seed)}: log10 training loss on a plane")
            plot.setLabel("left", "second direction")
            plot.setLabel("bottom", "first direction")
            alphas = np.asarray(result["alphas"])
            image = pg.ImageItem(grids[key], levels=(low, high))
            image.setColorMap(pg.colormap.get("viridis"))
            image.setRect(alphas[0], alphas[0], alphas[-1] - alphas[0], alphas[-1] - alphas[0])
            plot.addItem(image)
            plot.setRange(xRange=(alphas[0], alphas[-1]), yRange=(alphas[0], alphas[-1]), padding=0)
            for level in levels:  # the same levels in both: equal spacing means equal sharpness
                pg.IsocurveItem(data=grids[key], level=level, pen=pg.mkPen("w", width=1)).setParentItem(image)
            images.append((plot, image))
            for i, a in enumerate(result["alphas"]):
                for j, b in enumerate(result["alphas"]):
                    self._rows.append((model.name, seed, a, b, result["losses"][i][j], 100 * result["errors"][i][j]))
        plot, image = images[-1]
        bar = pg.ColorBarItem(values=(float(low), float(high)), colorMap=pg.colormap.get("viridis"),
                              label="log10 loss", interactive=False)
        bar.setImageItem([i for _, i in images], insert_in=plot)


class GradientView(_View):
    caption = ("Mean gradient norm of each weighted layer over each logging interval, from the training events. "
               "He et al. argue that with batch normalisation the plain nets' gradients do not vanish. What this run "
               "shows beyond that is this app's observation, not the paper's: in a deep plain net the first "
               "layer's share lurches (far more gradient than the last layer's at the start, far less soon after), "
               "while a ResNet's identity paths keep it steadier.")
    header = ("network", "seed", "iteration", "layer_index", "layer", "gradient_norm")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.network = self._network_choice("Heat map of:")
        self._flows: dict = {}
        self._models: dict = {}

    def show(self, flows: dict, models: dict) -> None:  # noqa: A003
        self._flows, self._models = flows, models
        current = self.network.currentData()
        self.network.blockSignals(True)
        self.network.clear()
        for key in flows:
            self.network.addItem(_label(*models[key]), key)
        self.network.setCurrentIndex(max(0, self.network.findData(current)))
        self.network.blockSignals(False)
        self._redraw()

    def _redraw(self) -> None:
        self.layout_widget.clear()
        self._rows = []
        if not self._flows:
            self.placeholder("No gradient norms yet: the trainer logs them at each logging interval")
            return
        self.note.setText(self.caption)
        key = self.network.currentData() or next(iter(self._flows))
        flow = self._flows[key]
        model, seed = self._models[key]
        heat = self._plot(0, 0, f"{_label(model, seed)}: log10 gradient norm", "layer (input → output)",
                          "iteration")
        grid = np.log10(np.clip(np.asarray([[n if n else 1e-12 for n in row] for row in flow.norms]), 1e-12, None))
        image = pg.ImageItem(grid)
        image.setColorMap(pg.colormap.get("viridis"))
        # In iterations, as the plot beside it: each interval's column spans the iterations it averages.
        its = [float(i) for i in flow.iterations]
        step = its[1] - its[0] if len(its) > 1 else max(1.0, its[0])
        image.setRect(QRectF(its[0] - step, 0, its[-1] - its[0] + step, grid.shape[1]))
        heat.addItem(image)
        heat.addColorBar(image, colorMap=pg.colormap.get("viridis"), values=(float(grid.min()), float(grid.max())))
        first = self._plot(0, 1, "First layer's gradient norm", "gradient norm", "iteration", log_y=True)
        for other, f in self._flows.items():
            m, s = self._models[other]
            values = [row[0] if row[0] else math.nan for row in f.norms]
            first.plot(f.iterations, values, pen=_pen(m, style=Qt.PenStyle.DashLine if m.plain else
                                                      Qt.PenStyle.SolidLine), name=_label(m, s))
            self._rows += [(m.name, s, it, i + 1, layer, n) for it, row in zip(f.iterations, f.norms)
                           for i, (layer, n) in enumerate(zip(f.layers, row))]


def _label(model: ModelConfig, seed) -> str:
    return model.label if seed is None else f"{model.label} (seed {seed})"
