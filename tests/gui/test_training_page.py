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

from explorer.gui.training.page import TrainingPage
from explorer.gui.widgets.live_runs import LiveRuns
from explorer.gui.widgets.run_follower import RunFollower
from explorer.runs.folder import RunDir
from explorer.system.processes import alive as pid_alive
from flows import fill_tiny_form
from run_writer import write_run
from seen import curve, export, field, network_labels, points, shown_text

CHILD_TIMEOUT_MS = 120_000  # torch import plus a few steps, on two busy cores


@pytest.fixture
def trainers():
    return LiveRuns()  # the window's controller, which the page shares


@pytest.fixture
def page(qtbot, settings, runs_dir, trainers):
    widget = TrainingPage(settings, runs_dir, trainers)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    pids = [trainers.controller.trainer(path).pid for path in trainers.controller.live_runs()]
    widget.shutdown()
    trainers.shutdown(keep_running=False)
    assert not [pid for pid in pids if pid_alive(pid)], "a training child outlived its page"


def choose_tiny_run(page, iterations=30, compare="both"):
    fill_tiny_form(page.form, compare, iterations, "8", images=200, batch=32)


def start(qtbot, page, trainers) -> None:
    """Press Start and wait until the trainer is started (the checks before it take a moment)."""
    page.action("start").trigger()
    qtbot.waitUntil(lambda: bool(trainers.controller.live_runs()), timeout=30_000)


def ending(qtbot, trainers, path, timeout=CHILD_TIMEOUT_MS):
    """Wait for the trainer of ``path`` to end, as a context: its [state, message] are in ``.args[1:]``."""
    return qtbot.waitSignal(trainers.ended, timeout=timeout, check_params_cb=lambda ended, *_: ended == path)


def ended(qtbot, page, trainers, timeout=CHILD_TIMEOUT_MS):
    with ending(qtbot, trainers, page.view.path, timeout) as done:
        pass
    return done.args[1:]


def state(page) -> str:
    return page.view.progress.state_label.text()


def test_start_runs_the_real_child_to_finished_with_curves_in_both_panels(qtbot, page, trainers, runs_dir, tmp_path,
                                                                            monkeypatch):
    choose_tiny_run(page)
    assert shown_text(page.form, "formProblem") == ""
    start(qtbot, page, trainers)
    assert page.action("stop").isEnabled()
    assert "Starting" in state(page)
    assert page.action("new").isEnabled() and not field(page.form, "iterations").isEnabled()  # the form shows the run's settings
    [run_path] = list(runs_dir.iterdir())
    assert run_path.name.endswith("-synthetic-plain-vs-resnet-8")
    assert ended(qtbot, page, trainers) == ["finished", ""]
    assert state(page) == "Finished"
    assert page.view.progress.bar.value() == 30
    curves = page.view.curves
    assert network_labels(curves) == ["plain-8", "ResNet-8"]
    for label, plot in (("plain-8", curves.plain_plot), ("ResNet-8", curves.residual_plot)):
        assert len(points(curves, label, "train")[0]) >= 10 and len(points(curves, label, "test")[0]) >= 1
        assert curve(curves, label) in plot.listDataItems()
    assert RunDir(run_path).status().state == "finished"
    for suffix in ("png", "svg", "csv"):
        export(page.action("export"), tmp_path / f"figure.{suffix}", monkeypatch)
        assert (tmp_path / f"figure.{suffix}").stat().st_size > 1000
    header, *rows = (tmp_path / "figure.csv").read_text().splitlines()
    assert header.startswith("run,model,seed,iteration") and len(rows) >= 22


