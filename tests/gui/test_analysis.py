"""The Analysis tab, driven through the main window as a person does: train a tiny plain/residual pair, open the
tab, press each analysis's button, watch its progress, see its numbers drawn, export them; cancel a long one;
and find the results again in a reopened app."""

from __future__ import annotations

import csv
import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog

from explorer.gui.main_window import MainWindow
from flows import CHILD_MS, open_in_runs_tab, start, tiny_run
from seen import export, is_training


def _trained(qtbot, window):
    tiny_run(window, iterations=30)
    start(qtbot, window)
    qtbot.waitUntil(lambda: not is_training(window), timeout=CHILD_MS)
    window.tabs.setCurrentWidget(window.analysis)
    return window.analysis


def _press(qtbot, page, name: str) -> None:
    button = page.findChild(type(page.cancel), name)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert page.cancel.isEnabled() and not button.isEnabled()  # one analysis at a time, and it can be cancelled
    qtbot.waitUntil(lambda: not page.cancel.isEnabled(), timeout=CHILD_MS)
    assert page.eta.text().startswith("done in"), page.eta.text()


def test_each_analysis_runs_from_its_button_and_is_drawn_and_exported(qtbot, window, tmp_path, monkeypatch):
    page = _trained(qtbot, window)
    assert page.checkpoint.count() >= 2  # the start and the end are kept
    assert page.checkpoint.currentData() == 30  # the latest first
    qtbot.waitUntil(lambda: page.gradients.network.count() == 2, timeout=10_000)  # from the training events
    header, rows = page.gradients.rows()
    assert {r[0] for r in rows} == {"plain-8", "resnet-8"} and all(r[-1] > 0 for r in rows)

    _press(qtbot, page, "analyse-responses")
    header, rows = page.responses.rows()
    layers = {name: [r for r in rows if r[0] == name] for name in ("plain-8", "resnet-8")}
    assert all(len(v) == 7 for v in layers.values())  # the seven 3×3 layers of an 8-layer net
    assert all(r[-1] > 0 for r in rows)

    _press(qtbot, page, "analyse-lesion")
    header, rows = page.lesions.rows()
    singles = [r for r in rows if r[0] == "resnet-8" and r[2] == 1 and r[3] != "random"]
    assert [r[3] for r in singles] == ["layer1.0", "layer2.0", "layer3.0"]

    _press(qtbot, page, "analyse-landscape")
    header, rows = page.landscape.rows()
    alphas = sorted({r[2] for r in rows})
    assert len(alphas) == 21 and alphas[0] == -1 and alphas[-1] == 1

    page.views.setCurrentWidget(page.responses)
    path = tmp_path / "responses.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.action("exportAnalysis").trigger()
    with open(path, newline="") as f:
        read = list(csv.reader(f))
    assert tuple(read[0]) == page.responses.header and len(read) == 1 + 14
    assert window.statusBar().currentMessage() == f"Saved {path}"
    for suffix in ("png", "svg"):
        export(window.action("exportAnalysis"), tmp_path / f"responses.{suffix}", monkeypatch)
        assert (tmp_path / f"responses.{suffix}").stat().st_size > 1000

    # the trained network at the checkpoint chosen, as ONNX: which one is asked, the run has two
    page.checkpoint.setCurrentIndex(page.checkpoint.findData(30))
    onnx_path = tmp_path / "trained.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(onnx_path), ""))
    offered = []
    monkeypatch.setattr(QInputDialog, "getItem", lambda _p, _t, _l, items, *a: offered.append(items) or
                        ("resnet-8", True))
    window.action("exportTrainedOnnx").trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Wrote"), timeout=CHILD_MS)
    assert offered == [["plain-8", "resnet-8"]] and onnx_path.stat().st_size > 10_000
    assert "resnet-8 at iteration 30" in window.statusBar().currentMessage()


def test_a_cancelled_analysis_keeps_nothing_and_a_reopened_app_shows_what_was_kept(qtbot, window, settings,
                                                                                 runs_dir):
    page = _trained(qtbot, window)
    run = window.training.view.path
    _press(qtbot, page, "analyse-responses")
    # a success has its word in the status bar too, so a cancel's "nothing was kept" never outlives the next one
    assert window.statusBar().currentMessage().startswith("Layer responses: done in")
    button = page.findChild(type(page.cancel), "analyse-landscape-2d")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.progress.maximum() > 0, timeout=CHILD_MS)  # it has begun the grid
    qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=10_000)
    assert page.eta.text() == "the analysis was cancelled; nothing was kept"
    assert window.statusBar().currentMessage() == "The analysis was cancelled; nothing was kept"
    assert sorted(p.name for p in (run / "analysis").iterdir()) == ["responses-iter-00000030.json"]

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
