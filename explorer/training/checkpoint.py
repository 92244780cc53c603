"""Saving and restoring the trainer's state as one checkpoint set (:mod:`explorer.runs.checkpoints` for the layout).

Each file goes through the one atomic writer, so a full disk raises OSError (not torch's bare RuntimeError)
and leaves no partial file; the set is switched to only when all its files are written. Loading takes
``weights_only=True``: a checkpoint is data, never code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from explorer.runs import checkpoints
from explorer.runs.checkpoints import CheckpointError
from explorer.system.files import atomic_writer


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
    """One model's saved state from the set of ``iteration`` (the current set when None), on the CPU. A file
    that is missing or cannot be read as a checkpoint is one sentence naming it and why."""
    sets = checkpoints.complete_sets(folder)
    current = checkpoints.latest_set(folder) if iteration is None else sets.get(iteration)
    if current is None:
        kept = ", ".join(map(str, sets)) or "none"
        raise CheckpointError(f"no checkpoint at iteration {iteration} in {folder}; kept: {kept}")
    path = current / f"{name}.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{current} has no checkpoint of {name}") from None
    except Exception as exc:  # a truncated, foreign or malicious file: never run, one sentence
        raise CheckpointError(f"the checkpoint {path} is damaged or not one of ours ({type(exc).__name__}); "
                              "delete the run's checkpoints or train it again") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"the checkpoint {path} holds no network weights; delete the run's checkpoints or "
                              "train it again")
    return state


def restore_network(folder: Path, key: str, config, iteration: int, device: torch.device) -> torch.nn.Module:
    """Network ``key`` of a run as it was at ``iteration``, in eval mode on ``device``; a file whose weights do
    not fit the network is one sentence naming it."""
    from explorer.models import build_model

    state = load_model_state(folder, key, iteration)
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise CheckpointError(f"the checkpoint of {key} at iteration {iteration:,} in {folder} does not fit the "
                              f"network ({first}); delete the run's checkpoints or train it again") from None
    return model.to(device).eval()
