"""`resnet-explorer train` and `runs` as a person (or the GUI) runs them: the real child process, read back
through its run directory. Tiny nets (depth 8) on the synthetic set, one thread, fp32 where exactness counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.runs.listing import list_runs
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from tests.cifar_fixture import write_cifar_dir

SMALL = ["--dataset", "synthetic", "--depths", "8", "--batch-size", "16", "--log-every", "5"]
# Long enough that a signal sent after the first checkpoints lands well before the end, even on a fast machine.

def env(tmp_path: Path) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "RESNET_EXPLORER_RUNS": str(tmp_path / "default-runs"),
            "RESNET_EXPLORER_DATA": str(tmp_path / "default-data")}


def train(tmp_path, *args, runs="runs", timeout=240) -> subprocess.CompletedProcess:
    extra = ["--runs-dir", str(tmp_path / runs)] if runs and "--resume" not in args else []
    return subprocess.run([sys.executable, "-m", "explorer", "train", *args, *extra], env=env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def start(tmp_path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "explorer", "train", *args, "--runs-dir", str(tmp_path / "runs")],
                            env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def only_run(tmp_path, runs="runs") -> RunDir:
    (path,) = (tmp_path / runs).iterdir()
    return RunDir.open(path)


def metrics(run: RunDir) -> list[tuple]:
    """What must match between runs: train and eval values, without times and speeds."""
    events, _ = run.read_events()
    return [(e["type"], e["model"], e["iteration"], e.get("loss"), e.get("error"), e.get("lr"), e.get("test_loss"),
             e.get("test_error")) for e in effective_events(events) if e["type"] in ("train", "eval")]


def test_train_writes_a_run_and_runs_lists_it(tmp_path):
    done = train(tmp_path, *SMALL, "--iterations", "30", "--eval-every", "15", "--name", "tiny")
    assert done.returncode == 0, done.stderr
    for said in ("starting…", "loading data (synthetic)…", "iteration 30/30", "finished at iteration 30/30"):
        assert said in done.stderr
    run = only_run(tmp_path)
    assert run.path.name.endswith("-tiny")
    assert run.status().state == "finished" and run.status().iteration == 30
    events, _ = run.read_events()
    start_event = events[0]
    assert start_event["type"] == "start" and start_event["models"] == ["plain-8", "resnet-8"]
    assert (start_event["iterations"], start_event["batch_size"], start_event["dataset"]) == (30, 16, "synthetic")
    assert (start_event["fused"], start_event["graphs"]) == (False, False)  # the CPU's way: one network after another
    assert f"building plain-8, resnet-8 on cpu ({start_event['precision']})…" in done.stderr
    train_events = [e for e in events if e["type"] == "train"]
    assert [e["iteration"] for e in train_events] == [5, 5, 10, 10, 15, 15, 20, 20, 25, 25, 30, 30]
    assert all(0 <= e["error"] <= 1 and e["images_per_sec"] > 0 for e in train_events)
    # Without --milestones the lr drops at 50% and 75% of the run, as the paper's 32k and 48k of 64k.
    assert [(e["iteration"], e["lr"]) for e in train_events if e["model"] == "resnet-8"] == [
        (5, 0.1), (10, 0.1), (15, 0.1), (20, pytest.approx(0.01)), (25, pytest.approx(0.001)), (30, pytest.approx(0.001))]
    assert [(e["model"], e["iteration"]) for e in events if e["type"] == "eval"] == [
        ("plain-8", 15), ("resnet-8", 15), ("plain-8", 30), ("resnet-8", 30)]
    assert events[-1]["type"] == "end" and events[-1]["status"] == "finished"
    # The latest set, and the kept ones: the start, each lr drop (15 and 22) and the end.
    assert (run.path / "checkpoints" / "LATEST").read_text() == "iter-00000030\n"
    assert sorted(p.name for p in (run.path / "checkpoints").iterdir()) == [
        "LATEST", "iter-00000000", "iter-00000015", "iter-00000022", "iter-00000030"]
    assert sorted(p.name for p in (run.path / "checkpoints" / "iter-00000030").iterdir()) == [
        "plain-8.pt", "resnet-8.pt", "trainer.pt"]

    listed = subprocess.run([sys.executable, "-m", "explorer", "runs", "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, env=env(tmp_path))
    assert listed.returncode == 0
    assert run.path.name in listed.stdout and "finished" in listed.stdout and "30/30" in listed.stdout
    as_json = subprocess.run([sys.executable, "-m", "explorer", "runs", "--json", "--runs-dir",
                              str(tmp_path / "runs")], capture_output=True, text=True, env=env(tmp_path))
    (info,) = json.loads(as_json.stdout)
    assert info["models"] == ["plain-8", "resnet-8"] and set(info["best_test_error"]) == {"plain-8", "resnet-8"}


def test_resume_starts_a_run_the_gui_created(tmp_path):
    config = RunConfig(name="from-gui", data=DataConfig(dataset="synthetic"),
                       train=TrainConfig(depths=(8,), compare="plain", iterations=10, batch_size=16, log_every=5))
    run = RunDir.create(tmp_path / "runs", config)
    done = train(tmp_path, "--resume", str(run.path))
    assert done.returncode == 0, done.stderr
    events, _ = run.read_events()
    assert [e["type"] for e in events if e["type"] in ("start", "resume")] == ["start"]
    assert run.status().state == "finished"
    assert [i.name for i in list_runs(tmp_path / "runs")] == ["from-gui"]
    changed = train(tmp_path, "--resume", str(run.path), "--lr", "0.5")
    assert changed.returncode == 2
    assert "--resume uses the settings in the run's config.json; leave out --lr" in changed.stderr


def test_nan_marks_models_diverged_and_fails_the_run(tmp_path):
    done = train(tmp_path, *SMALL, "--iterations", "40", "--lr", "1e3")
    assert done.returncode == 1
    run = only_run(tmp_path)
    events, _ = run.read_events()
    assert {e["model"] for e in events if e["type"] == "diverged"} == {"plain-8", "resnet-8"}
    status = run.status()
    assert status.state == "failed"
    assert status.message.startswith("every model diverged (the loss became NaN, infinite or above 10000) by")
    assert status.message.endswith("try a lower learning rate than 1000")
    assert events[-1] == {**events[-1], "type": "end", "status": "failed", "message": status.message}
    assert "Traceback" not in done.stderr


def test_missing_dataset_offline_fails_before_any_run_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = train(tmp_path, "--dataset", "cifar10", "--data-dir", str(empty), "--iterations", "5")
    assert done.returncode == 1
    (line,) = [l for l in done.stderr.splitlines() if l.startswith("resnet-explorer train:")]
    assert line.startswith(f"resnet-explorer train: could not download CIFAR-10 to {empty}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # a failed try leaves no failed run behind


def test_corrupt_batch_file(tmp_path):
    data = tmp_path / "cifar"
    write_cifar_dir(data, n_per_batch=20, manifest=True)
    batch = data / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-100])
    done = train(tmp_path, "--dataset", "cifar10", "--data-dir", str(data), "--iterations", "5",
                 "--batch-size", "8", "--depths", "8")
    assert done.returncode == 1
    assert str(batch) in done.stderr and "delete it and download again" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


def test_a_cifar_folder_in_the_real_format_trains(tmp_path):
    data = tmp_path / "cifar"
    write_cifar_dir(data, n_per_batch=20, manifest=True)
    done = train(tmp_path, "--dataset", "cifar10", "--data-dir", str(data), "--iterations", "4", "--batch-size",
                 "8", "--depths", "8", "--log-every", "2")
    assert done.returncode == 0, done.stderr
    events, _ = only_run(tmp_path).read_events()
    assert events[0]["dataset"] == "cifar10" and events[-1]["status"] == "finished"


def _unwritable_folder(tmp_path: Path) -> tuple[Path, list[str]]:
    """A folder nobody may write to: chmod works for a normal user; root ignores permissions, so as root a
    read-only tmpfs is mounted. Returns the folder and the command that undoes the mount."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return folder, []
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=True)
    return folder, ["umount", str(folder)]


