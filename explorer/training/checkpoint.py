"""Saving and restoring the trainer's state as one checkpoint set (:mod:`explorer.runs.checkpoints` for the layout).

Each file goes through the one atomic writer, so a full disk raises OSError (not torch's bare RuntimeError)
and leaves no partial file; the set is switched to only when all its files are written. Loading takes
``weights_only=True`` (a checkpoint is data, never code) and never reads through a link. Whatever is wrong with a
file - damaged, foreign, malicious, a link, or of the right kind with the wrong content (a state missing, a
tensor of another shape or type) - is one sentence naming it and why.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Any, Iterator

import torch

from explorer.runs import checkpoints
from explorer.runs.checkpoints import CheckpointError
from explorer.runs.folder import os_reason
from explorer.system.files import atomic_writer, open_regular

UNUSABLE = "it cannot be used: train the run's settings again as a new run"


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


def read_file(path: Path, device: torch.device | str) -> Any:
    """One checkpoint file as plain data on ``device``; CheckpointError naming the file otherwise."""
    try:
        with open_regular(path, links=False) as f:
            return torch.load(f, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"the checkpoint set {path.parent} has no {path.name}; {UNUSABLE}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {os_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - a truncated, foreign or malicious file: never run, one sentence
        code = isinstance(exc, pickle.UnpicklingError) and "GLOBAL" in str(exc)  # it names what it asked for
        why = "it holds code or objects a checkpoint never has" if code else "it is truncated or not a checkpoint"
        raise CheckpointError(f"the checkpoint {path} is damaged or not one of ours ({why}); {UNUSABLE}") from None


@contextlib.contextmanager
def applying(path: Path) -> Iterator[None]:
    """Restoring what ``path`` holds: a file of the right kind with the wrong content (a state missing, a tensor
    of another shape or type) is one sentence naming it, not a KeyError from deep inside torch."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        what = f"{exc.args[0]!r} is missing" if isinstance(exc, KeyError) and exc.args else \
            (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"the checkpoint {path} does not fit this run ({what}); {UNUSABLE}") from None


def load_set(folder: Path, names: list[str], device: torch.device) -> tuple[dict[str, Any], dict[str, dict]] | None:
    """The current set's trainer state and each model's state, or None when the run has no checkpoint."""
    current = checkpoints.latest_set(folder)
    if current is None:
        return None
    trainer = read_file(current / checkpoints.TRAINER_FILE, device)
    per_model = {name: read_file(current / f"{name}.pt", device) for name in names}
    iteration = trainer.get("iteration") if isinstance(trainer, dict) else None
    if not isinstance(iteration, int):
        raise CheckpointError(f"the checkpoint {current / checkpoints.TRAINER_FILE} holds no iteration; {UNUSABLE}")
    for name, saved in per_model.items():
        if not isinstance(saved, dict) or saved.get("iteration") != iteration:
            raise CheckpointError(f"the checkpoint {current / f'{name}.pt'} is not from iteration {iteration}, the "
                                  f"trainer's; {UNUSABLE}")
    return trainer, per_model


def _model_file(folder: Path, name: str, iteration: int | None) -> Path:
    sets = checkpoints.complete_sets(folder)
    current = checkpoints.latest_set(folder) if iteration is None else sets.get(iteration)
    if current is None:
        kept = ", ".join(map(str, sets)) or "none"
        raise CheckpointError(f"no checkpoint at iteration {iteration} in {folder}; kept: {kept}")
    return current / f"{name}.pt"


def load_model_state(folder: Path, name: str, iteration: int | None = None) -> dict:
    """One model's saved state from the set of ``iteration`` (the current set when None), on the CPU. A file
    that is missing or cannot be read as a checkpoint is one sentence naming it and why."""
    path = _model_file(folder, name, iteration)
    state = read_file(path, "cpu")
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"the checkpoint {path} holds no network weights; {UNUSABLE}")
    return state


def restore_network(folder: Path, key: str, config, iteration: int, device: torch.device) -> torch.nn.Module:
    """Network ``key`` of a run as it was at ``iteration``, in eval mode on ``device``; a file whose weights do
    not fit the network is one sentence naming it."""
    from explorer.models import build_model

    state = load_model_state(folder, key, iteration)
    model = build_model(config)
    with applying(_model_file(folder, key, iteration)):
        model.load_state_dict(state["model"])
    return model.to(device).eval()
