"""Export as ONNX from the window, as a person does it: the ONNX… button of the Architecture tab's layer table
writes the network shown, with the table's layer names; a failed export is one sentence in the status bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QFileDialog

onnx = pytest.importorskip("onnx", reason="the onnx extra: pip install 'resnet-explorer[onnx]'")

CHILD_MS = 120_000


def test_the_architecture_tabs_network_is_written_with_the_tables_names(qtbot, window, tmp_path, monkeypatch):
    window.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.layer_table.summary is not None, timeout=30_000)
    summary = window.layer_table.summary
    chosen = tmp_path / "mine"  # no suffix typed: .onnx is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), ""))
    button = window.layer_table.findChild(QAbstractButton, "exportOnnxButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Wrote"), timeout=CHILD_MS)
    message = window.statusBar().currentMessage()
    assert f"{summary.config.name} (freshly initialised)" in message and "open it in Netron" in message
    names = {node.name for node in onnx.load(tmp_path / "mine.onnx").graph.node}
    assert {row.name for row in summary.rows if row.is_leaf and row.params} <= names

    gone = tmp_path / "gone" / "x.onnx"  # a folder deleted while the dialog was open
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(gone), ""))
    window.action("exportOnnx").trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Could not"), timeout=CHILD_MS)
    assert window.statusBar().currentMessage() == (f"Could not export the network: the folder {gone.parent} (for "
                                                   "x.onnx) does not exist; make it first or choose another.")


def test_every_export_starts_in_the_home_folder_then_in_the_last_one_used(qtbot, window, tmp_path, monkeypatch):
    """Not in the folder the app was started from (the layer table's CSV went there, into the source tree)."""
    from pathlib import Path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    window.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.layer_table.summary is not None, timeout=30_000)
    offered = []
    chosen = tmp_path / "tables" / "mine.csv"
    chosen.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _p, _t, where, *a: offered.append(where) or
                        (str(chosen), ""))
    qtbot.mouseClick(window.layer_table.findChild(QAbstractButton, "exportLayersButton"), Qt.MouseButton.LeftButton)
    assert Path(offered[0]).parent == Path.home() and offered[0].endswith("-layers.csv")
    assert chosen.read_text().startswith("layer,type") and window.statusBar().currentMessage().startswith("Wrote")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _p, _t, where, *a: offered.append(where) or ("", ""))
    window.action("exportOnnx").trigger()  # cancelled: nothing written
    assert Path(offered[1]).parent == chosen.parent
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob("*.onnx"))