def test_stop_ends_the_run_cancelled_and_offers_resume(qtbot, page, trainers, tmp_path):
    choose_tiny_run(page, iterations=3000)
    start(qtbot, page, trainers)
    qtbot.waitUntil(lambda: "ETA" in page.view.progress.details.text(), timeout=CHILD_TIMEOUT_MS)
    assert "images/s · cpu / " in page.view.progress.details.text()  # and where it trains, from its start event
    run_path = page.view.path
    other = write_run(tmp_path / "other-runs")
    page.open_run(other.path)  # look at another run while this one trains, then come back
    assert "ResNet-56" in network_labels(page.view.curves)
    assert not page.action("stop").isEnabled()  # Stop acts on the run shown: this one is finished
    page.open_run(run_path)
    assert network_labels(page.view.curves) == ["plain-8", "ResNet-8"] and page.action("stop").isEnabled()
    with ending(qtbot, trainers, run_path) as done:
        page.action("stop").trigger()
        assert "Stopping" in state(page)
    assert done.args[1] == "cancelled"
    assert RunDir(run_path).status().state == "cancelled"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)


def test_a_killed_child_shows_its_error_and_resume_continues(qtbot, page, trainers):
    choose_tiny_run(page, iterations=3000)
    start(qtbot, page, trainers)
    qtbot.waitUntil(lambda: page.view.progress.iteration > 0, timeout=CHILD_TIMEOUT_MS)
    run_path = page.view.path
    with ending(qtbot, trainers, run_path, 10_000) as done:
        os.kill(trainers.controller.trainer(run_path).pid, signal.SIGKILL)
    assert done.args[1] == "failed" and "killed by SIGKILL" in done.args[2]
    assert state(page).startswith("Failed")
    assert RunDir(run_path).status().state == "failed"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)
    page.action("resume").trigger()  # the app lives on: the same run continues in a new child
    assert trainers.controller.live_runs() == [run_path] and page.view.path == run_path
    qtbot.waitUntil(lambda: sum(e.get("type") == "start" for e in RunDir(run_path).read_events()[0]) == 2,
                    timeout=CHILD_TIMEOUT_MS)
    with ending(qtbot, trainers, run_path):
        page.action("stop").trigger()


def test_stop_during_the_childs_start_up_is_a_cancel(qtbot, page, trainers):
    choose_tiny_run(page)
    start(qtbot, page, trainers)
    with ending(qtbot, trainers, page.view.path) as done:
        page.action("stop").trigger()  # at once: the child is still importing torch
    assert done.args[1] == "cancelled"
    qtbot.waitUntil(lambda: page.action("resume").isEnabled(), timeout=5000)


def test_a_run_written_by_the_cli_opens_and_plots(qtbot, page, tmp_path):
    cli_runs = tmp_path / "cli-runs"
    subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "synthetic", "--depths", "8",
                    "--compare", "residual", "--iterations", "12", "--batch-size", "16", "--train-subset", "64",
                    "--log-every", "2", "--eval-every", "6", "--precision", "fp32", "--runs-dir", str(cli_runs)],
                   check=True, capture_output=True, timeout=CHILD_TIMEOUT_MS / 1000)
    [run_path] = list(cli_runs.iterdir())
    page.open_run(run_path)
    curves = page.view.curves
    assert (len(points(curves, "ResNet-8", "train")[0]), len(points(curves, "ResNet-8")[0])) == (6, 2)
    assert state(page) == "Finished"
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


def test_invalid_settings_are_shown_inline_and_nothing_starts(qtbot, page, trainers, runs_dir):
    choose_tiny_run(page)
    field(page.form, "other-depths").setText("21")
    assert "6n+2" in shown_text(page.form, "formProblem")
    assert not page.action("start").isEnabled()  # nothing to start until the field is right
    page.action("start").trigger()
    qtbot.wait(300)
    assert not trainers.controller.live_runs() and list(runs_dir.iterdir()) == []
    field(page.form, "other-depths").setText("8")
    assert shown_text(page.form, "formProblem") == "" and page.action("start").isEnabled()


