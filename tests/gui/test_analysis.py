"""The Analysis tab, driven through the main window as a person does, on the session's one trained run (a tiny
plain/residual pair): press each analysis's button, watch its progress from any tab, see its numbers drawn,
export them; open another run while one computes (issue 18, item 2); cancel one and keep what it finished; find
the results again in a reopened app."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QPushButton, QToolButton

from explorer.gui.main_window import MainWindow
from flows import CHILD_MS, open_in_runs_tab
from run_writer import write_run
from seen import export, shown_text

pytestmark = pytest.mark.slow  # trains and analyses runs: the longest of the GUI tests


def _analysis_tab(qtbot, window, run):
    open_in_runs_tab(qtbot, window, run)
    window.tabs.setCurrentWidget(window.analysis)
    return window.analysis


def _strip(window):
    return window.findChild(QLabel, "analysisEta").parentWidget()


def _press(qtbot, window, name: str) -> None:
    """Press an analysis's button and wait for its end; the window's status bar says how it went."""
    page = window.analysis
    button = page.findChild(QPushButton, name)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not button.isEnabled()  # one analysis at a time
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=CHILD_MS)
    assert " done in " in window.statusBar().currentMessage(), window.statusBar().currentMessage()


def test_each_analysis_runs_from_its_button_and_is_drawn_and_exported(qtbot, window, trained_run, tmp_path,
                                                                      monkeypatch):
    page = _analysis_tab(qtbot, window, trained_run)
    assert page.checkpoint.count() >= 2  # the start and the end are kept
    assert page.checkpoint.currentData() == 30  # the latest first
    qtbot.waitUntil(lambda: page.gradients.network.count() == 2, timeout=10_000)  # from the training events
    header, rows = page.gradients.rows()
    assert {r[0] for r in rows} == {"plain-8", "resnet-8"} and all(r[-1] > 0 for r in rows)

    _press(qtbot, window, "analyse-responses")
    assert page.views.currentWidget() is page.responses  # what was pressed is what is shown
    header, rows = page.responses.rows()
    layers = {name: [r for r in rows if r[0] == name] for name in ("plain-8", "resnet-8")}
    assert all(len(v) == 7 for v in layers.values())  # the seven 3×3 layers of an 8-layer net
    assert all(r[-1] > 0 for r in rows)

    _press(qtbot, window, "analyse-lesion")
    assert page.views.currentWidget() is page.lesions
    header, rows = page.lesions.rows()
    singles = [r for r in rows if r[0] == "resnet-8" and r[2] == 1 and r[3] != "random"]
    assert [r[3] for r in singles] == ["layer1.0", "layer2.0", "layer3.0"]

    _press(qtbot, window, "analyse-landscape")
    header, rows = page.landscape.rows()
    alphas = sorted({r[2] for r in rows})
    assert len(alphas) == 21 and alphas[0] == -1 and alphas[-1] == 1

    page.views.setCurrentWidget(page.responses)
    path = tmp_path / "responses.csv"
    export(window.action("exportAnalysis"), path, monkeypatch)
    with open(path, newline="") as f:
        read = list(csv.reader(f))
    assert tuple(read[0]) == page.responses.header and len(read) == 1 + 14
    assert window.statusBar().currentMessage() == f"Saved {path}"
    for suffix in ("png", "svg"):
        export(window.action("exportAnalysis"), tmp_path / f"responses.{suffix}", monkeypatch)
        assert (tmp_path / f"responses.{suffix}").stat().st_size > 1000
    assert "Layer responses — tiny at iteration 30" in (tmp_path / "responses.svg").read_text()  # titled

    # the trained network at the checkpoint chosen, as ONNX: which one is asked, the run has two
    page.checkpoint.setCurrentIndex(page.checkpoint.findData(30))
    onnx_path = tmp_path / "trained.onnx"
    offered = []
    monkeypatch.setattr(QInputDialog, "getItem", lambda _p, _t, _l, items, *a: offered.append(items) or
                        ("resnet-8", True))
    export(window.action("exportTrainedOnnx"), onnx_path, monkeypatch)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Wrote"), timeout=CHILD_MS)
    assert offered == [["plain-8", "resnet-8"]] and onnx_path.stat().st_size > 10_000
    assert "resnet-8 at iteration 30" in window.statusBar().currentMessage()
    import onnx  # the app's ONNX export needs it (installed with the onnx extra)

    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(meta["class_names"])[:2] == ["disc", "ring"] and "input_std" in meta  # for whoever runs it


def test_2_an_analysis_belongs_to_its_run_survives_ctrl_o_and_cancel_keeps_what_it_finished(
        qtbot, window, trained_run, runs_dir):
    other = write_run(runs_dir, depths=(20,), name="another")
    page = _analysis_tab(qtbot, window, trained_run)
    qtbot.mouseClick(page.findChild(QPushButton, "analyse-responses"), Qt.MouseButton.LeftButton)
    open_in_runs_tab(qtbot, window, other.path)  # Ctrl+O on another run while it computes
    strip = _strip(window)
    assert window.tabs.currentWidget() is window.training and strip.isVisible()  # seen from the Training tab
    assert "Layer responses of tiny" in shown_text(strip, "analysisEta")
    qtbot.waitUntil(lambda: not strip.isVisible(), timeout=CHILD_MS)
    assert window.statusBar().currentMessage().startswith("Layer responses of tiny: done in")
    assert (trained_run / "analysis" / "responses-iter-00000030.json").is_file()  # it was not thrown away

    page = _analysis_tab(qtbot, window, trained_run)
    assert len(page.responses.rows()[1]) == 14  # and it is there when the run is shown again

    button = page.findChild(QPushButton, "analyse-landscape-2d")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    bar = strip.findChild(type(strip.bar), "analysisProgress")
    # past the first of the two networks (progress counts both: the second half is the second network)
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() > bar.maximum() // 2, timeout=CHILD_MS)
    qtbot.mouseClick(strip.findChild(QToolButton, "cancelAnalysis"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=30_000)
    assert window.statusBar().currentMessage() == ("Landscape, 2D of tiny was cancelled; kept plain-8 (1 of 2 "
                                                   "networks)")
    kept = json.loads((trained_run / "analysis" / "landscape-2d-iter-00000030.json").read_text())
    assert list(kept["networks"]) == ["plain-8"] and kept["complete"] is False


def test_a_reopened_app_shows_what_was_kept_and_the_latest_checkpoint_stays_chosen(qtbot, window, settings,
                                                                                  runs_dir, trained_run):
    page = _analysis_tab(qtbot, window, trained_run)
    _press(qtbot, window, "analyse-responses")
    run = trained_run
    # The latest checkpoint stays chosen as newer ones are kept; one the person picked stays picked.
    assert page.checkpoint.currentData() == 30
    shutil.copytree(run / "checkpoints" / "iter-00000030", run / "checkpoints" / "iter-00000045")
    window.tabs.setCurrentWidget(window.training)
    window.tabs.setCurrentWidget(window.analysis)
    assert page.checkpoint.currentData() == 45
    page.checkpoint.setCurrentIndex(page.checkpoint.findData(0))
    shutil.copytree(run / "checkpoints" / "iter-00000030", run / "checkpoints" / "iter-00000060")
    window.tabs.setCurrentWidget(window.training)
    window.tabs.setCurrentWidget(window.analysis)
    assert page.checkpoint.currentData() == 0 and page.checkpoint.itemData(0) == 60
    shutil.rmtree(run / "checkpoints" / "iter-00000045")
    shutil.rmtree(run / "checkpoints" / "iter-00000060")
    window.close()

    again = MainWindow(settings, runs_dir)
    qtbot.addWidget(again)
    again.show()
    open_in_runs_tab(qtbot, again, run)
    again.tabs.setCurrentWidget(again.analysis)
    assert len(again.analysis.responses.rows()[1]) == 14  # computed before, shown at once
    assert again.analysis.lesions.rows()[1] == []
    again.close()
