"""Issue 18, items 7 and 12: the Analysis tab shows only the run shown, what was pressed, where it is computing,
ETAs from the work's own rate; its views say what they show and when an effect needs more training. Hand-written
run folders and analysis results (the exact files the trainer and ``resnet-explorer analyze`` write): no training."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from explorer.gui.widgets.eta import Eta
from flows import CHILD_MS, open_in_runs_tab
from run_writer import fake_checkpoints, write_analysis, write_gradients, write_run
from seen import legend, shown_text

LAYERS = [f"l{i}" for i in range(7)]


def _shown(qtbot, window, run):
    open_in_runs_tab(qtbot, window, run.path)
    window.tabs.setCurrentWidget(window.analysis)
    return window.analysis


# 7 -------------------------------------------------------------------------------------------------------------
def test_7_no_view_outlives_its_run_and_a_pressed_analysis_is_shown_computing(qtbot, window, runs_dir):
    run = write_run(runs_dir, depths=(8,), iterations=400)
    write_gradients(run)
    fake_checkpoints(run, (0, 200, 400))
    page = _shown(qtbot, window, run)
    qtbot.waitUntil(lambda: len(page.gradients.rows()[1]) > 0, timeout=10_000)
    assert window.action("exportAnalysis").isEnabled()

    window.action("newRun").trigger()  # back to a draft: nothing of that run is left to see or to export
    assert shown_text(page, "analysisTitle").startswith("<b>No run to analyse</b>")
    assert page.gradients.rows()[1] == [] and not window.action("exportAnalysis").isEnabled()
    assert not [i for i in page.gradients.layout_widget.scene().items() if isinstance(i, pg.ImageItem)]

    page = _shown(qtbot, window, run)
    page.views.setCurrentWidget(page.gradients)
    qtbot.mouseClick(page.findChild(QPushButton, "analyse-lesion"), Qt.MouseButton.LeftButton)
    assert page.views.currentWidget() is page.lesions  # the view asked for, at once
    texts = [i.text for i in page.lesions.layout_widget.ci.items if isinstance(i, pg.LabelItem)]
    assert texts == ["Computing lesions at iteration 400… (the progress is at the top right)"]
    # these checkpoints are empty files: the child says so in one sentence, and the view says there is nothing
    qtbot.waitUntil(lambda: page.findChild(QPushButton, "analyse-lesion").isEnabled(), timeout=CHILD_MS)
    assert window.statusBar().currentMessage().startswith("Lesions of hand: "), window.statusBar().currentMessage()


def test_7_the_eta_comes_from_the_rate_since_the_first_report_not_from_the_start():
    eta = Eta()
    assert eta.seconds_left(1, 10, now=30.0) is None  # 30 s of loading before the first report: no rate yet
    assert eta.seconds_left(3, 10, now=34.0) == 14.0  # 2 s a step since then: 7 steps left
    assert eta.seconds_left(1, 10, now=50.0) is None  # started again: the clock too


# 12 ------------------------------------------------------------------------------------------------------------
def test_12_the_analysis_views_say_what_they_show_and_when_an_effect_needs_more_training(qtbot, window, runs_dir):
    run = write_run(runs_dir, depths=(8,), iterations=400)
    write_gradients(run, every=50)
    fake_checkpoints(run, (0, 200, 400))
    near_one = {"std": [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.03], "layers": LAYERS}
    write_analysis(run, "responses", 400, {"plain-8": near_one, "resnet-8": {**near_one, "std": [1.0] * 7}})
    lesion = {"single_errors": [0.7, 0.8, 0.9], "blocks": ["layer1.0", "layer2.0", "layer3.0"], "chance": 0.9,
              "by_count": [{"removed": 1, "mean": 0.8}], "baseline_error": 0.12}
    write_analysis(run, "lesion", 400, {"plain-8": lesion, "resnet-8": {**lesion, "baseline_error": 0.05}})
    page = _shown(qtbot, window, run)
    qtbot.waitUntil(lambda: len(page.gradients.rows()[1]) > 0, timeout=10_000)

    heat, first = page.gradients.layout_widget.getItem(0, 0), page.gradients.layout_widget.getItem(0, 1)
    [image] = [i for i in heat.items if isinstance(i, pg.ImageItem)]
    span = image.mapRectToView(image.boundingRect())
    assert (span.left(), span.right()) == (0.0, 400.0)  # in iterations, as the plot beside it
    assert heat.getAxis("bottom").labelText == "iteration"
    caption = page.gradients.note.text()
    assert "this app's observation, not the paper's" in caption and "The paper: with BN" not in caption
    pens = {item.name(): item.opts["pen"].color().name() for item in first.listDataItems()}
    assert pens["plain-8"] != pens["ResNet-8"]  # one depth, two networks, two colours

    page.views.setCurrentWidget(page.lesions)
    single = page.lesions.layout_widget.getItem(0, 0)
    assert {"plain-8: intact", "ResNet-8: intact"} <= set(legend(single))
    intact = sorted(i.value() for i in single.items if isinstance(i, pg.InfiniteLine) and i.angle == 0)
    assert np.allclose(intact, [5.0, 12.0, 90.0])  # each network intact, and chance

    page.views.setCurrentWidget(page.responses)
    assert "Here the ResNets' responses are not (yet) smaller" in page.responses.note.text()
    assert "at iteration 400" in page.responses.note.text()
