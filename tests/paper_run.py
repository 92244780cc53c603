"""The run the paper-effect tests train once per module: plain and residual nets side by side on identical batches
of the synthetic set, through the trainer the app runs, with the paper's recipe (SGD, momentum 0.9, weight decay
1e-4, no lr drop this early) at what a 2-core CPU affords: batches of 32, the paper's lr of 0.1 for 128 scaled
linearly to 0.025 (Goyal et al. 2017)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.loading import load_dataset
from explorer.config.model import ModelConfig
from explorer.runs.folder import RunDir
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.trainer import Trainer

CPU = torch.device("cpu")
BATCH = 32
LR = 0.1 * BATCH / 128  # the paper's 0.1 at 128, scaled linearly
SEED = 0


def train_paper_run(folder: Path, networks: tuple[str, ...], iterations: int, lr: float = LR) -> RunDir:
    """Train ``networks`` (e.g. "plain-20", "resnet-56") for ``iterations`` steps; returns the finished run."""
    depths = tuple(sorted({int(name.rsplit("-", 1)[1]) for name in networks}))
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))  # the suite's share of the cores: 2 alone, 1 beside an xdist worker
    try:
        config = RunConfig(
            model=ModelConfig(), data=DataConfig(dataset="synthetic", synthetic_size=4000),
            train=TrainConfig(compare="both", depths=depths, iterations=iterations, batch_size=BATCH, lr=lr,
                              milestones=(), log_every=10, eval_every=iterations, checkpoint_every=iterations,
                              seed=SEED),
        )
        assert (config.train.momentum, config.train.weight_decay) == (0.9, 1e-4)
        run = RunDir.create(folder, config)
        precision = resolve_precision("auto", CPU)  # bf16 where the CPU has it: the app's default, 2x faster
        trainer = Trainer(config, load_dataset(config.data, seed=SEED), device=CPU, precision=precision,
                          reporter=Reporter(run, iterations, io.StringIO()))
        trainer.members = [m for m in trainer.members if m.name in networks]  # only those the claims need
        assert trainer.train(run) == ("finished", "")
        return run
    finally:
        torch.set_num_threads(threads)
