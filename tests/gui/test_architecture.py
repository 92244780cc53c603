"""The architecture panel and the layer table, driven like a user: pick options, type depths, copy, export."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QComboBox, QHBoxLayout, QLabel, QWidget

from explorer.config.model import ModelConfig
from explorer.gui.architecture.panel import ArchitecturePanel
from explorer.gui.architecture.layer_table import COL_LAYER, COL_MACS, COL_OUTPUT, COL_PARAMS, LayerTable
from explorer.gui.widgets.latest_worker import SummaryWorker
from explorer.models.summary import summarize
from seen import shown_text

WAIT_MS = 30_000  # ResNet-1202 takes a few seconds on a busy 2-core machine


class Explorer(QWidget):
    """The panel wired to the table the way the main window wires them."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.worker = SummaryWorker(self, debounce_ms=20)
        self.panel = ArchitecturePanel(config)
        self.table = LayerTable(self.worker, QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                                       "resnet-explorer-tests", "architecture"))
        layout = QHBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(self.table)
        self.panel.config_changed.connect(self.worker.request)
        self.worker.request(self.panel.config)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.worker.shutdown()
        super().closeEvent(event)


@pytest.fixture
def explorer(qtbot):
    widget = Explorer()
    qtbot.addWidget(widget)
    widget.show()
    wait_for(qtbot, widget, ModelConfig())
    return widget


def wait_for(qtbot, widget: Explorer, config: ModelConfig) -> None:
    """Until the table shows ``config`` and nothing is computing."""
    qtbot.waitUntil(
        lambda: widget.table.summary is not None and widget.table.summary.config == config
        and not widget.worker.busy,
        timeout=WAIT_MS,
    )


def combo(panel: ArchitecturePanel, name: str) -> QComboBox:
    return panel.findChild(QComboBox, name)


def button(panel: ArchitecturePanel, name: str) -> QAbstractButton:
    return panel.findChild(QAbstractButton, name)


def choose(panel: ArchitecturePanel, name: str, data: str) -> None:
    box = combo(panel, name)
    box.setCurrentIndex(box.findData(data))


def type_depth(qtbot, panel: ArchitecturePanel, text: str) -> None:
    edit = combo(panel, "depth").lineEdit()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # a typed depth is applied on Enter (or after a pause)


def assert_table_matches(widget: Explorer, config: ModelConfig) -> None:
    expected = summarize(config)
    shown = widget.table.summary
    assert shown.config == config
    assert (shown.total_params, shown.total_macs, shown.total_flops) == (
        expected.total_params, expected.total_macs, expected.total_flops)
    model = widget.table.model
    top = [model.row_of(model.index(r, 0)) for r in range(model.rowCount())]
    assert sum(r.params for r in top) == expected.total_params  # the tree holds every row once
    assert len(model.all_rows()) == len(expected.rows)
    totals = shown_text(widget.table, 'summaryTotals')
    assert "MACs" in totals and "FLOPs" in totals and "parameters" in totals


