"""The command line keeps the conventions people expect of a tool: ``--version``, a description for every
command, an unknown option named in the one sentence (before any complaint about what is missing), and the app's
CSV export from a shell (``resnet-explorer export RUN_DIR --csv FILE``). The real process, as a person runs it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time

import pytest

import explorer
from explorer.cli.main import build_parser
from explorer.config.run import RunConfig, TrainConfig
from explorer.runs.folder import RunDir
from explorer.runs.metrics_csv import CSV_COLUMNS, metric_rows


def cli(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESNET_EXPLORER_RUNS": str(tmp_path / "runs")}
    return subprocess.run([sys.executable, "-m", "explorer", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def test_version_is_the_package_version(tmp_path):
    done = cli(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"resnet-explorer {explorer.__version__}"


def test_every_command_has_a_summary_and_a_description():
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    helps = {c.dest: c.help for c in commands._choices_actions}
    assert set(commands.choices) >= {"summary", "train", "runs", "analyze", "data", "export-model", "export"}
    for name, command in commands.choices.items():
        assert helps.get(name), f"{name} has no one-line summary in resnet-explorer --help"
        assert command.description and len(command.description) > 40, f"{name} has no description"


@pytest.mark.parametrize("args, prog", [
    (["--bogus"], "resnet-explorer"),  # said "the following arguments are required: command"
    (["export-model", "--bogus"], "resnet-explorer export-model"),  # said "... required: -o/--output"
    (["export", "--bogus=3"], "resnet-explorer export"),  # said "... required: RUN_DIR, --csv"
    (["train", "--depth", "8", "--bogus", "1"], "resnet-explorer train"),
])
def test_an_unknown_option_is_named_in_the_one_sentence(tmp_path, args, prog):
    done = cli(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{prog}: error: unknown option --bogus; see {prog} --help for the options"]
    assert not (tmp_path / "runs").exists()


def test_known_options_prefixes_and_negative_values_still_parse(tmp_path):
    done = cli(tmp_path, "summary", "--dep", "56", "--json")  # a prefix of --depth, as argparse allows
    assert done.returncode == 0 and '"total_params": 853018' in done.stdout
    done = cli(tmp_path, "train", "--lr", "-1")  # a negative number is a value, refused by the config's rule
    assert done.returncode == 2 and "lr -1.0 must be greater than 0" in done.stderr and "unknown" not in done.stderr
    done = cli(tmp_path, "train", "--dep", "8")  # --depth or --depths? argparse's own sentence
    assert done.returncode == 2 and "ambiguous option: --dep could match --depth, --depths" in done.stderr


def _run_with_points(tmp_path, seeds: int = 1) -> RunDir:
    """A run folder as a trainer leaves it, written through the run folder's own writer, with a point after the
    last checkpoint that a resume superseded (the CSV must leave it out, as the curves do)."""
    run = RunDir.create(tmp_path / "runs", RunConfig(name="csv", train=TrainConfig(depths=(8,), seeds=seeds,
                                                                                   iterations=30)))
    now = time.time()

    def train(model, it, error, seed=None):
        event = {"type": "train", "model": model, "iteration": it, "epoch": it / 10, "loss": 2.0 - it / 100,
                 "error": error, "lr": 0.1, "images_per_sec": 500.0, "time": now}
        run.append_event(event if seed is None else {**event, "seed": seed})

    for seed in (range(seeds) if seeds > 1 else [None]):
        for it in (10, 20):
            for model, error in (("plain-8", 0.8 - it / 100), ("resnet-8", 0.7 - it / 100)):
                train(model, it, error, seed)
                run.append_event({"type": "eval", "model": model, "iteration": it, "test_loss": 1.5,
                                  "test_error": error + 0.05, "time": now, **({} if seed is None else {"seed": seed})})
    train("plain-8", 30, 0.99)  # written by a trainer killed before its checkpoint at 30
    run.append_event({"type": "resume", "iteration": 20, "time": now})
    run.close()
    return run


def test_export_writes_the_apps_csv_of_a_run(tmp_path):
    run = _run_with_points(tmp_path)
    out = tmp_path / "out" / "metrics.csv"
    out.parent.mkdir()
    done = cli(tmp_path, "export", str(run.path), "--csv", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 8 rows of {run.path.name} to {out}"
    with open(out, newline="") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == CSV_COLUMNS
    assert table[1:] == [[str(v) for v in row] for row in metric_rows(run)]  # the app's rows, to the character
    assert len(table) == 9 and not any(r[3] == "30" for r in table[1:])  # the superseded point is not there
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.csv"]  # no temporary file left


def test_export_of_several_seeds_has_their_mean_rows(tmp_path):
    run = _run_with_points(tmp_path, seeds=2)
    out = tmp_path / "seeds.csv"
    assert cli(tmp_path, "export", str(run.path), "--csv", str(out)).returncode == 0
    rows = list(csv.DictReader(open(out, newline="")))
    means = [r for r in rows if r["seed"] == "mean"]
    assert len(means) == 8 and {r["seeds"] for r in means} == {"2"}


def test_export_refusals_are_one_sentence_and_write_nothing(tmp_path):
    run = _run_with_points(tmp_path)
    not_a_run = cli(tmp_path, "export", str(tmp_path), "--csv", str(tmp_path / "x.csv"))
    assert not_a_run.returncode == 2
    assert not_a_run.stderr.strip() == (f"resnet-explorer export: {tmp_path} is not a run folder (it has no "
                                        "config.json); choose a folder made by resnet-explorer train")
    no_folder = cli(tmp_path, "export", str(run.path), "--csv", str(tmp_path / "nowhere" / "x.csv"))
    assert no_folder.returncode == 2 and "the folder" in no_folder.stderr and "does not exist" in no_folder.stderr
    a_folder = cli(tmp_path, "export", str(run.path), "--csv", str(tmp_path))
    assert a_folder.returncode == 2 and "is a folder; give a file name in it" in a_folder.stderr
    assert not list(tmp_path.glob("*.csv"))


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a folder nobody can create files in")
def test_export_into_a_folder_that_refuses_writing_fails_with_exit_1(tmp_path):
    """/proc takes no new file, not even root's: the write fails after the checks, an environment's failure."""
    run = _run_with_points(tmp_path)
    done = cli(tmp_path, "export", str(run.path), "--csv", "/proc/m.csv")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("resnet-explorer export: cannot write /proc/m.csv: ")
    assert done.stderr.strip().endswith("; choose another file") and len(done.stderr.strip().splitlines()) == 1
