"""The Training page driven like a person: the real training child started with the Start button, stopped,
killed; a CLI run opened; hand-written run folders followed line by line; validation shown inline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from explorer.gui.runs_browser import COL_STATE, RunsPage
from explorer.gui.training_panel import TrainingPage
from explorer.gui.training_process import RunFollower
from explorer.runs import RunDir, _pid_alive
from run_writer import write_run

CHILD_TIMEOUT_MS = 120_000  # torch import plus a few steps, on two busy cores


@pytest.fixture
def page(qtbot, settings, runs_dir):
    widget = TrainingPage(settings, runs_dir)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    pids = []
    widget.process.state_changed.connect(lambda s: s == "starting" and pids.append(widget.process.pid))
    widget.show()
    yield widget
    widget.shutdown(keep_running=False)
    assert not [pid for pid in pids if _pid_alive(pid)], "a training child outlived its page"


def choose_tiny_run(page, iterations=30):
    page.dataset.setCurrentIndex(page.dataset.findData("synthetic"))
    page.synthetic_size.setValue(200)
    for box in page.depth_checks.values():
        box.setChecked(False)
    page.other_depths.setText("8")
    page.compare.setCurrentIndex(page.compare.findData("both"))
    page.recipe.setCurrentIndex(page.recipe.count() - 1)  # Custom
    page.iterations.setValue(iterations)
    page.batch_size.setValue(32)
    page.precision.setCurrentIndex(page.precision.findData("fp32"))


def test_start_runs_the_real_child_to_finished_with_curves_in_both_panels(qtbot, page, runs_dir, tmp_path):
    choose_tiny_run(page)
    assert not page.validation.isVisible()
    assert page.start_action.shortcut().toString() == "Ctrl+Return"
    page.start_action.trigger()
    assert page.is_training() and not page.start_action.isEnabled() and page.stop_action.isEnabled()
    assert "Starting" in page.progress.state_label.text()
    # While the child still imports torch, the runs list must not read its run as a dead trainer's.
    [starting] = list(runs_dir.iterdir())
    assert RunDir(starting).status()["state"] == "running"
    with qtbot.waitSignal(page.process.finished, timeout=CHILD_TIMEOUT_MS) as done:
        pass
    assert done.args == [0]
    assert page.progress.state_label.text() == "Finished"
    assert page.progress.bar.value() == 30
    page.curves.flush()
    assert sorted(page.curves.model_names()) == ["plain-8", "resnet-8"]
    for name, plot in (("plain-8", page.curves.plain_plot), ("resnet-8", page.curves.residual_plot)):
        assert page.curves.point_count(name, "train") >= 10 and page.curves.point_count(name, "test") >= 1
        assert page.curves.curve_item(name, "test") in plot.listDataItems()
    [run_path] = list(runs_dir.iterdir())
    assert RunDir(run_path).status()["state"] == "finished"

    browser = RunsPage(runs_dir)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitUntil(lambda: browser.table.model().rowCount() == 1, timeout=5000)
    assert browser.table.model().index(0, COL_STATE).data() == "finished"
    browser.wait_idle()

    for suffix in ("png", "svg", "csv"):
        page.export_to(tmp_path / f"figure.{suffix}")
        assert (tmp_path / f"figure.{suffix}").stat().st_size > 1000
    header, *rows = (tmp_path / "figure.csv").read_text().splitlines()
    assert header.startswith("model,iteration") and len(rows) >= 22


def test_stop_ends_the_run_cancelled_and_offers_resume(qtbot, page, tmp_path):
    choose_tiny_run(page, iterations=2000)
    page.start_action.trigger()
    qtbot.waitUntil(lambda: "ETA" in page.progress.details.text(), timeout=CHILD_TIMEOUT_MS)
    assert "images/s" in page.progress.details.text()
    other = write_run(tmp_path / "other-runs")
    page.open_run(other.path)  # look at another run while this one trains, then come back
    assert "resnet-56" in page.curves.model_names()
    page.open_run(page.process.run_path)
    delivered = [e for e in page.process.history() if e.get("type") == "train" and e.get("model") == "resnet-8"]
    assert page.curves.model_names() == ["plain-8", "resnet-8"]
    assert page.curves.point_count("resnet-8") == len(delivered) > 0
    with qtbot.waitSignal(page.process.finished, timeout=CHILD_TIMEOUT_MS) as done:
        page.stop_action.trigger()
        assert "Stopping" in page.progress.state_label.text()
    assert done.args == [1]
    assert RunDir(page.process.run_path).status()["state"] == "cancelled"
    assert page.resume_action.isEnabled() and page.start_action.isEnabled()


def test_a_killed_child_shows_its_error_and_resume_continues(qtbot, page):
    choose_tiny_run(page, iterations=2000)
    page.start_action.trigger()
    qtbot.waitUntil(lambda: page.progress.iteration > 0, timeout=CHILD_TIMEOUT_MS)
    run_path = page.process.run_path
    with qtbot.waitSignal(page.process.failed, timeout=10_000) as failed:
        os.kill(page.process.pid, signal.SIGKILL)
    assert "killed by SIGKILL" in failed.args[0]
    assert page.progress.state_label.text().startswith("Failed")
    assert page.progress.error.isVisible() and "run folder" in page.progress.error.toPlainText()
    assert RunDir(run_path).status()["state"] == "failed"
    assert page.resume_action.isEnabled()
    page.resume_action.trigger()  # the app lives on: the same run continues in a new child
    assert page.is_training() and page.process.run_path == run_path
    # The new child is training once it has logged its own start.
    qtbot.waitUntil(lambda: sum(e.get("type") == "start" for e in page.process.history()) == 2,
                    timeout=CHILD_TIMEOUT_MS)
    assert RunDir(run_path).status()["state"] == "running"
    with qtbot.waitSignal(page.process.finished, timeout=CHILD_TIMEOUT_MS):
        page.stop_action.trigger()


def test_stop_during_the_childs_start_up_is_a_cancel(qtbot, page):
    choose_tiny_run(page)
    page.start_action.trigger()
    with qtbot.waitSignal(page.process.finished, timeout=CHILD_TIMEOUT_MS) as done:
        page.stop_action.trigger()  # at once: the child is still importing torch
    assert done.args == [1]
    assert RunDir(page.process.run_path).status()["state"] == "cancelled"
    assert page.resume_action.isEnabled()


def test_a_run_written_by_the_cli_opens_and_plots(qtbot, page, tmp_path):
    cli_runs = tmp_path / "cli-runs"
    subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "synthetic", "--depths", "8",
                    "--compare", "residual", "--iterations", "12", "--batch-size", "16", "--train-subset", "64",
                    "--log-every", "2", "--eval-every", "6", "--precision", "fp32", "--runs-dir", str(cli_runs)],
                   check=True, capture_output=True, timeout=CHILD_TIMEOUT_MS / 1000)
    [run_path] = list(cli_runs.iterdir())
    page.open_run(run_path)
    page.curves.flush()
    assert page.curves.model_names() == ["resnet-8"]
    assert page.curves.point_count("resnet-8", "train") == 6 and page.curves.point_count("resnet-8", "test") == 2
    assert page.progress.state_label.text() == "Finished"
    assert not page.resume_action.isEnabled()


def test_follower_waits_for_a_partial_last_line(qtbot, runs_dir):
    run = write_run(runs_dir, iterations=100, state=None)
    follower = RunFollower(run.path)
    seen = []
    follower.events.connect(seen.extend)
    follower.start(keep_following=True)
    first = len(seen)
    line = json.dumps({"type": "train", "model": "resnet-20", "iteration": 150, "epoch": 1.5, "loss": 1.0,
                       "error": 0.25, "lr": 0.1, "images_per_sec": 1.0})
    with open(run.metrics_path, "a") as f:
        f.write(line[:30])
        f.flush()
        qtbot.wait(400)
        assert len(seen) == first
        f.write(line[30:] + "\n")
    qtbot.waitUntil(lambda: len(seen) == first + 1, timeout=2000)
    assert seen[-1]["iteration"] == 150
    follower.stop()


def test_open_run_follows_a_live_run_and_overlays_another(qtbot, page, runs_dir):
    live = write_run(runs_dir, iterations=200, state="running", name="live")
    other = write_run(runs_dir, iterations=400, name="other")
    page.open_run(live.path)
    assert "Training" in page.progress.state_label.text() or page.progress.state_label.text()
    count = page.curves.point_count("resnet-20")
    with open(live.metrics_path, "a") as f:
        f.write(json.dumps({"type": "train", "model": "resnet-20", "iteration": 250, "epoch": 2.5, "loss": 1.0,
                            "error": 0.3, "lr": 0.1, "images_per_sec": 1.0, "time": 1300.0}) + "\n")
    qtbot.waitUntil(lambda: page.curves.point_count("resnet-20") == count + 1, timeout=3000)
    page.open_run(other.path, overlay=True)
    qtbot.waitUntil(lambda: "resnet-56" in page.curves.model_names("overlay"), timeout=3000)
    item = page.curves.curve_item("resnet-56", "test", "overlay")
    assert item.opts["pen"].color().alpha() < 255 and "other" in item.name()


def test_invalid_settings_are_shown_inline_and_nothing_starts(qtbot, page, runs_dir):
    choose_tiny_run(page)
    page.other_depths.setText("21")
    assert page.validation.isVisible() and "6n+2" in page.validation.text()
    page.start_action.trigger()
    assert not page.is_training() and list(runs_dir.iterdir()) == []
    page.other_depths.setText("8")
    assert not page.validation.isVisible()


def test_an_unwritable_runs_folder_is_one_sentence(qtbot, page, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    page.set_runs_dir(blocker)
    choose_tiny_run(page)
    page.start_action.trigger()
    assert not page.is_training()
    assert "not a folder" in page.validation.text()


def test_settings_persist_across_pages(qtbot, settings, runs_dir):
    first = TrainingPage(settings, runs_dir)
    qtbot.addWidget(first)
    choose_tiny_run(first, iterations=77)
    first.shutdown(keep_running=False)
    second = TrainingPage(settings, runs_dir)
    qtbot.addWidget(second)
    assert second.iterations.value() == 77 and second.other_depths.text() == "8"
    assert second.dataset.currentData() == "synthetic" and second.synthetic_size.value() == 200
    second.shutdown(keep_running=False)
