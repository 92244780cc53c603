"""What every analysis starts from: a network of a run restored from one of its checkpoint sets, and a fixed
subset of images normalised as the trainer normalised them (no augmentation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer.checkpoints import complete_sets, latest_iteration
from explorer.data.batches import pixel_stats
from explorer.data.loading import load_dataset
from explorer.model_config import ModelConfig
from explorer.models import build_model
from explorer.runs import RunDir
from explorer.training.checkpoint import CheckpointError, load_model_state

SUBSET_SEED = 20180101  # the images an analysis looks at do not depend on the run's seed


@dataclass
class Network:
    key: str  # as in the checkpoints: "resnet-56", or "resnet-56-seed3"
    config: ModelConfig
    model: torch.nn.Module


def checkpoint_iteration(run: RunDir, iteration: int | None) -> int:
    """The kept checkpoint to analyse: ``iteration``, or the latest; a sentence when there is none."""
    sets = complete_sets(run.checkpoint_dir)
    if iteration is None:
        latest = latest_iteration(run.checkpoint_dir)
        if latest is None:
            raise CheckpointError(f"{run.path.name} has no checkpoint yet; train it a little first")
        return latest
    if iteration not in sets:
        kept = ", ".join(f"{i:,}" for i in sets) or "none"
        raise CheckpointError(f"{run.path.name} keeps no checkpoint at iteration {iteration:,}; kept: {kept}")
    return iteration


def networks(run: RunDir, iteration: int, device: torch.device) -> list[Network]:
    """Every network of the run (for every seed) as it was at ``iteration``, in eval mode on ``device``."""
    config = run.config()
    found = []
    for key, model_config, _seed in config.networks():
        try:
            state = load_model_state(run.checkpoint_dir, key, iteration)
        except CheckpointError:
            continue  # a network this set does not hold (a hand-trimmed run): the others are analysed
        model = build_model(model_config)
        model.load_state_dict(state["model"])
        found.append(Network(key, model_config, model.to(device).eval()))
    if not found:
        raise CheckpointError(f"the checkpoint at iteration {iteration:,} of {run.path.name} holds none of its "
                              "networks")
    return found


def images(run: RunDir, which: str, count: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images of the run's ``which`` set ("train" or "test"), a fixed choice, normalised with the
    training set's per-pixel statistics as the trainer did."""
    config = run.config()
    dataset = load_dataset(config.data, seed=config.train.seed)
    pool_x = dataset.train_images if which == "train" else dataset.test_images
    pool_y = dataset.train_labels if which == "train" else dataset.test_labels
    chosen = torch.randperm(len(pool_y), generator=torch.Generator().manual_seed(SUBSET_SEED))[:count]
    mean, std = pixel_stats(dataset.train_images)
    x = (pool_x[chosen].float() - mean) / std
    return x.to(device), pool_y[chosen].to(device)


@torch.no_grad()
def error_and_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> tuple[float, float]:
    wrong, loss = 0, 0.0
    for start in range(0, len(y), batch):
        logits = model(x[start:start + batch]).float()
        wrong += int((logits.argmax(1) != y[start:start + batch]).sum())
        loss += float(torch.nn.functional.cross_entropy(logits, y[start:start + batch], reduction="sum"))
    return wrong / len(y), loss / len(y)
