"""A resume never loses what the run recorded and never silently starts over: with its checkpoints gone it is
refused in one sentence; whatever state ``metrics.jsonl`` is in (its newlines lost, a huge partial last
line) every recorded point stays readable and the resume marker is a line of its own; what killed writers left
(temporaries, a half-written set) is removed; and a checkpoint that is damaged, malicious or of the right kind
with the wrong content ends the run "failed" with one sentence naming the file - never torch's paragraph or an
"internal error (KeyError …)"."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from explorer.runs.checkpoints import latest_iteration, latest_set
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from tests.faults.harness import cli, env, leftovers, one_line

ITERATIONS = 40  # the killed run's (tests/faults/conftest.py)


def events_of(run: Path) -> list[dict]:
    return RunDir(run).read_events()[0]


def points(events: list[dict]) -> list[tuple]:
    """Every training and test point of the run as it continued (the resume rule applied)."""
    return [(e["type"], e["model"], e["iteration"], e.get("loss"), e.get("test_error"))
            for e in effective_events(events) if e["type"] in ("train", "eval")]


@pytest.mark.parametrize("gone", ["the checkpoints folder", "every checkpoint set"])
def test_a_resume_whose_checkpoints_are_gone_is_refused_and_changes_nothing(run_copy, tmp_path, gone):
    recorded = max(p[2] for p in points(events_of(run_copy)))
    if gone == "the checkpoints folder":
        shutil.rmtree(run_copy / "checkpoints")
    else:
        for entry in (run_copy / "checkpoints").iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    before = {name: (run_copy / name).read_bytes() for name in ("metrics.jsonl", "status.json")}

    done = cli(tmp_path, "train", "--resume", str(run_copy))

    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert f"recorded training up to iteration {recorded}, but its checkpoints are gone" in line
    assert line.endswith("train its settings again as a new run (its curves here stay as they are)")
    assert {name: (run_copy / name).read_bytes() for name in before} == before  # no "resume 0" over its curves


DAMAGE = {
    "its newlines turned into carriage returns": lambda data: data.replace(b"\n", b"\r"),
    "a 2 MB partial last line": lambda data: data + b'{"type": "train", "model": "resnet-8", "iteration": 39, "x": "'
                                + b"x" * 2_000_000,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_resume_keeps_every_recorded_point_and_a_readable_marker_whatever_the_metrics(run_copy, tmp_path, damage):
    metrics = run_copy / "metrics.jsonl"
    at = latest_iteration(run_copy / "checkpoints")
    recorded = [p for p in points(events_of(run_copy)) if p[2] <= at]  # what the resume continues from
    metrics.write_bytes(DAMAGE[damage](metrics.read_bytes()))

    done = cli(tmp_path, "train", "--resume", str(run_copy))

    assert done.returncode == 0, done.stderr
    events = events_of(run_copy)
    assert [e["iteration"] for e in events if e["type"] == "resume"] == [at]  # the marker, readable
    after = points(events)
    assert [p for p in after if p[2] <= at] == recorded  # not one recorded point lost
    keys = [p[:3] for p in after]
    assert len(keys) == len(set(keys))  # what the killed trainer logged after its last set is superseded
    assert [p[2] for p in after if p[:2] == ("train", "resnet-8")] == list(range(2, ITERATIONS + 1, 2))


def _killed_while_writing(run: Path, tmp_path: Path) -> None:
    """A real writer of the run, killed (SIGKILL) between writing its temporary files and renaming them: a new
    status.json, a new LATEST, and a checkpoint set half-written."""
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from explorer.runs import checkpoints
        from explorer.system.files import atomic_writer
        run = Path({str(run)!r})
        writers = [atomic_writer(run / "status.json"), atomic_writer(run / "checkpoints" / "LATEST")]
        status, latest = (writer.__enter__() for writer in writers)
        status.write(b"{{}}")
        status.flush()
        partial = checkpoints.partial_folder(run / "checkpoints", 999, os.getpid())
        (partial / "resnet-8.pt").write_bytes(b"half a file")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], env=env(tmp_path), timeout=60)
    assert done.returncode == -signal.SIGKILL


def test_what_killed_writers_left_is_removed_when_a_trainer_takes_the_run_up(run_copy, tmp_path):
    _killed_while_writing(run_copy, tmp_path)
    left = leftovers(run_copy)
    assert len(left) == 3, left
    live = run_copy / f".status.json.{os.getpid()}-0123abcd.tmp"  # a live process's: this test's
    live.write_bytes(b"{}")

    done = cli(tmp_path, "train", "--resume", str(run_copy))

    assert done.returncode == 0, done.stderr
    assert leftovers(run_copy) == [live.name]
    assert RunDir(run_copy).status().state == "finished"


class Malicious:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _rewrite(path: Path, change) -> None:
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


CHECKPOINTS = {
    "a malicious pickle": ("resnet-8.pt", None, "is damaged or not one of ours (it holds code or objects a "
                           "checkpoint never has)"),
    "garbage": ("trainer.pt", None, "is damaged or not one of ours (it is truncated or not a checkpoint)"),
    "a network without its optimizer": ("resnet-8.pt", lambda s: s.pop("optimizer"),
                                        "does not fit this run ('optimizer' is missing)"),
    "a trainer without its data stream": ("trainer.pt", lambda s: s.pop("streams"),
                                          "does not fit this run ('batches' is missing)"),
    "a float random-number state": ("trainer.pt", lambda s: s.update(torch_rng=s["torch_rng"].float()),
                                    "does not fit this run (RNG state must be a torch.ByteTensor)"),
    "weights of the wrong shape": ("plain-8.pt", lambda s: s["model"].update({"fc.weight": torch.zeros(3, 3)}),
                                   "does not fit this run (Error(s) in loading state_dict for ResNet:"),
}


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_checkpoint_that_cannot_be_used_ends_the_resume_in_a_sentence_naming_it(run_copy, tmp_path, case):
    name, change, said = CHECKPOINTS[case]
    path = latest_set(run_copy / "checkpoints") / name
    marker = tmp_path / "ran"
    if case == "a malicious pickle":
        torch.save({"model": Malicious(marker)}, path)
    elif case == "garbage":
        path.write_bytes(os.urandom(4096))
    else:
        _rewrite(path, change)

    done = cli(tmp_path, "train", "--resume", str(run_copy))

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr and "weights_only" not in done.stderr
    (final,) = [line for line in done.stderr.splitlines() if line.startswith("failed at iteration")]
    assert f"the checkpoint {path} {said}" in final
    status = RunDir(run_copy).status()
    assert status.state == "failed" and f"the checkpoint {path} {said}" in status.message
    assert not marker.exists()
