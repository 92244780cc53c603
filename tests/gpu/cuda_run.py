"""What the tests of tests/gpu share: a short synthetic run on CUDA, its trainer, and its losses."""

from __future__ import annotations

import io

import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.synthetic import make_synthetic
from explorer.config.model import ModelConfig
from explorer.runs.folder import RunDir
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.trainer import Trainer

CUDA = torch.device("cuda")


def config(tmp_path=None, **train) -> RunConfig:
    options = {"compare": "both", "depths": (8,), "iterations": 20, "batch_size": 64, "log_every": 5,
               "eval_every": 10, "checkpoint_every": 10, "device": "cuda", "seed": 1, **train}
    return RunConfig(model=ModelConfig(), data=DataConfig(dataset="synthetic", synthetic_size=1000),
                     train=TrainConfig(**options))


def trainer(tmp_path, cfg: RunConfig, name: str = "run", devices=None) -> tuple[Trainer, RunDir]:
    run = RunDir.create(tmp_path / name, cfg)
    reporter = Reporter(run, cfg.train.iterations, io.StringIO())
    dataset = make_synthetic(1000, 200, cfg.train.seed)
    first = devices[0] if devices else CUDA
    t = Trainer(cfg, dataset, device=first, precision=resolve_precision(cfg.train.precision, first),
                reporter=reporter, devices=devices)
    reporter.start(models=[m.name for m in t.members], device="cuda", precision=t.precision.name, milestones=(),
                   batch_size=cfg.train.batch_size, dataset="synthetic", resumed_from=0)
    return t, run


def losses(run: RunDir) -> list[float]:
    events, _ = run.read_events()
    return [e["loss"] for e in events if e["type"] == "train"]


def assert_losses_close(a: RunDir, b: RunDir, relative: float) -> None:
    ours, theirs = losses(a), losses(b)
    assert len(ours) == len(theirs) > 0
    for x, y in zip(ours, theirs):
        assert abs(x - y) <= relative * max(1.0, abs(x)), (ours, theirs)
