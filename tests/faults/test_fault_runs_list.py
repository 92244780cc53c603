"""The runs list never fails as a whole: broken run folders of every kind each show as a row saying what is
wrong, every other run lists normally, in `runs` and `runs --json`; `runs | head -1` exits quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.runs.folder import RunDir
from tests.faults.harness import cli, env

GOOD = RunConfig(data=DataConfig(dataset="synthetic"), train=TrainConfig(depths=(20,), iterations=100), name="good")


def _good_run(runs):
    run = RunDir.create(runs, GOOD)
    run.append_event({"type": "start", "models": ["plain-20", "resnet-20"], "device": "cpu", "precision": "fp32"})
    run.append_event({"type": "eval", "model": "resnet-20", "iteration": 50, "test_error": 0.25})
    run.write_status("finished", "", 100, 1)
    run.close()
    return run


def _broken(runs) -> dict[str, str]:
    """Run folders broken in each way a disk, an editor or a killed program leaves them; name -> what the row
    must say."""
    def folder(name):
        path = runs / name
        path.mkdir(parents=True)
        return path

    cases = {}
    path = folder("no-config")
    (path / "metrics.jsonl").write_text('{"type": "start"}\n')
    cases[path.name] = "has no config.json"
    folder("corrupt-config").joinpath("config.json").write_text("{not json")
    cases["corrupt-config"] = "is not a usable run config: config is not valid JSON"
    bad = GOOD.to_dict()
    bad["model"]["depth"] = 21
    folder("invalid-config").joinpath("config.json").write_text(json.dumps(bad))
    cases["invalid-config"] = "depth 21 is not 6n+2"
    bad = GOOD.to_dict()
    bad["train"]["iterations"] = "many"
    folder("wrong-type-config").joinpath("config.json").write_text(json.dumps(bad))
    cases["wrong-type-config"] = "iterations 'many' must be a whole number"
    for name, value in (("status-abc", '"abc"'), ("status-huge", "1e999"), ("status-list", "[1]")):
        run = RunDir.create(runs, GOOD.replace(name=name))
        (run.path / "status.json").write_text('{"state": "finished", "message": "", "iteration": %s}' % value)
        cases[run.path.name] = "status.json is invalid (iteration"
    deep = "[" * 100_000 + "]" * 100_000
    folder("deep-config").joinpath("config.json").write_text(deep)
    cases["deep-config"] = "it nests too deep"
    run = RunDir.create(runs, GOOD.replace(name="deep-status"))
    (run.path / "status.json").write_text(deep)
    cases[run.path.name] = "status.json is not valid JSON"
    weird = GOOD.to_dict()
    weird["model"].update(stages=[1, 1, 1], block="weird", depth=None)
    folder("unknown-block").joinpath("config.json").write_text(json.dumps(weird))
    cases["unknown-block"] = "block 'weird' is not allowed"
    run = RunDir.create(runs, GOOD.replace(name="huge-pid"))
    (run.path / "status.json").write_text(json.dumps({"state": "running", "message": "", "iteration": 3,
                                                      "pid": 10**30}))
    cases[run.path.name] = "the trainer stopped without finishing"
    for name in ("fifo-status", "fifo-metrics", "fifo-config"):
        run = RunDir.create(runs, GOOD.replace(name=name))
        target = {"fifo-status": "status.json", "fifo-metrics": "metrics.jsonl", "fifo-config": "config.json"}[name]
        (run.path / target).unlink(missing_ok=True)
        os.mkfifo(run.path / target)  # a reader that opened it would wait forever
        cases[run.path.name] = {"fifo-status": "cannot read status.json", "fifo-metrics": "",
                                "fifo-config": "cannot read"}[name]
    target = RunDir.create(runs / ".." / "elsewhere", GOOD.replace(name="linked"))
    (runs / "a-link").symlink_to(target.path)
    cases["a-link"] = "is a link to a run folder"
    run = RunDir.create(runs, GOOD.replace(name="wrong-lines"))
    run.metrics_path.write_text("\n".join(json.dumps(e) for e in (
        {"type": "eval", "model": "resnet-20", "iteration": "x", "test_error": 0.1},
        {"type": "eval", "model": ["resnet-20"], "iteration": 5, "test_error": 0.1},
        {"type": "eval", "model": "resnet-20", "iteration": 5, "test_error": "low"},
        {"type": "eval", "model": "resnet-20", "iteration": 6, "test_error": 0.5})) + "\n")
    run.write_status("finished", "", 100, 1)
    cases[run.path.name] = ""  # lists normally, from its one good line
    return cases


def test_every_broken_folder_is_a_row_and_the_good_run_lists_normally(tmp_path):
    runs = tmp_path / "runs"
    good = _good_run(runs)
    cases = _broken(runs)
    (runs / "just-a-folder").mkdir()  # not a run: not listed
    (runs / "notes.txt").write_text("hello")

    listed = cli(tmp_path, "runs", "--json", "--runs-dir", str(runs), timeout=60)  # a FIFO read would hang
    assert listed.returncode == 0, listed.stderr
    rows = {os.path.basename(r["path"]): r for r in json.loads(listed.stdout)}
    assert set(rows) == {good.path.name, *cases}
    assert rows[good.path.name]["best_test_error"] == {"resnet-20": 0.25}
    assert rows[good.path.name]["state"] == "finished"
    for name, said in cases.items():
        row = rows[name]
        if said:
            assert said in row["message"], row
            assert row["state"] in ("unreadable", "failed"), row
        elif name.endswith("wrong-lines"):
            assert row["best_test_error"] == {"resnet-20": 0.5}  # the good line counted, the wrong ones not

    text = cli(tmp_path, "runs", "--runs-dir", str(runs))
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert all(name in text.stdout for name in rows)


def test_an_unreadable_run_folder_is_a_row(tmp_path):
    runs = tmp_path / "runs"
    _good_run(runs)
    locked = RunDir.create(runs, GOOD.replace(name="locked"))
    locked.path.chmod(0)
    try:
        if os.geteuid() == 0:
            pytest.skip("root reads any folder")
        listed = cli(tmp_path, "runs", "--json", "--runs-dir", str(runs), timeout=60)  # a FIFO read would hang
    finally:
        locked.path.chmod(0o755)
    rows = {os.path.basename(r["path"]): r for r in json.loads(listed.stdout)}
    assert rows[locked.path.name]["state"] == "unreadable"
    assert "permission denied" in rows[locked.path.name]["message"]


def test_runs_piped_into_head_exits_quietly(tmp_path):
    runs = tmp_path / "runs"
    for i in range(700):  # far more than a pipe holds: the writer meets the closed pipe
        (runs / f"20260101-0000{i:04d}-run").mkdir(parents=True)
        (runs / f"20260101-0000{i:04d}-run" / "config.json").write_text(GOOD.to_json())
    done = subprocess.run(f"{sys.executable} -m explorer runs --runs-dir {runs} | head -1", shell=True,
                          capture_output=True, text=True, env=env(tmp_path), timeout=120)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert done.stderr == ""  # no BrokenPipeError, no "Exception ignored"
