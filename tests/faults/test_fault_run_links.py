"""A run folder may come from someone else (a shared drive, an archive of runs): nothing of ours reads or writes
through a link planted in it. Resuming or analysing such a folder is one sentence naming the link, and what the
link points to - a file or a folder outside - is left exactly as it was: nothing appended, written or deleted.
Every file we write beside a destination goes through the one atomic writer, whose temporary name no one can
plant a link at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from explorer.runs.checkpoints import latest_set
from tests.faults.harness import cli, one_line


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (not following links) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def plant(run: Path, entry: str, outside: Path) -> Path:
    """Move ``entry`` of the run outside and leave a link to it in its place: the link leads to the run's own
    data, so a reader that follows it would go on as if nothing were wrong (an entry the run lacks, such as
    stderr.log, becomes a file outside that the link points to)."""
    where = run / entry
    target = outside / entry.replace("/", "-")
    outside.mkdir(exist_ok=True)
    if where.exists():
        shutil.move(where, target)
    else:
        target.write_text("someone else's file\n")
    os.symlink(target, where)
    return where


@pytest.mark.parametrize("entry", ["metrics.jsonl", "config.json", "status.json", "trainer.lock", "stderr.log",
                                   "checkpoints", "checkpoints/LATEST", "the current set", "a model file"])
def test_resume_of_a_run_with_a_planted_link_is_one_sentence_and_leaves_the_outside_alone(run_copy, tmp_path, entry):
    current = latest_set(run_copy / "checkpoints").relative_to(run_copy)
    entry = {"the current set": str(current), "a model file": f"{current}/resnet-8.pt"}.get(entry, entry)
    outside = tmp_path / "outside"
    link = plant(run_copy, entry, outside)
    before = snapshot(outside)

    done = cli(tmp_path, "train", "--resume", str(run_copy))

    assert done.returncode == 2, done.stderr
    assert f"{link} is a link (to {outside}" in one_line(done.stderr)
    assert snapshot(outside) == before  # nothing appended, written or deleted through the link
    assert link.is_symlink()


def test_analyze_never_writes_through_a_planted_analysis_folder(run_copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("someone else's folder\n")
    os.symlink(outside, run_copy / "analysis")

    done = cli(tmp_path, "analyze", str(run_copy), "--what", "responses", "--subset", "10")

    assert done.returncode == 2, done.stderr
    assert f"{run_copy / 'analysis'} is a link (to {outside})" in one_line(done.stderr)
    assert snapshot(outside) == {"keep.txt": b"someone else's folder\n"}


def test_export_model_never_writes_through_a_link_at_a_temporary_name(tmp_path):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("not to be overwritten\n")
    os.symlink(precious, out / ".model.onnx.partial")  # the name the exporter once wrote to, planted in advance

    done = cli(tmp_path, "export-model", "--depth", "8", "-o", str(out / "model.onnx"))

    assert done.returncode == 0, done.stderr
    assert precious.read_text() == "not to be overwritten\n"
    assert (out / "model.onnx").is_file() and not (out / "model.onnx").is_symlink()
    assert len(onnx.load(str(out / "model.onnx")).graph.node) > 10  # the network itself, whole
    assert sorted(p.name for p in out.iterdir()) == [".model.onnx.partial", "model.onnx"]  # no temporary left


def test_writing_a_checkpoint_set_never_follows_a_link_in_the_checkpoints_folder(tmp_path):
    """The trainer's own set writer, met by links: an old set and the name of the set being written planted as
    links to a folder outside, and a checkpoints folder that is itself a link."""
    from explorer.runs import checkpoints

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "trainer.pt").write_bytes(b"someone else's")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for old in ("iter-00000008", "iter-00000016"):
        os.symlink(outside, folder / old)
    partial = checkpoints.partial_folder(folder, 16, os.getpid())
    (partial / "trainer.pt").write_bytes(b"ours")

    checkpoints.commit(folder, partial, 16, keep=())

    assert snapshot(outside) == {"trainer.pt": b"someone else's"}
    written = folder / "iter-00000016"
    assert not written.is_symlink() and (written / "trainer.pt").read_bytes() == b"ours"
    assert (folder / "iter-00000008").is_symlink()  # not a set of ours: neither used nor followed to delete
    assert checkpoints.complete_sets(folder) == {16: folder / "iter-00000016"}

    linked = tmp_path / "linked-checkpoints"
    os.symlink(outside, linked)
    with pytest.raises(OSError):
        checkpoints.partial_folder(linked, 24, os.getpid())
    assert snapshot(outside) == {"trainer.pt": b"someone else's"}
