"""The run directory as its readers see it: atomic files, events from an offset, status of a dead trainer,
the runs list, and the one-sentence errors for a folder that cannot be written."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from explorer.config.run import RunConfig, TrainConfig
from explorer.runs.listing import list_runs
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir, RunDirError, default_runs_dir
from explorer.runs.state import RunState, RunStatus


def make_run(tmp_path, name="demo", **train):
    return RunDir.create(tmp_path, RunConfig(name=name, train=TrainConfig(**train)))


def test_create_writes_config_and_names_the_folder(tmp_path):
    run = make_run(tmp_path, name="my run/1", iterations=30, depths=(20, 56))
    assert run.path.parent == tmp_path
    assert run.path.name.endswith("-my-run-1")
    assert run.config() == RunConfig(name="my run/1", train=TrainConfig(iterations=30, depths=(20, 56)))
    assert RunDir.open(run.path).config().train.iterations == 30
    assert [p.name for p in run.path.iterdir()] == ["config.json"]  # no temporary file left
    assert run.status().state == "created"  # no trainer has started it yet


def test_names_collide_get_a_suffix(tmp_path):
    paths = {make_run(tmp_path).path for _ in range(3)}
    assert len(paths) == 3
    assert any(p.name.endswith("-demo-2") for p in paths) and any(p.name.endswith("-demo-3") for p in paths)


def test_open_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(RunDirError, match="not a run folder"):
        RunDir.open(tmp_path)


def test_runs_dir_that_is_a_file(tmp_path):
    target = tmp_path / "runs"
    target.write_text("")
    with pytest.raises(RunDirError, match=r"is a file, not a folder; choose another runs folder"):
        make_run(target)
    with pytest.raises(RunDirError, match="cannot write runs to"):
        make_run(target / "below")


def test_disk_full_is_one_sentence(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunDirError) as info:
        make_run(tmp_path / "runs")
    assert str(info.value) == f"cannot write runs to {tmp_path / 'runs'}: the disk is full; choose another runs folder"
    assert list((tmp_path / "runs").iterdir()) == []  # nothing half-made left behind


def test_default_runs_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EXPLORER_RUNS", str(tmp_path / "r"))
    assert default_runs_dir() == tmp_path / "r"
    monkeypatch.delenv("RESNET_EXPLORER_RUNS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_runs_dir() == tmp_path / "xdg" / "resnet-explorer" / "runs"


def test_events_from_an_offset_leave_a_partial_line(tmp_path):
    run = make_run(tmp_path)
    run.append_event({"type": "start", "time": 1.0})
    run.append_event({"type": "train", "model": "m", "iteration": 1, "loss": float("nan"), "error": float("inf")})
    events, offset = run.read_events()
    assert events == [{"type": "start", "time": 1.0},
                      {"type": "train", "model": "m", "iteration": 1, "loss": None, "error": None}]
    with open(run.metrics_path, "a") as f:
        f.write('this is not json\n{"type": "eval", "model": "m", "iter')
    more, offset2 = run.read_events(offset)
    assert more == [] and offset2 > offset  # the corrupt whole line is consumed, the partial one is not
    with open(run.metrics_path, "a") as f:
        f.write('ation": 2}\n')
    more, offset3 = run.read_events(offset2)
    assert more == [{"type": "eval", "model": "m", "iteration": 2}]
    assert offset3 == run.metrics_path.stat().st_size
    run.close()
    for line in run.metrics_path.read_text().splitlines()[:2]:
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def test_lines_of_the_wrong_shape_are_skipped(tmp_path):
    run = make_run(tmp_path)
    good = {"type": "eval", "model": "resnet-20", "iteration": 10, "test_error": 0.5}
    lines = [good, {**good, "iteration": "abc"}, {**good, "iteration": True}, {**good, "test_error": "x"},
             {**good, "model": 5}, {"type": "train", "iteration": 3}, [1, 2], "text", {"no": "type"},
             {"type": "resume", "iteration": -1}]
    run.metrics_path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"type": "eval", "iteration": 1e999}\n')
    events, _ = run.read_events()
    assert events == [good]


def test_status_of_a_trainer_that_died(tmp_path):
    run = make_run(tmp_path)
    assert run.status().state == "created"  # nothing written yet
    run.write_status("running", iteration=5, pid=os.getpid())
    assert run.status() == RunStatus(RunState.RUNNING, "", 5, os.getpid(), busy=True, problem="", died=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.write_status("running", iteration=7, pid=dead.pid)
    status = run.status()
    assert status.state == "failed" and status.iteration == 7
    assert status.message == (f"the trainer stopped without finishing (pid {dead.pid}); "
                                 "resume to continue from the last checkpoint")
    run.write_status("finished", iteration=9, pid=dead.pid)
    assert run.status().state == "finished"
    with pytest.raises(ValueError):
        run.write_status("exploded")


def test_effective_events_drop_what_came_after_the_last_checkpoint():
    events = [
        {"type": "start"},
        {"type": "train", "iteration": 10}, {"type": "train", "iteration": 20}, {"type": "eval", "iteration": 20},
        {"type": "train", "iteration": 30},
        {"type": "start"}, {"type": "resume", "iteration": 20},
        {"type": "train", "iteration": 30, "loss": 1.0},
    ]
    assert effective_events(events) == [
        {"type": "start"},
        {"type": "train", "iteration": 10}, {"type": "train", "iteration": 20}, {"type": "eval", "iteration": 20},
        {"type": "start"}, {"type": "resume", "iteration": 20},
        {"type": "train", "iteration": 30, "loss": 1.0},
    ]


def test_list_runs_newest_first_with_best_errors(tmp_path):
    old = make_run(tmp_path, name="old", iterations=100, compare="residual")
    os.utime(old.path / "config.json", (1000, 1000))
    new = make_run(tmp_path, name="new", iterations=50)
    new.append_event({"type": "start", "device": "cpu", "precision": "bf16"})
    for it, err in ((10, 0.5), (20, 0.3), (30, 0.4)):
        new.append_event({"type": "eval", "model": "resnet-20", "iteration": it, "test_error": err})
    new.append_event({"type": "eval", "model": "plain-20", "iteration": 30, "test_error": None})
    new.write_status("finished", iteration=50, pid=1)
    new.close()
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["new", "old"]
    assert runs[0].models == ("plain-20", "resnet-20") and runs[1].models == ("resnet-20",)
    assert runs[0].best_test_error == {"resnet-20": 0.3}
    assert (runs[0].state, runs[0].iteration, runs[0].iterations) == ("finished", 50, 50)
    assert (runs[0].device, runs[0].precision) == ("cpu", "bf16")
    assert (runs[1].state, runs[1].device, runs[1].precision) == ("created", "auto", "auto")
    assert list_runs(tmp_path / "missing") == []