def test_default_is_resnet20_with_the_paper_figures(explorer):
    assert_table_matches(explorer, ModelConfig())
    assert "0.27 M" in shown_text(explorer.table, 'summaryTotals')
    assert "40.6 M</b> MACs" in shown_text(explorer.table, 'summaryTotals') and "81.1 M</b> FLOPs" in shown_text(explorer.table, 'summaryTotals')
    assert shown_text(explorer.table, 'paperNote').startswith("paper: 0.27M params, 8.75% test error")
    model = explorer.table.model
    layer1 = model.index(3, 0)
    assert model.data(layer1) == "layer1" and model.rowCount(layer1) == 3
    block = model.index(0, 0, layer1)
    conv = model.index(0, 0, block)
    assert model.data(conv) == "layer1.0.conv1"
    assert model.data(model.index(0, COL_OUTPUT, block)) == "16 × 32 × 32"
    assert model.data(model.index(0, COL_PARAMS, layer1)) == "4,672"
    assert model.data(model.index(0, COL_MACS, layer1), Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight


def test_changing_options_updates_the_table_to_the_exact_totals(qtbot, explorer):
    panel = explorer.panel
    type_depth(qtbot, panel, "56")
    wait_for(qtbot, explorer, ModelConfig(depth=56))
    assert_table_matches(explorer, ModelConfig(depth=56))

    choose(panel, "shortcut", "B")
    wait_for(qtbot, explorer, ModelConfig(depth=56, shortcut="B"))
    assert_table_matches(explorer, ModelConfig(depth=56, shortcut="B"))

    choose(panel, "block", "bottleneck")  # 56 = 9*6+2 fits bottleneck blocks too: it stays
    config = ModelConfig(depth=56, block="bottleneck", shortcut="B")
    wait_for(qtbot, explorer, config)
    assert combo(panel, "depth").currentText() == "56" and shown_text(panel, 'configNote') == ""
    assert combo(panel, "stride_on").isEnabled()
    assert_table_matches(explorer, config)

    choose(panel, "block", "basic")
    type_depth(qtbot, panel, "32")
    wait_for(qtbot, explorer, ModelConfig(depth=32, shortcut="B"))
    choose(panel, "block", "bottleneck")  # 32 is not 9n+2: the depth changes, and the panel says so
    config = ModelConfig(depth=164, block="bottleneck", shortcut="B")
    wait_for(qtbot, explorer, config)
    assert combo(panel, "depth").currentText() == "164"
    assert shown_text(panel, 'configNote') == "Depth 32 does not fit cifar bottleneck blocks (9n+2); showing depth 164 instead."
    assert_table_matches(explorer, config)

    choose(panel, "family", "imagenet")
    config = ModelConfig(family="imagenet", depth=18)
    wait_for(qtbot, explorer, config)
    assert not combo(panel, "stride_on").isEnabled()
    assert_table_matches(explorer, config)
    assert shown_text(explorer.table, 'paperNote').startswith("paper: 1.8 GFLOPs")

    choose(panel, "block", "bottleneck")  # the note lists what this block allows, not 18 it just refused
    assert shown_text(panel, 'configNote') == "Depth 18 does not fit imagenet bottleneck blocks (50/101/152); showing depth 50 instead."
    choose(panel, "stride_on", "3x3")
    config = ModelConfig(family="imagenet", depth=50, stride_on="3x3")
    wait_for(qtbot, explorer, config)
    assert_table_matches(explorer, config)


def test_plain_and_preact_are_offered(qtbot, explorer):
    panel = explorer.panel
    qtbot.mouseClick(button(panel, 'plain'), Qt.MouseButton.LeftButton)
    wait_for(qtbot, explorer, ModelConfig(plain=True))
    assert not combo(panel, "shortcut").isEnabled()
    assert_table_matches(explorer, ModelConfig(plain=True))
    qtbot.mouseClick(button(panel, 'residual'), Qt.MouseButton.LeftButton)
    button(panel, 'preact').setChecked(True)
    wait_for(qtbot, explorer, ModelConfig(preact=True))
    assert_table_matches(explorer, ModelConfig(preact=True))


@pytest.mark.parametrize(
    "text, reason",
    [("21", "depth 21 is not 6n+2"), ("abc", "must be a whole number"), ("", "depth is empty"),
     ("0", "depth 0")],
)
def test_an_invalid_depth_is_marked_with_the_reason_and_nothing_raises(qtbot, explorer, text, reason):
    panel = explorer.panel
    emitted = []
    panel.config_changed.connect(emitted.append)
    type_depth(qtbot, panel, text)
    assert reason in shown_text(panel, 'configProblem')
    problem = panel.findChild(QLabel, "configProblem")
    assert problem.isVisible() and reason in problem.text()
    assert reason in combo(panel, "depth").toolTip()
    assert "border" in combo(panel, "depth").styleSheet()
    assert emitted == []  # listeners never see an invalid network
    assert panel.config == ModelConfig()  # the last valid one stays in force

    type_depth(qtbot, panel, "32")
    assert shown_text(panel, 'configProblem') == ""
    assert combo(panel, "depth").styleSheet() == ""
    wait_for(qtbot, explorer, ModelConfig(depth=32))


def test_presets_follow_family_and_block(explorer):
    panel = explorer.panel
    depth = combo(panel, "depth")
    assert [depth.itemText(i) for i in range(depth.count())] == ["20", "32", "44", "56", "110", "1202"]
    choose(panel, "block", "bottleneck")
    assert [depth.itemText(i) for i in range(depth.count())] == ["164", "1001"]
    choose(panel, "family", "imagenet")
    assert [depth.itemText(i) for i in range(depth.count())] == ["18", "34"]
    assert combo(panel, "shortcut").currentData() == "B"  # the paper's choice for ImageNet
    choose(panel, "block", "bottleneck")
    assert [depth.itemText(i) for i in range(depth.count())] == ["50", "101", "152"]
    assert shown_text(panel, 'configProblem') == ""
    for widget in (combo(panel, n) for n in ("family", "depth", "block", "shortcut", "stride_on")):
        assert widget.toolTip()
    assert button(panel, 'preact').toolTip() and button(panel, 'plain').toolTip()


def test_a_result_for_an_outdated_request_is_dropped(qtbot):
    """The worker answers the latest request only: a job still running when newer requests arrive has its
    result dropped (the slow job here is held until the newer ones are in)."""
    import threading

    from explorer.gui.widgets.latest_worker import LatestWorker

    release = threading.Event()

    def job(request):
        if request == "slow":
            release.wait(10)
        return request

    worker = LatestWorker(job, lambda request, exc: str(exc), debounce_ms=10)
    shown = []
    worker.computed.connect(shown.append)
    worker.request("slow")
    qtbot.wait(100)  # past the debounce: its task has started and waits
    worker.request("newer")
    worker.request("newest")
    qtbot.waitUntil(lambda: shown == ["newest"], timeout=5000)
    release.set()
    QThreadPool.globalInstance().waitForDone(5000)
    qtbot.wait(50)
    assert shown == ["newest"] and not worker.busy
    worker.shutdown()


def test_copy_selection_as_tsv(qtbot, explorer):
    tree = explorer.table.tree
    model = explorer.table.model
    layer1 = model.index(3, COL_LAYER)
    tree.selectionModel().select(
        layer1, tree.selectionModel().SelectionFlag.Select | tree.selectionModel().SelectionFlag.Rows)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t") == ["layer", "type", "depth", "output", "params", "macs", "mac_share_percent"]
    assert lines[1].split("\t")[:6] == ["layer1", "Sequential", "1", "16x32x32", "14016", "14155776"]
    assert len(lines) == 2


def test_export_csv_writes_every_row(tmp_path, explorer):
    path = tmp_path / "resnet-20.csv"
    explorer.table.export_csv(path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = summarize(ModelConfig())
    assert [r["layer"] for r in rows] == [r.name for r in expected.rows]
    leaves = [r for r in rows if r["layer"] in {x.name for x in expected.leaves()}]
    assert sum(int(r["params"]) for r in leaves) == expected.total_params
    assert sum(int(r["macs"]) for r in leaves) == expected.total_macs
    assert rows[0] == {"layer": "conv1", "type": "Conv2d", "depth": "1", "output": "16x32x32", "params": "432",
                       "macs": "442368", "mac_share_percent": str(round(100 * 442368 / expected.total_macs, 4))}


def test_a_failing_summary_is_shown_as_a_message(qtbot, explorer, monkeypatch):
    def broken(config):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("explorer.models.summary.summarize", broken)
    type_depth(qtbot, explorer.panel, "32")
    qtbot.waitUntil(lambda: bool(shown_text(explorer.table, 'summaryError')), timeout=WAIT_MS)
    assert "resnet-32" in shown_text(explorer.table, 'summaryError') and "out of memory" in shown_text(explorer.table, 'summaryError')
    assert explorer.table.summary is None and explorer.table.model.rowCount() == 0
