"""Figure 6 curves: events to the right panel, percent, NaN-safe, divergence labelled, resume, smoothing, hover,
paper lines, exports."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from explorer.gui.curves import CurvesView, depth_colour, parse_model


@pytest.fixture
def curves(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def train(model, it, error, epoch=None):
    return {"type": "train", "model": model, "iteration": it, "epoch": it / 100 if epoch is None else epoch,
            "loss": 1.0, "error": error, "lr": 0.1, "images_per_sec": 100.0}


def evaluation(model, it, error):
    return {"type": "eval", "model": model, "iteration": it, "test_loss": 1.0, "test_error": error}


def data(curves, name, kind):
    item = curves.curve_item(name, kind)
    x, y = item.xData, item.yData  # all the data (getData() is clipped to the view)
    return (np.asarray([]), np.asarray([])) if x is None else (np.asarray(x), np.asarray(y))


def test_names_and_colours_match_the_paper_legend():
    assert parse_model("plain-20") == (True, 20, "plain-20")
    assert parse_model("resnet-56") == (False, 56, "ResNet-56")
    assert parse_model("preresnet-164")[2] == "Pre-ResNet-164"
    assert depth_colour(20) != depth_colour(56)


def test_plain_left_residual_right_in_percent_same_colour_per_depth(curves, qtbot):
    curves.add_events([{"type": "start", "milestones": [200, 300]}]
                      + [train(m, it, 0.5) for it in (10, 20, 30) for m in ("plain-20", "resnet-20")]
                      + [evaluation("resnet-20", 30, 0.25)])
    qtbot.waitUntil(lambda: len(data(curves, "resnet-20", "test")[0]) == 1, timeout=2000)
    assert curves.curve_item("plain-20", "test") in curves.plain_plot.listDataItems()
    assert curves.curve_item("resnet-20", "test") in curves.residual_plot.listDataItems()
    assert list(data(curves, "resnet-20", "test")[1]) == [25.0]
    assert curves.curve_item("plain-20", "test").opts["pen"].color() == \
        curves.curve_item("resnet-20", "test").opts["pen"].color()
    legend = [label.text for _, label in curves.residual_plot.legend.items]
    assert legend == ["ResNet-20"]
    assert curves.plain_plot.getViewBox().linkedView(1) is None  # the plain panel is the master
    assert curves.residual_plot.getViewBox().linkedView(1) is curves.plain_plot.getViewBox()


def test_nan_none_and_infinite_errors_are_skipped_and_divergence_is_labelled(curves):
    events = [train("plain-56", 10, 0.8), train("plain-56", 20, float("nan")), train("plain-56", 30, None),
              train("plain-56", 40, math.inf), evaluation("plain-56", 40, float("nan")),
              {"type": "diverged", "model": "plain-56", "iteration": 1234, "message": "loss is NaN"}]
    curves.add_events(events)
    curves.flush()
    x, y = data(curves, "plain-56", "raw")
    assert list(x) == [10.0] and list(y) == [80.0]
    assert curves.divergence_label("plain-56") == "plain-56 diverged at 1,234"
    assert curves.point_count("plain-56", "test") == 0


def test_resume_drops_points_logged_after_the_checkpoint(curves, tmp_path):
    curves.add_events([train("resnet-20", it, 0.5) for it in (10, 20, 30, 40)])
    curves.add_events([{"type": "resume", "iteration": 20}, train("resnet-20", 30, 0.4)])
    curves.flush()
    assert list(data(curves, "resnet-20", "raw")[0]) == [10.0, 20.0, 30.0]
    curves.export_csv(tmp_path / "m.csv")
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert [(r["iteration"], r["error_percent"]) for r in rows][-2:] == [("20", "50.0"), ("30", "40.0")]


def test_smoothing_keeps_the_raw_curve_faint(curves):
    curves.add_events([train("resnet-20", it, 0.2 if it % 20 else 0.8) for it in range(10, 410, 10)])
    curves.smoothing.setValue(90)
    curves.flush()
    raw_y = data(curves, "resnet-20", "raw")[1]
    smooth_y = data(curves, "resnet-20", "train")[1]
    assert len(raw_y) == len(smooth_y) == 40
    assert np.ptp(smooth_y[10:]) < np.ptp(raw_y[10:]) / 2
    assert curves.curve_item("resnet-20", "raw").opts["pen"].color().alpha() < 100
    curves.smoothing.setValue(0)
    assert len(data(curves, "resnet-20", "raw")[0]) == 0
    assert list(data(curves, "resnet-20", "train")[1]) == list(raw_y)


def test_epoch_axis_rescales_every_curve(curves):
    curves.add_events([train("resnet-20", 100, 0.5, epoch=0.25), evaluation("resnet-20", 200, 0.4)])
    curves.x_axis.setCurrentIndex(1)
    curves.flush()
    assert list(data(curves, "resnet-20", "train")[0]) == [0.25]
    assert list(data(curves, "resnet-20", "test")[0]) == [0.5]
    assert curves.plain_plot.getAxis("bottom").labelText == "epochs"


def test_hover_shows_the_values_nearest_the_cursor(curves, qtbot):
    curves.add_events([train("resnet-56", it, 0.3) for it in (100, 200, 300)] + [evaluation("resnet-56", 200, 0.1)])
    curves.flush()
    curves.residual_plot.vb.autoRange()
    shown = []
    curves.hovered.connect(shown.append)
    scene_pos = curves.residual_plot.vb.mapViewToScene(curves.residual_plot.vb.viewRect().center())
    curves._on_mouse_moved(scene_pos)
    assert shown and "ResNet-56" in shown[-1] and "test 10.00%" in shown[-1]
    assert curves.residual_plot.hover_text.isVisible()


def test_paper_reference_lines_for_the_resnets_shown(curves):
    curves.add_events([train("resnet-20", 10, 0.5), train("resnet-56", 10, 0.5), train("plain-20", 10, 0.5)])
    curves.reference.setChecked(True)
    labels = [line.label.toPlainText() for line in curves._reference_items]
    assert len(labels) == 2 and labels[0].startswith("paper ResNet-20: 8.75")
    curves.reference.setChecked(False)
    assert curves._reference_items == []


def test_exports_write_real_files(curves, tmp_path):
    curves.add_events([{"type": "start", "milestones": [100, 150]}]
                      + [train(m, it, 0.5) for it in range(10, 200, 10) for m in ("plain-20", "resnet-20")])
    curves.export_image(tmp_path / "f.png")
    curves.export_image(tmp_path / "f.svg")
    rows = curves.export_csv(tmp_path / "f.csv")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "f.png").stat().st_size > 5000
    svg = (tmp_path / "f.svg").read_text()
    assert "<svg" in svg and ("polyline" in svg or "path" in svg) and "plain-20" in svg
    assert rows == 38 and len((tmp_path / "f.csv").read_text().splitlines()) == 39


def test_shared_y_range_shows_every_curve_of_both_panels(curves, qtbot):
    """Linked views must not cut one panel's curves off at the other's extent (the residual nets go lower)."""
    events = [train("plain-20", it, 0.9 - it / 2000) for it in range(10, 400, 10)]
    events += [train("resnet-20", it, 0.9 - it / 450) for it in range(10, 400, 10)]
    curves.add_events(events)
    qtbot.waitUntil(lambda: len(data(curves, "resnet-20", "train")[0]) == 39, timeout=2000)

    def covers():
        lows, highs = [], []
        for plot in (curves.plain_plot, curves.residual_plot):
            (_, _), (y0, y1) = plot.getViewBox().viewRange()
            lows.append(y0)
            highs.append(y1)
        return max(lows) <= 3.0 and min(highs) >= 89.0

    qtbot.waitUntil(covers, timeout=3000)
