"""The time a run will take, before it starts (explorer.training.speed): the work counted from the layer tables'
MACs and the run's own cadence, the rate measured from earlier runs with the same settings (their wall-clock time,
evaluations included) or modelled before there is one."""

from __future__ import annotations

import os

import pytest

from explorer.config.model import ModelConfig
from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.runs.folder import RunDir
from explorer.training.speed import (
    CPU_MACS_PER_CORE, GPU_MACS, STARTUP_S, TRAIN_FACTOR, estimate_time, measured_rate, modelled_rate, work,
)

MACS = {20: 40_000_000, 56: 120_000_000}


def macs(model: ModelConfig) -> int:
    return MACS[model.depth]


def config(iterations=400, precision="fp32", depths=(20, 56), seeds=1) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="synthetic", synthetic_size=1000), name="timed",
                     train=TrainConfig(depths=depths, iterations=iterations, batch_size=16, precision=precision,
                                       seeds=seeds))


def test_the_work_is_three_forward_passes_a_training_image_and_one_a_test_image():
    c = config(iterations=400)
    per_image = 2 * (40e6 + 120e6)  # plain and residual of each depth
    evaluations = 400 // c.train.eval_every
    assert work(c, (0, 400), macs) == pytest.approx(400 * 16 * TRAIN_FACTOR * per_image + evaluations * 200 * per_image)
    assert work(config(seeds=3), (0, 400), macs) == pytest.approx(3 * work(c, (0, 400), macs))


def write_timed_run(runs_dir, c: RunConfig, seconds_per_iteration: float) -> RunDir:
    run = RunDir.create(runs_dir, c)
    run.append_event({"type": "start", "models": [m.name for m in c.model_configs()], "device": "cpu",
                      "precision": c.train.precision, "iterations": c.train.iterations, "milestones": [],
                      "batch_size": 16, "dataset": "synthetic", "time": 0.0})
    for it in range(10, c.train.iterations + 1, 10):
        for model in c.model_configs():
            run.append_event({"type": "train", "model": model.name, "iteration": it, "epoch": 0.0, "loss": 1.0,
                              "error": 0.5, "lr": 0.1, "images_per_sec": 1.0, "time": it * seconds_per_iteration})
    run.close()
    return run


def test_an_earlier_run_with_the_same_settings_gives_the_rate(tmp_path):
    c = config(iterations=400)
    write_timed_run(tmp_path, c, seconds_per_iteration=0.5)
    rate, runs = measured_rate(tmp_path, c, macs)
    assert runs == 1 and rate == pytest.approx(work(c, (10, 400), macs) / (390 * 0.5))
    # the same run again takes what the first one took, plus starting; a run twice as long, twice as long
    assert estimate_time(c, tmp_path, macs).seconds == pytest.approx(STARTUP_S + work(c, (0, 400), macs) / rate)
    longer = config(iterations=800)
    assert estimate_time(longer, tmp_path, macs).seconds - STARTUP_S == pytest.approx(
        work(longer, (0, 800), macs) / rate)
    assert estimate_time(c, tmp_path, macs).measured_runs == 1


def test_other_settings_are_not_measured_by_that_run_and_are_modelled(tmp_path):
    write_timed_run(tmp_path, config(precision="fp32"), seconds_per_iteration=0.5)
    bf16 = config(precision="bf16")
    assert measured_rate(tmp_path, bf16, macs) is None
    guess = estimate_time(bf16, tmp_path, macs)
    cores = len(os.sched_getaffinity(0))
    assert guess.measured_runs == 0 and "modelled" in guess.source
    assert guess.seconds == pytest.approx(STARTUP_S + work(bf16, (0, 400), macs) / modelled_rate("cpu"))
    assert modelled_rate("cpu") == CPU_MACS_PER_CORE * cores and modelled_rate("cuda") == GPU_MACS
    assert estimate_time(bf16, tmp_path / "no-runs-yet", macs).measured_runs == 0


def test_an_eager_gpu_run_does_not_measure_a_graphed_one_but_on_the_cpu_graphs_never_differ(tmp_path):
    """Runs made before CUDA graphs were the GPU's default say ``cuda_graphs: false``: on a GPU that was the eager
    way, 8x slower (training/groups.py); on the CPU no run has graphs, whatever it says."""
    def setting(device: str, graphs: bool | None) -> RunConfig:
        c = config()
        return c.replace(train=c.train.replace(device=device, cuda_graphs=graphs))

    write_timed_run(tmp_path / "gpu", setting("cuda", False), seconds_per_iteration=0.5)
    assert measured_rate(tmp_path / "gpu", setting("cuda", None), macs) is None
    assert measured_rate(tmp_path / "gpu", setting("cuda", False), macs)[1] == 1
    write_timed_run(tmp_path / "cpu", setting("cpu", False), seconds_per_iteration=0.5)
    assert measured_rate(tmp_path / "cpu", setting("cpu", None), macs)[1] == 1
