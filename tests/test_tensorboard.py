"""TensorBoard beside us: a run's event files, read back with TensorBoard's own reader (EventAccumulator), hold
what its ``metrics.jsonl`` holds - finished, live, and resumed after a kill that left points past the last
checkpoint in both - with the hparams in the same run folder, and a TensorBoard that cannot write is one warning
line, never a failed run. The real trainer, as the CLI and the app start it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from explorer.config.run import network_key
from explorer.runs.checkpoints import latest_iteration
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from explorer.training.tensorboard_log import FILE_PREFIX, records
from tests.faults.harness import TINY, cli, env, only_run, start, wait_until

pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install 'resnet-explorer[tensorboard]'")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402
from tensorboard.plugins.hparams import metadata  # noqa: E402

ARGS = [*TINY, "--log-every", "5", "--eval-every", "10", "--seeds", "2"]
SCALARS = {"train": (("error", "train error %", 100.0), ("loss", "train loss", 1.0), ("lr", "lr", 1.0),
                     ("images_per_sec", "images per second", 1.0)),
           "eval": (("test_error", "test error %", 100.0), ("test_loss", "test loss", 1.0))}


def expected(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every point the run's metrics.jsonl says (the resume rule applied), as TensorBoard's tags."""
    events, _ = RunDir(run).read_events()
    found: dict[str, list[tuple[int, float]]] = {}
    for event in effective_events(events):
        for field, tag, scale in SCALARS.get(event["type"], ()):
            if event.get(field) is not None:
                key = network_key(event["model"], event.get("seed"))
                found.setdefault(f"{tag}/{key}", []).append((event["iteration"], event[field] * scale))
    return found


def read_back(run: Path) -> tuple[dict[str, list[tuple[int, float]]], EventAccumulator]:
    accumulator = EventAccumulator(str(run), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(s.step, s.value) for s in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}, accumulator


def assert_equal_points(seen: dict, wanted: dict) -> None:
    assert set(seen) == set(wanted)
    for tag, points in wanted.items():
        assert [step for step, _ in seen[tag]] == [step for step, _ in points], tag  # each step once, in order
        assert [value for _, value in seen[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag


def test_a_finished_run_reads_back_equal_to_its_metrics_with_hparams_beside(tmp_path):
    done = cli(tmp_path, "train", *ARGS, "--iterations", "30", "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "runs")
    seen, accumulator = read_back(run)
    wanted = expected(run)
    assert {"train error %/resnet-8-seed3", "train error %/resnet-8-seed4", "test loss/plain-8-seed4"} <= set(wanted)
    assert_equal_points(seen, wanted)
    assert "TensorBoard" not in done.stderr
    # hparams in the run's own folder (TensorBoard's run), not a sub-run: no event file below it
    assert [p.parent for p in run.rglob(f"{FILE_PREFIX}*")] == [run]
    content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
    start_info = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start_info.hparams.items()}
    assert hparams["model.depth"] == 20 and hparams["train.depths"] == "8" and hparams["train.seeds"] == 2
    assert hparams["data.dataset"] == "synthetic" and hparams["run.device"] == "cpu"
    assert metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG]).status == 1  # success


def test_a_live_run_shows_what_it_logged_so_far(tmp_path):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--iterations", "4000", "--runs-dir", str(runs))
    try:
        run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
        wait_until(lambda: sum(e["type"] == "eval" for e in RunDir(run).read_events()[0]) >= 4, proc)
        seen, _ = read_back(run)  # while the trainer writes on
        assert proc.poll() is None
        logged = expected(run)  # read after: it can only have more
        assert set(seen) == set(logged)
        assert_equal_points(seen, {tag: points[:len(seen[tag])] for tag, points in logged.items()})
        assert all(seen.values())
    finally:
        proc.kill()
        proc.communicate()


def test_a_resume_after_a_kill_leaves_no_point_twice(tmp_path):
    """Killed after points past its last checkpoint reached both files; the resumed run's TensorBoard has each
    step once, equal to what metrics.jsonl says after the resume rule, and the killed trainer's file no longer
    holds the superseded points (a TensorBoard started now never sees them)."""
    runs = tmp_path / "runs"
    args = [*ARGS, "--iterations", "80", "--checkpoint-every", "40"]
    proc = start(tmp_path, "train", *args, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: (latest_iteration(run / "checkpoints") or 0) >= 40, proc)
    wait_until(lambda: max(s for points in read_back(run)[0].values() for s, _ in points) >= 55, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = latest_iteration(run / "checkpoints")
    (first_file,) = run.glob(f"{FILE_PREFIX}*")
    assert max(s for points in read_back(run)[0].values() for s, _ in points) > killed_at  # orphans, as in jsonl

    done = cli(tmp_path, "train", "--resume", str(run), env={**env(tmp_path), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    seen, _ = read_back(run)
    assert_equal_points(seen, expected(run))
    assert len(list(run.glob(f"{FILE_PREFIX}*"))) == 2
    data = first_file.read_bytes()
    steps = [event_pb2.Event.FromString(data[a + 12:b - 4]).step for a, b in records(data)]
    assert max(steps) <= killed_at and sum(len(data[a:b]) for a, b in records(data)) == len(data)


def test_a_tensorboard_that_cannot_write_is_a_warning_not_a_failed_run(tmp_path):
    """A broken TensorBoard installation (it fails on import, as with a protobuf it does not support): the run
    trains to its end, its metrics whole, and stderr says so in one line."""
    broken = tmp_path / "broken" / "tensorboard" / "compat"
    broken.mkdir(parents=True)
    (broken.parent / "__init__.py").write_text("")
    (broken / "__init__.py").write_text("raise ImportError('this protobuf is not supported')\n")
    child_env = {**env(tmp_path), "PYTHONPATH": os.pathsep.join([str(broken.parent.parent),
                                                                 os.environ.get("PYTHONPATH", "")])}
    done = cli(tmp_path, "train", *ARGS, "--iterations", "10", "--runs-dir", str(tmp_path / "runs"), env=child_env)
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "runs")
    assert RunDir(run).status().state == "finished" and expected(run)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("TensorBoard:")]
    assert warnings == [f"TensorBoard: cannot write event files into {run} (ImportError: this protobuf is not "
                        "supported); the run goes on without them"]
    assert not list(run.glob(f"{FILE_PREFIX}*"))
