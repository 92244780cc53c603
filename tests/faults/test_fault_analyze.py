"""Analyses and exports of a run's networks: a checkpoint file that is missing, damaged or malicious is named in
one sentence (exit 1), never left out in silence; an ``analysis`` folder that cannot take the result - a file in
its way, a read-only or a full disk - is one sentence too, never "internal error (OSError …)", and a read-only
one is refused before the work; what an analysis killed mid-write left is removed by the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from explorer.runs.checkpoints import latest_set
from tests.faults.harness import cli, env, one_line
from tests.faults.test_fault_full_disk import needs_namespaces
from tests.faults.test_fault_resume import Malicious

RESPONSES = ["--what", "responses", "--subset", "10"]


@pytest.mark.parametrize("damage", ["malicious", "missing"])
def test_a_network_whose_file_cannot_be_used_is_named_by_analyze_and_export(run_copy, tmp_path, damage):
    path = latest_set(run_copy / "checkpoints") / "resnet-8.pt"
    marker = tmp_path / "ran"
    if damage == "malicious":
        torch.save({"model": Malicious(marker)}, path)
        said = f"the checkpoint {path} is damaged or not one of ours (it holds code or objects a checkpoint never has)"
    else:
        path.unlink()
        said = f"the checkpoint set {path.parent} has no resnet-8.pt"

    analysed = cli(tmp_path, "analyze", str(run_copy), *RESPONSES)
    exported = cli(tmp_path, "export-model", "--run", str(run_copy), "--network", "resnet-8", "-o",
                   str(tmp_path / "resnet-8.onnx"))

    for done in (analysed, exported):
        assert done.returncode == 1, done.stderr
        assert said in one_line(done.stderr)
    assert not marker.exists()
    assert not list((run_copy / "analysis").glob("*.json"))  # no result that leaves a network out
    assert not (tmp_path / "resnet-8.onnx").exists()


def test_an_analysis_folder_in_the_way_is_one_sentence(run_copy, tmp_path):
    (run_copy / "analysis").write_text("a file where the analyses go\n")
    done = cli(tmp_path, "analyze", str(run_copy), *RESPONSES)
    assert done.returncode == 1, done.stderr
    assert (f"cannot write the analysis into {run_copy / 'analysis'}: a file is in the way where a folder should "
            "be; fix the folder, then run it again") in one_line(done.stderr)


@needs_namespaces
@pytest.mark.parametrize("disk, said", [
    ("ro", "read-only file system; fix the folder"),
    ("size=4k", "the disk is full; free some space"),
])
def test_an_analysis_folder_on_a_read_only_or_full_disk_is_one_sentence(run_copy, tmp_path, disk, said):
    folder = run_copy / "analysis"
    folder.mkdir()
    script = (f"mount -t tmpfs -o {disk} tmpfs {folder} && (dd if=/dev/zero of={folder}/filler bs=1k 2>/dev/null;"
              f" true) && exec {sys.executable} -m explorer analyze {run_copy} {' '.join(RESPONSES)}")
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=env(tmp_path),
                          capture_output=True, text=True, timeout=240, cwd=Path(__file__).parents[2])
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert f"cannot write the analysis into {folder}: {said}, then run it again" in line


def test_what_an_analysis_killed_mid_write_left_is_removed_by_the_next(run_copy, tmp_path):
    folder = run_copy / "analysis"
    folder.mkdir()
    script = textwrap.dedent(f"""
        import os, signal
        from explorer.system.files import atomic_writer
        writer = atomic_writer({str(folder / "responses-iter-00000016.json")!r})
        writer.__enter__().write(b'{{"what": ')
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], env=env(tmp_path), timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert len(list(folder.glob(".*.tmp"))) == 1

    done = cli(tmp_path, "analyze", str(run_copy), *RESPONSES)

    assert done.returncode == 0, done.stderr
    (result,) = os.listdir(folder)
    assert json.loads((folder / result).read_text())["what"] == "responses"
