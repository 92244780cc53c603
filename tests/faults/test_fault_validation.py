"""Validate before any side effect, and out of memory in one sentence: values far out of range answer at once
with exit 2 and the option's name, leaving no run folder; what clearly cannot fit is refused before training;
an allocation that fails while training ends the run with what to reduce."""

from __future__ import annotations

import resource

import pytest

from tests.faults.harness import TINY, cli, one_line, only_run

# A hang or a run-away allocation would meet these timeouts; a sentence takes well under a second.
QUICK = 30


@pytest.mark.parametrize("args, said", [
    (["summary", "--input-size", "100000"], "input-size 100,000 is too large; use at most 1,024"),
    (["summary", "--num-classes", "1000000000000"], "num-classes 1,000,000,000,000 is too large; use at most 100,000"),
    (["summary", "--depth", "999999998"], "depth 999,999,998 is too large; use at most 2,000"),
    (["summary", "--family", "imagenet", "--depth", "19"], "depth 19 is not an ImageNet ResNet"),
    (["train", "--depths", "21"], "--depths 21 is not 6n+2"),
    (["train", "--depths", ",,,"], "depths ',,,' names no number"),
    (["train", "--depths", ",".join(str(d) for d in range(8, 600, 6))], "--depths give 198 networks in one run"),
    (["train", "--seeds", "101"], "--seeds 101 is too large"),
    (["train", "--seed", "99999999999999999999"], "seed 99,999,999,999,999,999,999 is too large"),
    (["train", "--iterations", "1000", "--milestones", "500,2000"], "milestones 2,000 is beyond the 1,000 iterations"),
    (["train", "--iterations", "99999999999"], "iterations 99,999,999,999 is too large"),
    (["train", "--train-subset", "0"], "train-subset 0 must be a whole number of at least 1"),
    (["train", "--synthetic-size", "10000000"], "synthetic-size 10,000,000 is too large"),
    (["train", "--eval-every", "-3"], "eval-every -3 must be a whole number of at least 1"),
    (["train", "--warmup-until-error", "2"], "warmup-until-error 2.0 is too large"),
    (["train", "--weight-decay", "nan"], "weight-decay nan must be a finite number"),
    (["train", "--gamma", "inf"], "gamma inf must be a finite number"),
])
def test_values_out_of_range_exit_2_at_once_naming_the_option(tmp_path, args, said):
    done = cli(tmp_path, *args, "--dataset", "synthetic", timeout=QUICK) if args[0] == "train" else \
        cli(tmp_path, *args, timeout=QUICK)
    assert done.returncode == 2
    assert said in one_line(done.stderr)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, said", [
    (["analyze", "RUN", "--what", "landscape", "--two-d", "--points", "201"],
     "--points 201 on a plane (--two-d) is 40,401 evaluations of every network; use at most 51 (2,601)"),
    (["analyze", "RUN", "--what", "landscape", "--points", "202"], "--points 202 is too large; use at most 201"),
    (["analyze", "RUN", "--what", "lesion", "--seed", str(10**30)],
     f"--seed {10**30:,} is too large; use at most 4,294,967,295"),
    (["train", "--resume", ""], "--resume '' names no folder; give the folder's path"),
    (["train", "--run-dir", " "], "--run-dir ' ' names no folder; give the folder's path"),
    (["train", "--runs-dir", ""], "--runs-dir '' names no folder; give the folder's path"),
    (["train", "--resume", "RUN", "--depth", "56", "--no-augment"],
     "--resume uses the settings in the run's config.json; leave out --depth, --no-augment"),
    (["train", "--plain", "--compare", "residual"],
     "--plain trains plain networks only, but --compare residual asks for residual ones; leave out one of the two"),
    (["train", "--num-classes", "5"],
     "--num-classes 5 does not match the 10 classes of the synthetic data (--dataset synthetic); leave it out"),
    (["train", "--devices", "cuda:0", "--device", "cpu"],
     "--devices cuda:0 and --device cpu name different devices; leave out one of the two"),
    (["train", "--family", "imagenet", "--depths", "34,50"],
     "--depths 34 take basic blocks; 50 take bottleneck blocks; the networks of one run share one block type"),
    (["export-model", "--run", "RUN", "--depth", "56", "-o", "x.onnx"],
     "--run exports the network as the run trained it, which the model options cannot change; leave out --depth"),
    (["runs", "--runs-dir", ""], "--runs-dir '' names no folder; give the folder's path"),
])
def test_empty_or_conflicting_options_exit_2_at_once_naming_each(tmp_path, args, said):
    args = [str(tmp_path) if a == "RUN" else a for a in args]  # no run is needed to refuse these
    done = cli(tmp_path, *args, "--dataset", "synthetic", timeout=QUICK) if args[0] == "train" and \
        "--resume" not in args else cli(tmp_path, *args, timeout=QUICK)
    assert done.returncode == 2
    assert said in one_line(done.stderr)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "analysis").exists()


def test_a_runs_folder_that_is_a_file_is_said_so(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder\n")
    done = cli(tmp_path, "runs", "--runs-dir", str(file), timeout=QUICK)
    assert done.returncode == 2
    assert f"the runs folder {file} is a file, not a folder; choose the folder your runs are in" in \
        one_line(done.stderr)


def test_a_block_not_chosen_follows_the_depths_as_it_follows_the_depth():
    from explorer.cli.main import build_parser
    from explorer.cli.options import run_config_from_args

    args = build_parser().parse_args(["train", "--family", "imagenet", "--depths", "50,101", "--dataset",
                                      "synthetic"])
    assert [(m.depth, m.block) for m in run_config_from_args(args).model_configs()] == \
        [(50, "bottleneck"), (101, "bottleneck")] * 2


def test_a_run_that_clearly_cannot_fit_is_refused_before_its_folder_exists(tmp_path):
    done = cli(tmp_path, "train", "--dataset", "synthetic", "--depths", "1202", "--batch-size", "65536",
               "--iterations", "10", timeout=120)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "this run needs about" in line and "at batch size 65536, but the CPU has" in line
    assert line.endswith("choose a smaller batch size, a smaller depth or fewer networks per run")
    assert not (tmp_path / "runs").exists()


def _at_most_1_5_gib():
    limit = 3 * 2**29
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def test_running_out_of_memory_while_training_ends_in_a_sentence(tmp_path):
    """The estimate said it fits (the machine has the memory); a per-process limit the estimate does not see
    makes the first batch's allocation fail, as a busier machine would."""
    done = cli(tmp_path, "train", *TINY[:4], "--synthetic-size", "2100", "--depths", "56", "--compare",
               "residual", "--batch-size", "2048", "--iterations", "3", "--precision", "fp32",
               preexec_fn=_at_most_1_5_gib, timeout=240)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    final = [l for l in done.stderr.splitlines() if l.startswith("failed at iteration")]
    assert len(final) == 1
    assert ("the CPU ran out of memory at batch size 2048; choose a smaller batch size or a smaller depth, then "
            "resume") in final[0]
    run = only_run(tmp_path / "runs")
    assert '"state": "failed"' in (run / "status.json").read_text()