@pytest.mark.parametrize("where", ["file", "below-a-file", "read-only"])
def test_unusable_runs_dir_fails_before_training(tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    undo: list[str] = []
    if where == "file":
        runs = blocker
    elif where == "below-a-file":
        runs = blocker / "runs"
    else:
        folder, undo = _unwritable_folder(tmp_path)
        runs = folder / "runs"
    try:
        done = train(tmp_path, *SMALL, "--iterations", "5", "--runs-dir", str(runs), runs=None)
    finally:
        if undo:
            subprocess.run(undo, check=True)
    assert done.returncode == 2
    (line,) = [l for l in done.stderr.splitlines() if "error" in l or "cannot" in l]
    assert line.startswith(f"resnet-explorer train: cannot write runs to {runs if where != 'below-a-file' else blocker}")
    assert line.endswith("choose another runs folder")
    if where == "read-only":
        assert "read-only file system" in line or "permission denied" in line
    assert "loading data" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args, said", [
    (["--depth", "21"], "depth 21 is not 6n+2 for cifar basic blocks"),
    (["--iterations", "0"], "iterations 0 must be a whole number of at least 1"),
    (["--milestones", "5,x"], "milestones '5,x' must be whole numbers separated by commas"),
    (["--lr", "-1"], "lr -1.0 must be greater than 0"),
    (["--lr", "1e9"], "lr 1000000000.0 is too large; it must be at most 1000"),
    (["--batch-size", "99999999"], "batch-size 99,999,999 is too large; use at most 65,536"),
    (["--depths", ",,,"], "depths ',,,' names no number"),
    (["--depths", "20,21"], "--depths 21 is not 6n+2 for cifar basic blocks"),
    (["--seed", str(2**64)], "seed 18,446,744,073,709,551,616 is too large; use at most 4,294,967,295"),
    (["--iterations", "500", "--milestones", "100,600"], "milestones 600 is beyond the 500 iterations of the run"),
    (["--recipe", "quick", "--depths", "8", "--batch-size", "0"], "batch-size 0 must be a whole number of at least 1"),
    (["--precision", "fp8"], "argument --precision: invalid choice"),
    (["--momentum", "1"], "momentum 1.0 is too large; it must be below 1"),
    (["--device", "mps"], "device mps is not available on this machine; choose device auto or cpu"),
    (["--resume", "/nonexistent/run"], "/nonexistent/run is not a run folder"),
])
def test_bad_options_exit_2_in_one_sentence(tmp_path, args, said):
    done = train(tmp_path, *args)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_settings_that_do_not_fit_the_data_exit_2_before_any_run_folder(tmp_path):
    done = train(tmp_path, *SMALL, "--iterations", "5", "--train-subset", "8")
    assert done.returncode == 2
    assert ("resnet-explorer train: --batch-size 16 is larger than the 8 training images; use a batch size of at most 8"
            in done.stderr)
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()
