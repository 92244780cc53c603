"""Saving and restoring the trainer's state as one checkpoint set (:mod:`explorer.checkpoints` for the layout).

Each file goes through the one atomic writer, so a full disk raises OSError (not torch's bare RuntimeError)
and leaves no partial file; the set is switched to only when all its files are written. Loading takes
``weights_only=True``: a checkpoint is data, never code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from explorer import checkpoints
from explorer.files import atomic_writer


class CheckpointError(Exception):
    """Checkpoints that cannot be used to resume; the message is one sentence for a person."""


def _save(obj: object, path: Path) -> None:
    with atomic_writer(path) as f:
        torch.save(obj, f)


def save_set(folder: Path, iteration: int, models: dict[str, dict], trainer: dict, keep: tuple[int, ...]) -> Path:
    """Write one file per model and ``trainer.pt`` as the set of ``iteration``, and make it current."""
    partial = checkpoints.partial_folder(folder, iteration, os.getpid())
    try:
        for name, state in models.items():
            _save(state, partial / f"{name}.pt")
        _save(trainer, partial / checkpoints.TRAINER_FILE)
        return checkpoints.commit(folder, partial, iteration, keep)
    except BaseException:
        checkpoints.discard(partial)
        raise


def load_set(folder: Path, names: list[str], device: torch.device) -> tuple[dict[str, Any], dict[str, dict]] | None:
    """The current set's trainer state and each model's state, or None when the run has no checkpoint."""
    current = checkpoints.latest_set(folder)
    if current is None:
        return None
    try:
        trainer = torch.load(current / checkpoints.TRAINER_FILE, map_location=device, weights_only=True)
        per_model = {name: torch.load(current / f"{name}.pt", map_location=device, weights_only=True)
                     for name in names}
    except Exception as exc:  # a truncated or foreign file: any unpickling error means the same to a person
        raise CheckpointError(f"cannot resume from the checkpoints in {current}: {exc}; start a new run") from None
    iteration = trainer.get("iteration") if isinstance(trainer, dict) else None
    for name, saved in per_model.items():
        if not isinstance(saved, dict) or saved.get("iteration") != iteration:
            raise CheckpointError(f"checkpoint of {name} in {current} is not from iteration {iteration}, the "
                                  "trainer's; start a new run")
    return trainer, per_model


def load_model_state(folder: Path, name: str, iteration: int | None = None) -> dict:
    """One model's saved state from the set of ``iteration`` (the current set when None), on the CPU."""
    sets = checkpoints.complete_sets(folder)
    current = checkpoints.latest_set(folder) if iteration is None else sets.get(iteration)
    if current is None:
        kept = ", ".join(map(str, sets)) or "none"
        raise CheckpointError(f"no checkpoint at iteration {iteration} in {folder}; kept: {kept}")
    path = current / f"{name}.pt"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{current} has no checkpoint of {name}") from None
    except Exception as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from None
