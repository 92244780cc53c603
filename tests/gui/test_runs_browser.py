"""The runs browser over real run folders: listing, open/overlay, delete (asks; refuses a live run), reveal,
new runs appearing without a click, another runs folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from explorer.gui.runs import page as runs_browser
from explorer.gui.runs.page import RunsPage
from explorer.gui.runs.table import COL_BEST, COL_DATASET, COL_ITERATIONS, COL_MODELS, COL_STATE
from explorer.gui.widgets.live_runs import LiveRuns
from run_writer import write_run


@pytest.fixture
def page(qtbot, runs_dir):
    widget = RunsPage(runs_dir, LiveRuns())
    qtbot.addWidget(widget)
    widget.resize(1100, 400)
    widget.show()
    yield widget
    widget.wait_idle()


def cell(page, row, col):
    return page.table.model().index(row, col).data()


def wait_rows(qtbot, page, n):
    qtbot.waitUntil(lambda: page.table.model().rowCount() == n, timeout=5000)


def test_lists_runs_with_state_models_iterations_and_best_errors(qtbot, page, runs_dir):
    write_run(runs_dir, iterations=400, state="finished")
    page.refresh()
    wait_rows(qtbot, page, 1)
    assert cell(page, 0, COL_STATE) == "finished"
    assert cell(page, 0, COL_DATASET) == "synthetic"
    assert cell(page, 0, COL_MODELS) == "plain-20/56, ResNet-20/56"
    assert cell(page, 0, COL_ITERATIONS) == "400 / 400"
    assert "ResNet-56" in cell(page, 0, COL_BEST) and "%" in cell(page, 0, COL_BEST)


def test_a_new_run_appears_without_a_click(qtbot, page, runs_dir):
    wait_rows(qtbot, page, 0)
    assert page.empty_label.isVisible()
    write_run(runs_dir)
    wait_rows(qtbot, page, 1)
    assert not page.empty_label.isVisible()


def test_a_runs_folder_made_after_the_page_is_watched(qtbot, tmp_path):
    later = tmp_path / "made-later" / "runs"
    page = RunsPage(later, LiveRuns())
    qtbot.addWidget(page)
    page.show()
    write_run(later)
    wait_rows(qtbot, page, 1)
    page.close()
    page.wait_idle()


def test_open_and_overlay_emit_the_selected_folder(qtbot, page, runs_dir):
    run = write_run(runs_dir)
    page.refresh()
    wait_rows(qtbot, page, 1)
    assert page.select_path(run.path)
    open_action = page.action("openRun")
    assert open_action.shortcut().toString() == "Ctrl+O"
    with qtbot.waitSignal(page.open_requested) as opened:
        open_action.trigger()
    assert opened.args == [run.path]
    with qtbot.waitSignal(page.overlay_requested) as overlaid:
        page.action("overlayRun").trigger()
    assert overlaid.args == [run.path]


def test_delete_asks_and_removes_but_refuses_a_live_run(qtbot, page, runs_dir, monkeypatch):
    done = write_run(runs_dir, name="done")
    live = write_run(runs_dir, name="live", state="running")  # its pid is this test process: alive
    page.refresh()
    wait_rows(qtbot, page, 2)
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    page.select_path(live.path)
    page.action("deleteRun").trigger()
    assert live.path.exists() and "still training" in told[0]
    page.select_path(done.path)
    page.action("deleteRun").trigger()
    assert not done.path.exists()
    wait_rows(qtbot, page, 1)


def test_delete_keeps_the_run_when_the_answer_is_no(qtbot, page, runs_dir, monkeypatch):
    run = write_run(runs_dir)
    page.refresh()
    wait_rows(qtbot, page, 1)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No)
    page.select_path(run.path)
    page.action("deleteRun").trigger()
    assert run.path.exists()


def test_reveal_opens_the_folder_in_the_file_manager(qtbot, page, runs_dir, monkeypatch):
    run = write_run(runs_dir)
    page.refresh()
    wait_rows(qtbot, page, 1)
    opened = []
    monkeypatch.setattr(runs_browser.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    page.select_path(run.path)
    page.action("revealRun").trigger()
    assert [Path(u.toLocalFile()) for u in opened] == [run.path]


def test_choosing_another_runs_folder_lists_its_runs(qtbot, page, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    write_run(other)
    write_run(other)
    monkeypatch.setattr(runs_browser.QFileDialog, "getExistingDirectory", lambda *a: str(other))
    with qtbot.waitSignal(page.runs_dir_changed):
        page.action("chooseRunsFolder").trigger()
    wait_rows(qtbot, page, 2)
    assert page.runs_dir == other


def test_a_broken_run_folder_is_a_row_that_says_why(qtbot, page, runs_dir):
    write_run(runs_dir, name="good")
    broken = runs_dir / "20260101-000000-broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    page.refresh()
    wait_rows(qtbot, page, 2)
    states = sorted(cell(page, row, COL_STATE) for row in range(2))
    assert states == ["finished", "unreadable"]
    row = next(r for r in range(2) if cell(page, r, COL_STATE) == "unreadable")
    assert "not a usable run config" in cell(page, row, COL_MODELS)
    page.select_path(broken)
    assert not page.action("openRun").isEnabled() and page.action("deleteRun").isEnabled()
