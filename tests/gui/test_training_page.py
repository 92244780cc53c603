"""The Training tab driven like a person, with the real training child: Start runs it to the end, Stop ends it
cancelled, a killed child shows its error and Resume continues it, a CLI run opens; hand-written run folders
followed line by line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from explorer.gui.widgets.run_follower import RunFollower
from explorer.gui.training.page import TrainingPage
from explorer.runs.folder import RunDir
from explorer.system.processes import alive as pid_alive
from flows import fill_tiny_form
from run_writer import write_run

CHILD_TIMEOUT_MS = 120_000  # torch import plus a few steps, on two busy cores


@pytest.fixture
def page(qtbot, settings, runs_dir):
    widget = TrainingPage(settings, runs_dir)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    pids = [c.pid for c in widget._controls.values() if c.pid]
    widget.shutdown(keep_running=False)
    assert not [pid for pid in pids if pid_alive(pid)], "a training child outlived its page"


def choose_tiny_run(page, iterations=30, compare="both"):
    fill_tiny_form(page.form, compare, iterations, "8", images=200, batch=32)


def start(qtbot, page) -> None:
    """Press Start and wait until the trainer is started (the checks before it take a moment)."""
    page.action("start").trigger()
    qtbot.waitUntil(page.is_training, timeout=30_000)


def ended(qtbot, page, timeout=CHILD_TIMEOUT_MS):
    control = page.control()
    with qtbot.waitSignal(control.ended, timeout=timeout) as done:
        pass
    return done.args


def test_start_runs_the_real_child_to_finished_with_curves_in_both_panels(qtbot, page, runs_dir, tmp_path):
    choose_tiny_run(page)
    assert not page.form.problem.isVisible()
    start(qtbot, page)
    assert page.action("stop").isEnabled()
    assert "Starting" in page.view.progress.state_label.text()
    assert page.form.showing_run() and not page.form.iterations.isEnabled()  # the form shows the run's settings
    [run_path] = list(runs_dir.iterdir())
    assert run_path.name.endswith("-synthetic-plain-vs-resnet-8")
    assert ended(qtbot, page) == ["finished", ""]
    assert page.view.progress.state_label.text() == "Finished"
    assert page.view.progress.bar.value() == 30
    curves = page.view.curves
    curves.flush()
    assert sorted(curves.network_names()) == ["plain-8", "resnet-8"]
    for name, plot in (("plain-8", curves.plain_plot), ("resnet-8", curves.residual_plot)):
        series = curves.series().networks[name]
        assert series.train.n >= 10 and series.test.n >= 1
        assert curves.curve_item(name, "test") in plot.listDataItems()
    assert RunDir(run_path).status().state == "finished"
    for suffix in ("png", "svg", "csv"):
        assert page.export_to(tmp_path / f"figure.{suffix}")
        assert (tmp_path / f"figure.{suffix}").stat().st_size > 1000
    header, *rows = (tmp_path / "figure.csv").read_text().splitlines()
    assert header.startswith("run,model,seed,iteration") and len(rows) >= 22


def test_stop_ends_the_run_cancelled_and_offers_resume(qtbot, page, tmp_path):
    choose_tiny_run(page, iterations=3000)
    start(qtbot, page)
    qtbot.waitUntil(lambda: "ETA" in page.view.progress.details.text(), timeout=CHILD_TIMEOUT_MS)
    assert "images/s" in page.view.progress.details.text()
    run_path = page.view.path
    other = write_run(tmp_path / "other-runs")
    page.open_run(other.path)  # look at another run while this one trains, then come back
    assert "resnet-56" in page.view.curves.network_names()
    assert not page.action("stop").isEnabled()  # Stop acts on the run shown: this one is finished
    page.open_run(run_path)
    assert page.view.curves.network_names() == ["plain-8", "resnet-8"] and page.action("stop").isEnabled()
    control = page.control()
    with qtbot.waitSignal(control.ended, timeout=CHILD_TIMEOUT_MS) as done:
        page.action("stop").trigger()
        assert "Stopping" in page.view.progress.state_label.text()
    assert done.args[0] == "cancelled"
    assert RunDir(run_path).status().state == "cancelled"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)


def test_a_killed_child_shows_its_error_and_resume_continues(qtbot, page):
    choose_tiny_run(page, iterations=3000)
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.view.progress.iteration > 0, timeout=CHILD_TIMEOUT_MS)
    run_path = page.view.path
    control = page.control()
    with qtbot.waitSignal(control.ended, timeout=10_000) as done:
        os.kill(control.pid, signal.SIGKILL)
    assert done.args[0] == "failed" and "killed by SIGKILL" in done.args[1]
    assert page.view.progress.state_label.text().startswith("Failed")
    assert RunDir(run_path).status().state == "failed"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)
    page.action("resume").trigger()  # the app lives on: the same run continues in a new child
    assert page.is_training() and page.view.path == run_path
    qtbot.waitUntil(lambda: sum(e.get("type") == "start" for e in RunDir(run_path).read_events()[0]) == 2,
                    timeout=CHILD_TIMEOUT_MS)
    with qtbot.waitSignal(page.control().ended, timeout=CHILD_TIMEOUT_MS):
        page.action("stop").trigger()


def test_stop_during_the_childs_start_up_is_a_cancel(qtbot, page):
    choose_tiny_run(page)
    start(qtbot, page)
    with qtbot.waitSignal(page.control().ended, timeout=CHILD_TIMEOUT_MS) as done:
        page.action("stop").trigger()  # at once: the child is still importing torch
    assert done.args[0] == "cancelled"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)


def test_a_run_written_by_the_cli_opens_and_plots(qtbot, page, tmp_path):
    cli_runs = tmp_path / "cli-runs"
    subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "synthetic", "--depths", "8",
                    "--compare", "residual", "--iterations", "12", "--batch-size", "16", "--train-subset", "64",
                    "--log-every", "2", "--eval-every", "6", "--precision", "fp32", "--runs-dir", str(cli_runs)],
                   check=True, capture_output=True, timeout=CHILD_TIMEOUT_MS / 1000)
    [run_path] = list(cli_runs.iterdir())
    page.open_run(run_path)
    page.view.curves.flush()
    series = page.view.curves.series().networks["resnet-8"]
    assert (series.train.n, series.test.n) == (6, 2)
    assert page.view.progress.state_label.text() == "Finished"
    assert not page.action("resume").isEnabled() and not page.action("stop").isEnabled()


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


def test_invalid_settings_are_shown_inline_and_nothing_starts(qtbot, page, runs_dir):
    choose_tiny_run(page)
    page.form.other_depths.setText("21")
    assert page.form.problem.isVisible() and "6n+2" in page.form.problem.text()
    page.action("start").trigger()
    qtbot.wait(300)
    assert not page.is_training() and list(runs_dir.iterdir()) == []
    page.form.other_depths.setText("8")
    assert not page.form.problem.isVisible()


def test_an_unwritable_runs_folder_is_one_sentence(qtbot, page, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    page.set_runs_dir(blocker)
    choose_tiny_run(page)
    page.action("start").trigger()
    qtbot.waitUntil(lambda: "not a folder" in page.form.problem.text(), timeout=30_000)
    assert not page.is_training() and "Runs tab" in page.form.problem.text()


def test_a_run_folder_cannot_put_its_own_code_in_the_trainer(qtbot, page, runs_dir, tmp_path):
    """``python -m explorer`` imports from its working folder first: an ``explorer/`` planted in a run folder
    must not be what runs when the app resumes that run."""
    run = write_run(runs_dir, depths=(8,), iterations=20, state=None, every=40)  # died before its first point
    marker = tmp_path / "ran-planted-code"
    planted = run.path / "explorer"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    page.resume_run(run.path)
    assert ended(qtbot, page)[0] == "finished"
    assert not marker.exists()


def test_a_link_planted_in_a_run_folder_is_refused_and_never_written_through(qtbot, page, runs_dir, tmp_path):
    """A run folder may come from someone else: the app neither shows one with a link where its files belong,
    nor, when the link appears after the run was shown, sends the trainer's stderr through it."""
    run = write_run(runs_dir, depths=(8,), iterations=20, state="cancelled")
    outside = tmp_path / "someone-elses.txt"
    outside.write_text("not the app's\n")
    assert page.open_run(run.path)
    os.symlink(outside, run.stderr_path)
    with qtbot.waitSignal(page.status_message) as said:
        page.action("resume").trigger()
    assert said.args[0].startswith(f"{run.stderr_path} is a link (to {outside})")
    assert not page.is_training() and outside.read_text() == "not the app's\n"
    page.new_run()
    with qtbot.waitSignal(page.status_message) as said:
        assert not page.open_run(run.path)
    assert said.args[0].startswith(f"{run.stderr_path} is a link")


def test_resume_of_a_run_whose_checkpoints_are_gone_is_refused_in_a_sentence(qtbot, page, runs_dir):
    run = write_run(runs_dir, depths=(8,), iterations=20, every=2, state="cancelled")  # recorded, never saved
    before = run.metrics_path.read_bytes()
    assert page.open_run(run.path)
    with qtbot.waitSignal(page.status_message) as said:
        page.action("resume").trigger()
    assert "recorded training up to iteration 20, but its checkpoints are gone" in said.args[0]
    assert not page.is_training() and run.metrics_path.read_bytes() == before