def test_an_unwritable_runs_folder_is_one_sentence(qtbot, page, trainers, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    page.set_runs_dir(blocker)
    choose_tiny_run(page)
    page.action("start").trigger()
    qtbot.waitUntil(lambda: "not a folder" in shown_text(page.form, "formProblem"), timeout=30_000)
    assert not trainers.controller.live_runs() and "Runs tab" in shown_text(page.form, "formProblem")


def test_a_run_folder_cannot_put_its_own_code_in_the_trainer(qtbot, page, trainers, runs_dir, tmp_path):
    """``python -m explorer`` imports from its working folder first: an ``explorer/`` planted in a run folder
    must not be what runs when the app resumes that run."""
    run = write_run(runs_dir, depths=(8,), iterations=20, state=None, every=40)  # died before its first point
    marker = tmp_path / "ran-planted-code"
    planted = run.path / "explorer"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    page.resume_run(run.path)
    assert ended(qtbot, page, trainers)[0] == "finished"
    assert not marker.exists()


def test_a_link_planted_in_a_run_folder_is_refused_and_never_written_through(qtbot, page, trainers, runs_dir,
                                                                             tmp_path):
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
    assert not trainers.controller.live_runs() and outside.read_text() == "not the app's\n"
    page.new_run()
    with qtbot.waitSignal(page.status_message) as said:
        assert not page.open_run(run.path)
    assert said.args[0].startswith(f"{run.stderr_path} is a link")


def test_resume_of_a_run_whose_checkpoints_are_gone_is_refused_in_a_sentence(qtbot, page, trainers, runs_dir):
    run = write_run(runs_dir, depths=(8,), iterations=20, every=2, state="cancelled")  # recorded, never saved
    before = run.metrics_path.read_bytes()
    assert page.open_run(run.path)
    with qtbot.waitSignal(page.status_message) as said:
        page.action("resume").trigger()
    assert "recorded training up to iteration 20, but its checkpoints are gone" in said.args[0]
    assert not trainers.controller.live_runs() and run.metrics_path.read_bytes() == before


def test_resnets_from_scratch_and_from_a_weights_file_train_side_by_side(qtbot, page, trainers, runs_dir, tmp_path):
    """Fine-tuning as a person sets it up: Start from "both" makes the comparison the ResNets alone (a plain twin
    has no weights), a weights file that is not there is refused before any folder is made, and the run trains
    each ResNet from scratch (left) and from the file (right) on the same batches, in ImageNet's preprocessing."""
    import torch
    import torchvision
    from PySide6.QtWidgets import QComboBox

    from explorer.config.model import ModelConfig
    from explorer.config.run import IMAGENET_MEAN
    from seen import pick

    weights = tmp_path / "resnet18-mine.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)  # torchvision's own format
    page.set_template(ModelConfig(family="imagenet", depth=18, input_size=32))
    fill_tiny_form(page.form, "both", 6, "18", images=64, batch=8)
    pick(page.form, "start-from", "both")
    assert "a plain twin has no pretrained weights" in shown_text(page.form, "formBanner")
    assert page.form.findChild(QComboBox, "compare").currentData() == "residual"
    missing = tmp_path / "not-there.pth"
    field(page.form, "weights").setText(str(missing))
    page.action("start").trigger()
    qtbot.waitUntil(lambda: "does not exist" in shown_text(page.form, "formProblem"), timeout=10_000)
    assert str(missing) in shown_text(page.form, "formProblem") and list(runs_dir.iterdir()) == []

    field(page.form, "weights").setText(str(weights))
    pick(page.form, "fine-tune", "lower-body")
    start(qtbot, page, trainers)
    assert ended(qtbot, page, trainers) == ["finished", ""]
    [run_path] = list(runs_dir.iterdir())
    config = RunDir(run_path).config()
    assert (config.train.start_from, config.train.weights, config.train.fine_tune) == ("both", str(weights),
                                                                                       "lower-body")
    assert config.data.mean == IMAGENET_MEAN and run_path.name.endswith("scratch-vs-pretrained-resnet-18")
    curves = page.view.curves
    assert network_labels(curves) == ["ResNet-18", "ResNet-18 (pretrained)"]
    assert curve(curves, "ResNet-18") in curves.plain_plot.listDataItems()
    assert curve(curves, "ResNet-18 (pretrained)") in curves.residual_plot.listDataItems()
    assert curves.plain_plot.titleLabel.text == "ResNets from scratch"
    assert curves.residual_plot.titleLabel.text == "ResNets from pretrained weights"
    assert len(points(curves, "ResNet-18 (pretrained)", "test")[0]) >= 1
