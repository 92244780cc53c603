"""Starting a network from trained weights: torchvision's ImageNet weights for ResNet-18/34/50/101/152 (the v1.5
networks with option B shortcuts, which our ImageNet networks are, key for key), or a weights file a person picks.

torchvision's weights are looked for in torch's hub cache (``$TORCH_HOME/hub/checkpoints``, where torchvision
keeps them too) and downloaded there, checked against the SHA-256 prefix in their file name, when missing. A file
is read with ``weights_only=True``: data, never code. The classifier is the dataset's own: an fc layer of another
size (ImageNet's 1,000 classes) is left as initialised. Anything that does not fit is one sentence naming the
first key that does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from explorer.config.model import IMAGENET_WEIGHTS, ModelConfig
from explorer.system.download import DownloadError
from explorer.system.download import download as download_file

HEAD = "fc."  # the classifier's keys: sized to the dataset, never taken from weights of another size


class WeightsError(Exception):
    """Weights that cannot be had or used; ``str()`` is one sentence for a person."""


def imagenet_url(config: ModelConfig) -> str:
    """torchvision's download address of the ImageNet weights of ``config`` (IMAGENET1K_V1, the classic ones)."""
    import torchvision.models as zoo

    return getattr(zoo, f"ResNet{config.depth}_Weights").IMAGENET1K_V1.url


def hub_folder() -> Path:
    """The folder of torch's hub cache that holds downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def hub_file(config: ModelConfig) -> Path:
    """Where torch's hub cache keeps (or will keep) the ImageNet weights of ``config``."""
    return hub_folder() / imagenet_url(config).rsplit("/", 1)[1]


def weights_path(config: ModelConfig) -> Path | None:
    """The file ``config`` starts from when it is on disk; None when torchvision's weights must be downloaded."""
    if config.weights == IMAGENET_WEIGHTS:
        path = hub_file(config)
        return path if path.is_file() else None
    path = Path(config.weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"the weights file {path} does not exist (or is not a file); choose the .pth file "
                           "to start from")
    return path


def download(config: ModelConfig, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch torchvision's ImageNet weights of ``config`` into the hub cache, checked against their hash."""
    url, path = imagenet_url(config), hub_file(config)
    try:  # torchvision names its files by the first digits of their SHA-256: the check torch.hub makes too
        return download_file(url, path, sha256_prefix=path.stem.rsplit("-", 1)[1], progress=progress)
    except DownloadError as exc:
        raise WeightsError(f"cannot download the ImageNet weights of {config.label} ({exc}); put {path.name} "
                           f"from {url} into {path.parent} and start again") from None


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: a plain one (torchvision's format), or one under a "model" or "state_dict" key
    (a checkpoint of ours or of a common training script)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged, foreign or malicious file: never run, one sentence
        raise WeightsError(f"the weights file {path} cannot be read as PyTorch weights ({type(exc).__name__}); "
                           "choose a .pth file of a state dict") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"the weights file {path} holds no state dict of tensors; choose a .pth file of one")
    return state


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], where: Path) -> list[str]:
    """Copy ``state`` into ``model``, every key but a classifier of another size; returns the keys left as
    initialised. A key the network lacks or lacks in that shape is one sentence naming the first such key."""
    own = model.state_dict()
    kept = []
    for key, value in state.items():
        if key.startswith(HEAD) and key in own and own[key].shape != value.shape:
            continue  # ImageNet's 1,000-way classifier: the dataset's own fc stays as initialised
        if key not in own:
            raise WeightsError(f"the weights in {where} do not fit {_name(model)}: it has no {key!r}; choose "
                               "weights of this network")
        if own[key].shape != value.shape:
            raise WeightsError(f"the weights in {where} do not fit {_name(model)}: {key!r} is "
                               f"{tuple(value.shape)} there and {tuple(own[key].shape)} here; choose weights of "
                               "this network")
        kept.append(key)
    missing = [key for key in own if key not in state and not key.endswith("num_batches_tracked")]
    body_missing = [key for key in missing if not key.startswith(HEAD)]
    if body_missing:
        raise WeightsError(f"the weights in {where} do not fit {_name(model)}: they lack {body_missing[0]!r}; "
                           "choose weights of this network")
    model.load_state_dict({key: state[key] for key in kept}, strict=False)
    return [key for key in own if key not in kept]


def _name(model: nn.Module) -> str:
    config = getattr(model, "config", None)
    return config.label if config is not None else type(model).__name__


def start_from_weights(model: nn.Module, config: ModelConfig) -> None:
    """Give ``model`` (built from ``config``) the weights ``config`` starts from; WeightsError when they are not on
    disk (say where to put them) or do not fit."""
    path = weights_path(config)
    if path is None:
        raise WeightsError(f"the ImageNet weights of {config.label} are not on this computer; put "
                           f"{hub_file(config).name} from {imagenet_url(config)} into {hub_file(config).parent} "
                           "(or let the app download them)")
    load_weights(model, read_state(path), path)
