"""The run controller and the draft are the Training tab's model without Qt: importing them loads no Qt, and they
work on real run folders and real processes (a lock holder stands in for a trainer: no torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explorer.config.errors import ConfigError
from explorer.config.model import ModelConfig
from explorer.gui.run_control import RunController
from explorer.gui.training.draft import Draft
from run_writer import STOPPED, hold, write_run


def test_the_controller_and_the_draft_import_no_qt():
    code = ("import sys, explorer.gui.run_control, explorer.gui.training.draft\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', "
            "'shiboken6'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_live_run_is_adopted_once_stopped_once_and_its_end_reported_once(live_run):
    run, holder = live_run
    controller = RunController()
    assert controller.live_runs() == [] and controller.poll() == []
    trainer = controller.adopt(run.path)
    assert trainer is not None and trainer.adopted and trainer.pid == holder.pid
    assert controller.adopt(run.path) is trainer  # adopting again: the same trainer, not a second one
    assert controller.live_runs() == [run.path]
    assert controller.stop(run.path) and not controller.stop(run.path)  # a second request would cut its step
    assert holder.wait(10) == STOPPED
    changes = []
    for _ in range(100):
        changes += controller.poll()
        if changes:
            break
        holder.wait(0.05)
    [change] = changes
    assert change.ended and change.path == run.path and change.state == "cancelled"  # stopped before a word
    assert controller.poll() == [] and controller.live_runs() == []


def test_stop_adopts_a_run_another_window_started(live_run):
    """The Runs tab's Stop: a run this window never opened is stopped through its lock."""
    run, holder = live_run
    controller = RunController()
    assert controller.stop(run.path)
    assert holder.wait(10) == STOPPED


def test_nothing_to_adopt_in_a_finished_run(runs_dir):
    run = write_run(runs_dir, state="finished")
    controller = RunController()
    assert controller.adopt(run.path) is None and not controller.stop(run.path)


def test_shutdown_keeps_or_stops_every_trainer(runs_dir):
    runs = [write_run(runs_dir, state="running", name=f"live{i}") for i in range(2)]
    holders = [hold(run) for run in runs]
    try:
        controller = RunController()
        for run in runs:
            controller.adopt(run.path)
        controller.shutdown(keep_running=True)
        assert all(h.poll() is None for h in holders) and controller.live_runs() == []
        for run in runs:
            controller.adopt(run.path)
        ended = controller.shutdown(keep_running=False)
        assert sorted(change.path for change in ended) == sorted(run.path for run in runs)
        assert [h.wait(10) for h in holders] == [STOPPED] * 2
    finally:
        for h in holders:
            if h.poll() is None:
                h.kill()
            h.wait()


# --- the draft -------------------------------------------------------------------------------------------------
def test_each_dataset_keeps_its_own_folder_and_the_draft_survives_json():
    draft = Draft()
    draft["dataset"] = "folder"
    draft["data-dir"] = "/home/me/pictures"
    draft["dataset"] = "cifar100"
    assert draft["data-dir"] == ""  # never the folder of pictures
    draft["data-dir"] = "/data/cifar"
    draft["dataset"] = "folder"
    assert draft["data-dir"] == "/home/me/pictures"
    again = Draft.from_json(draft.to_json())
    assert again == draft and again.run_config(ModelConfig()).data.data_dir == "/home/me/pictures"


def test_a_draft_saved_by_an_older_version_keeps_its_folder_for_its_own_dataset_only():
    old = ('{"dataset": "folder", "data_dir": "/pics", "batch_size": "32", "depths": [20], "other_depths": "8",'
           ' "iterations": "100", "recipe": "custom"}')
    draft = Draft.from_json(old)
    assert (draft["batch-size"], draft["depths"], draft["data-dir"]) == ("32", "20, 8", "/pics")
    draft["dataset"] = "cifar10"
    assert draft["data-dir"] == ""
    assert Draft.from_json("not json") == Draft() and Draft.from_json("[1]") == Draft()


def test_the_draft_names_the_option_a_problem_is_about():
    draft = Draft()
    draft["batch-size"] = "100000"
    draft["seeds"] = "100"
    with pytest.raises(ConfigError) as caught:
        draft.run_config(ModelConfig())
    assert caught.value.option == "batch-size"
    assert set(draft.field_problems()) == {"batch-size"}
    draft["batch-size"] = "64"
    with pytest.raises(ConfigError) as caught:  # 2 depths × plain and residual × 100 seeds: too many networks
        draft.run_config(ModelConfig())
    assert "seeds" in caught.value.options


def test_depths_that_do_not_fit_a_new_family_give_way_to_its_own_comparison():
    draft = Draft()
    note = draft.refit(ModelConfig(family="imagenet", depth=34))
    assert draft["depths"] == "18, 34" and note == "Depths 20, 56 do not fit these networks; ticked 18, 34 instead."
    assert draft.refit(ModelConfig()) == ("Depths 18, 34 do not fit these networks; ticked 20, 56 instead.")
    assert draft["depths"] == "20, 56"  # the family's own comparison (Figure 6), not its first two presets
