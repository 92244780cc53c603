"""Figure 6 curves: events to the right panel, percent, NaN-safe, divergence labelled, resume, smoothing, the
shared extent, the epoch axis, paper lines, legend clicks, overlays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.gui.training.curves import CurvesView
from explorer.gui.widgets.network_curves import depth_colour
from seen import curve, paper_lines, points, readout, text_items


def bands(plot) -> list[pg.FillBetweenItem]:
    """The ± std bands of a panel: training, then test, of each network."""
    return [item for item in plot.items if isinstance(item, pg.FillBetweenItem)]


def seed_lines(curves) -> dict[str, pg.PlotDataItem]:
    return {item.objectName(): item for plot in curves.plots for item in plot.items
            if isinstance(item, pg.PlotDataItem) and ": seed " in item.objectName()}


@pytest.fixture
def curves(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def run_config(depths=(20,), compare="both", name="run", dataset="synthetic") -> RunConfig:
    return RunConfig(data=DataConfig(dataset=dataset), name=name,
                     train=TrainConfig(compare=compare, depths=depths, iterations=400, milestones=(200, 300)))


def show(curves, key="main", overlay=False, **config) -> None:
    curves.show_run(key, Path(f"/runs/{key}"), run_config(**config), overlay=overlay)


def train(model, it, error, epoch=None):
    return {"type": "train", "model": model, "iteration": it, "epoch": it / 100 if epoch is None else epoch,
            "loss": 1.0, "error": error, "lr": 0.1, "images_per_sec": 100.0}


def evaluation(model, it, error):
    return {"type": "eval", "model": model, "iteration": it, "test_loss": 1.0, "test_error": error}


def data(curves, label, kind):
    return points(curves, label, kind)  # all the data (getData() is clipped to the view)


def test_plain_left_residual_right_in_percent_same_colour_per_depth(curves, qtbot):
    show(curves)
    curves.add_events("main", [train(m, it, 0.5) for it in (10, 20, 30) for m in ("plain-20", "resnet-20")]
                      + [evaluation("resnet-20", 30, 0.25)])
    qtbot.waitUntil(lambda: len(data(curves, "ResNet-20", "test")[0]) == 1, timeout=2000)
    assert curve(curves, "plain-20", "test") in curves.plain_plot.listDataItems()
    assert curve(curves, "ResNet-20", "test") in curves.residual_plot.listDataItems()
    assert list(data(curves, "ResNet-20", "test")[1]) == [25.0]
    assert curve(curves, "plain-20", "test").opts["pen"].color() == \
        curve(curves, "ResNet-20", "test").opts["pen"].color()
    assert [label.text for _, label in curves.residual_plot.legend.items] == ["ResNet-20"]
    # The first evaluation is one point: drawn as a dot until a second one makes a line.
    assert curve(curves, "ResNet-20", "test").opts["symbol"] == "o"
    curves.add_events("main", [evaluation("resnet-20", 60, 0.2)])
    curves.flush()
    assert curve(curves, "ResNet-20", "test").opts["symbol"] is None


def test_nan_none_and_infinite_errors_are_skipped_and_divergence_is_labelled(curves):
    show(curves, depths=(56,), compare="plain")
    events = [train("plain-56", 10, 0.8), train("plain-56", 20, float("nan")), train("plain-56", 30, None),
              train("plain-56", 40, math.inf), evaluation("plain-56", 40, float("nan")),
              {"type": "diverged", "model": "plain-56", "iteration": 1234, "message": "loss is NaN"}]
    curves.add_events("main", events)
    curves.flush()
    x, y = data(curves, "plain-56", "raw")
    assert list(x) == [10.0] and list(y) == [80.0]
    assert text_items(curves.plain_plot) == ["plain-56 diverged at 1,234"]
    assert len(data(curves, "plain-56", "test")[0]) == 0


def test_resume_drops_points_logged_after_the_checkpoint(curves):
    show(curves, compare="residual")
    curves.add_events("main", [train("resnet-20", it, 0.5) for it in (10, 20, 30, 40)])
    curves.add_events("main", [{"type": "resume", "iteration": 20}, train("resnet-20", 30, 0.4)])
    curves.flush()
    assert list(data(curves, "ResNet-20", "raw")[0]) == [10.0, 20.0, 30.0]
    assert list(data(curves, "ResNet-20", "raw")[1]) == [50.0, 50.0, 40.0]


def test_smoothing_keeps_the_raw_curve_faint(curves):
    show(curves, compare="residual")
    curves.add_events("main", [train("resnet-20", it, 0.2 if it % 20 else 0.8) for it in range(10, 410, 10)])
    curves.smoothing.setValue(90)
    curves.flush()
    raw_y = data(curves, "ResNet-20", "raw")[1]
    smooth_y = data(curves, "ResNet-20", "train")[1]
    assert len(raw_y) == len(smooth_y) == 40
    assert np.ptp(smooth_y[10:]) < np.ptp(raw_y[10:]) / 2
    assert curve(curves, "ResNet-20", "raw").opts["pen"].color().alpha() < 100
    curves.smoothing.setValue(0)
    assert len(data(curves, "ResNet-20", "raw")[0]) == 0
    assert list(data(curves, "ResNet-20", "train")[1]) == list(raw_y)


def _x_range(plot):
    return plot.getViewBox().viewRange()[0]


def test_a_residual_only_run_gives_both_panels_its_extent(curves, qtbot):
    """The plain panel is empty and the residual panel's x axis is linked to it: without a shared extent the
    empty panel pinned both to 0..1."""
    show(curves, compare="residual", depths=(20, 56))
    curves.add_events("main", [train(m, it, 0.5) for it in range(10, 310, 10) for m in ("resnet-20", "resnet-56")])
    qtbot.waitUntil(lambda: _x_range(curves.residual_plot)[1] >= 300, timeout=3000)
    assert _x_range(curves.residual_plot)[1] < 330 and _x_range(curves.plain_plot) == _x_range(curves.residual_plot)
    assert "none in the runs shown" in curves.plain_plot.titleLabel.text
    curves.x_axis.setCurrentIndex(1)  # a short run on the epoch axis: 0 to 3 epochs, not 0..1
    qtbot.waitUntil(lambda: 2.9 <= _x_range(curves.residual_plot)[1] < 3.3, timeout=3000)
    assert curves.plain_plot.getAxis("bottom").labelText == "epochs"
    assert list(data(curves, "ResNet-20", "train")[0][:2]) == [0.1, 0.2]


def test_shared_y_range_shows_every_curve_of_both_panels(curves, qtbot):
    show(curves)
    events = [train("plain-20", it, 0.9 - it / 2000) for it in range(10, 400, 10)]
    events += [train("resnet-20", it, 0.9 - it / 450) for it in range(10, 400, 10)]
    curves.add_events("main", events)

    def covers():
        ranges = [plot.getViewBox().viewRange()[1] for plot in curves.plots]
        return all(y0 <= 3.0 and y1 >= 89.0 for y0, y1 in ranges)

    qtbot.waitUntil(covers, timeout=3000)


def test_paper_lines_only_for_the_resnets_of_cifar10_runs_with_their_values_in_the_legend(curves):
    show(curves, depths=(20, 56), dataset="cifar10")
    curves.reference.setChecked(True)
    assert paper_lines(curves) == ["paper ResNet-20 on CIFAR-10: 8.75 %", "paper ResNet-56 on CIFAR-10: 6.97 %"]
    show(curves, depths=(8,), dataset="cifar10")  # the paper has no ResNet-8: no line at all
    assert paper_lines(curves) == []
    show(curves, depths=(20, 56))  # synthetic: the paper's numbers are no target for it
    assert paper_lines(curves) == [] and not curves.reference.isEnabled()
    curves.reference.setChecked(False)
    show(curves, depths=(110,), dataset="cifar10")
    assert paper_lines(curves) == []


def test_a_legend_click_hides_every_line_of_that_network(curves, qtbot):
    show(curves, compare="residual", depths=(20, 56))
    curves.add_events("main", [train(m, it, 0.5) for it in (10, 20) for m in ("resnet-20", "resnet-56")])
    curves.flush()
    sample = next(s for s, label in curves.residual_plot.legend.items if label.text == "ResNet-56")
    view = curves.layout_widget
    at = view.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt_left(), pos=at)
    for kind in ("raw", "train", "test"):
        assert not curve(curves, "ResNet-56", kind).isVisible()
        assert curve(curves, "ResNet-20", kind).isVisible()
    qtbot.mouseClick(view.viewport(), Qt_left(), pos=at)
    assert all(curve(curves, "ResNet-56", kind).isVisible() for kind in ("raw", "train", "test"))


def Qt_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_an_overlay_has_its_own_style_and_legend_entries_and_goes_away(curves):
    show(curves, compare="residual", depths=(56,))
    show(curves, key="other", overlay=True, compare="residual", depths=(56,), name="other")
    curves.add_events("other", [train("resnet-56", 10, 0.5), evaluation("resnet-56", 10, 0.5)])
    curves.flush()
    main, overlay = curve(curves, "ResNet-56"), curve(curves, "ResNet-56 · other", "test")
    assert overlay.opts["pen"].style() != main.opts["pen"].style()
    assert overlay.opts["pen"].color().rgb() != main.opts["pen"].color().rgb()  # its own colour, not the depth's
    legend = [label.text for _, label in curves.residual_plot.legend.items]
    assert legend == ["ResNet-56", "ResNet-56 · other"]
    curves.remove_run("other")
    assert [label.text for _, label in curves.residual_plot.legend.items] == ["ResNet-56"]
    assert overlay not in curves.residual_plot.listDataItems()


def test_the_hover_readout_is_legible_inside_the_panel_and_leaves_with_the_pointer(curves, qtbot):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    show(curves, compare="residual", depths=(56,))
    curves.add_events("main", [train("resnet-56", it, 0.3) for it in (100, 200, 300)]
                      + [evaluation("resnet-56", 300, 0.1)])
    curves.flush()
    curves.residual_plot.vb.autoRange()
    view = curves.layout_widget
    right_edge = curves.residual_plot.vb.sceneBoundingRect()
    at = view.mapFromScene(right_edge.right() - 3, right_edge.center().y())
    qtbot.mouseMove(view.viewport(), at)
    qtbot.waitUntil(lambda: readout(curves) != "", timeout=2000)
    label = curves.readout.label
    assert "ResNet-56" in label.text() and "test 10.00%" in label.text()
    assert view.rect().contains(label.geometry())  # flipped to the pointer's left: never cut off
    assert label.palette().color(label.backgroundRole()) == QColor("#ffffff")
    QApplication.sendEvent(view.viewport(), QEvent(QEvent.Type.Leave))
    assert not label.isVisible()
    qtbot.wait(100)  # pyqtgraph's scene drops mouse moves that come faster than its rate limit
    qtbot.mouseMove(view.viewport(), QPoint(at.x() - 200, at.y()))
    assert label.isVisible()
    show(curves, compare="residual", depths=(20,))  # the next run starts without the last one's readout
    assert not label.isVisible()


def test_colours_follow_the_depth():
    assert depth_colour(20) != depth_colour(56)


def test_several_seeds_show_their_mean_with_a_std_band_and_each_seed_on_demand(curves, qtbot):
    config = RunConfig(data=DataConfig(dataset="synthetic"), name="seeds",
                       train=TrainConfig(compare="residual", depths=(56,), iterations=400, seeds=3))
    curves.show_run("main", Path("/runs/seeds"), config)
    assert curves.single_seeds.isVisible()
    errors = {0: [0.50, 0.40, 0.30], 1: [0.60, 0.42, 0.36], 2: [0.55, 0.47, 0.27]}
    events = []
    for i, it in enumerate((100, 200, 300)):
        for seed, values in errors.items():
            events += [{**train("resnet-56", it, values[i]), "seed": seed},
                       {**evaluation("resnet-56", it, values[i] + 0.1), "seed": seed}]
    curves.add_events("main", events)
    curves.smoothing.setValue(0)
    curves.flush()
    per_seed = 100 * np.asarray(list(errors.values())) + 10  # seeds × iterations, test error in percent
    x, mean = data(curves, "ResNet-56", "test")
    assert list(x) == [100, 200, 300] and np.allclose(mean, per_seed.mean(axis=0))
    test_band = bands(curves.residual_plot)[1]
    assert np.allclose(test_band.curves[0].yData, per_seed.mean(axis=0) + per_seed.std(axis=0, ddof=1))
    assert np.allclose(test_band.curves[1].yData, per_seed.mean(axis=0) - per_seed.std(axis=0, ddof=1))
    legend = [label.text for _, label in curves.residual_plot.legend.items]
    assert legend == ["ResNet-56 (mean ± std over 3 seeds)"]
    assert seed_lines(curves) == {}
    curves.single_seeds.setChecked(True)
    lines = seed_lines(curves)
    assert sorted(lines) == [f"ResNet-56: seed {s} {kind}" for s in (0, 1, 2) for kind in ("test", "train")]
    assert np.allclose(lines["ResNet-56: seed 1 test"].yData, per_seed[1])
    curves.single_seeds.setChecked(False)
    assert all(line.xData is None or len(line.xData) == 0 for line in lines.values())
    assert "(3 seeds)" in " ".join(curves.values_at(curves.residual_plot, 200))


def test_the_extent_grows_in_steps_so_the_axes_are_not_laid_out_at_every_point(curves, qtbot):
    from explorer.gui.training.curves import step_up

    assert [step_up(v) for v in (300, 301, 0.013, 1, 9.5, 64000)] == [300, 400, 0.015, 1, 10, 80000]
    show(curves, depths=(20,))
    ranges = set()
    for it in range(10, 1010, 10):
        curves.add_events("main", [train("resnet-20", it, 0.5), train("plain-20", it, 0.6)])
        curves.flush()
        ranges.add(tuple(curves.residual_plot.getViewBox().childrenBounds()[0]))
    assert len(ranges) <= 20 and max(r[1] for r in ranges) >= 1000  # 100 points over two decades: 18 ranges


def test_the_bands_of_both_panels_cover_the_whole_run_once_its_range_settles(curves, qtbot):
    """A reopened run of several seeds is drawn at once, before the linked panels have their range; the
    ResNets' band was cut to the range the panel had then (its edges clipped to the view) and stayed cut."""
    curves.show_run("main", Path("/runs/seeds"), RunConfig(
        data=DataConfig(dataset="synthetic"), name="seeds",
        train=TrainConfig(compare="both", depths=(20,), iterations=400, seeds=2)))
    events = []
    for seed in (0, 1):
        for it in range(10, 410, 10):
            for model in ("plain-20", "resnet-20"):
                events.append({**train(model, it, 0.5 + 0.1 * seed), "seed": seed})
                if it % 50 == 0:
                    events.append({**evaluation(model, it, 0.4 + 0.1 * seed), "seed": seed})
    curves.add_events("main", events)
    curves.flush()
    qtbot.wait(200)  # the views take their range from the extent
    for plot in curves.plots:
        for part in bands(plot):
            covered = part.path().boundingRect()
            assert covered.left() <= 50 and covered.right() >= 400, (plot.titleLabel.text, covered)
