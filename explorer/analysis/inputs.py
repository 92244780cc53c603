"""What every analysis starts from: a network of a run restored from one of its checkpoint sets, and a fixed
subset of images normalised as the trainer normalised them (no augmentation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer.runs import checkpoints
from explorer.runs.checkpoints import CheckpointError
from explorer.data.batches import normalisation, resized
from explorer.data.loading import load_dataset
from explorer.config.model import ModelConfig
from explorer.runs.folder import RunDir
from explorer.training.checkpoint import restore_network

SUBSET_SEED = 20180101  # the images an analysis looks at do not depend on the run's seed


@dataclass
class Network:
    key: str  # as in the checkpoints: "resnet-56", or "resnet-56-seed3"
    config: ModelConfig
    model: torch.nn.Module


def network_keys(run: RunDir) -> list[str]:
    """The keys of every network the run trains, as its checkpoints name them."""
    return [key for key, _model, _seed in run.config().networks()]


def networks(run: RunDir, iteration: int, device: torch.device, keys: list[str] | None = None) -> list[Network]:
    """Every network of the run (for every seed; only ``keys`` when given) as it was at ``iteration``, in eval
    mode on ``device``. A trainer writes every network of the run into every set, so a file that is missing,
    damaged or not one of ours is never left out in silence: it raises CheckpointError naming the file."""
    config = run.config()
    if iteration not in checkpoints.complete_sets(run.checkpoint_dir):
        raise CheckpointError(f"{run.path.name} keeps no checkpoint at iteration {iteration:,}")
    return [Network(key, model_config, restore_network(run.checkpoint_dir, key, model_config, iteration, device))
            for key, model_config, _seed in config.networks() if keys is None or key in keys]


def images(run: RunDir, which: str, count: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images of the run's ``which`` set ("train" or "test"), a fixed choice, normalised with the
    training set's per-pixel statistics as the trainer did."""
    config = run.config()
    dataset = load_dataset(config.data, seed=config.train.seed)
    pool_x = dataset.train_images if which == "train" else dataset.test_images
    pool_y = dataset.train_labels if which == "train" else dataset.test_labels
    chosen = torch.randperm(len(pool_y), generator=torch.Generator().manual_seed(SUBSET_SEED))[:count]
    mean, std = normalisation(config.data, dataset.train_images)
    x = resized((pool_x[chosen].float() - mean) / std, config.data.resize)
    return x.to(device), pool_y[chosen].to(device)


@torch.no_grad()
def error_and_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> tuple[float, float]:
    wrong, loss = 0, 0.0
    for start in range(0, len(y), batch):
        logits = model(x[start:start + batch]).float()
        wrong += int((logits.argmax(1) != y[start:start + batch]).sum())
        loss += float(torch.nn.functional.cross_entropy(logits, y[start:start + batch], reduction="sum"))
    return wrong / len(y), loss / len(y)


def input_description(run: RunDir) -> dict[str, str]:
    """What a trained network of ``run`` expects and answers, for whoever runs it outside this app (the ONNX
    file's metadata): its class names in output order, and how its input was prepared - the mean and std, in
    pixel units (0-255), the trainer normalised with (the training set's per pixel, or the pretrained weights' per
    channel), and the size it was resized to, if any."""
    import json

    config = run.config()
    dataset = load_dataset(config.data, seed=config.train.seed)
    mean, std = normalisation(config.data, dataset.train_images)
    resize = f", then resized to {config.data.resize}x{config.data.resize}" if config.data.resize else ""
    return {
        "class_names": json.dumps(list(dataset.classes)),
        "input": f"images: float32 [batch, 3, H, W] = (RGB pixels 0-255 - input_mean) / input_std, per pixel{resize}",
        "input_mean": json.dumps([[[round(v, 3) for v in row] for row in plane] for plane in mean.tolist()]),
        "input_std": json.dumps([[[round(v, 3) for v in row] for row in plane] for plane in std.tolist()]),
        "dataset": config.data.dataset,
    }
