"""Loss landscapes (Li, Xu, Taylor, Studer and Goldstein, NeurIPS 2018): the training loss around a checkpoint
along random directions, filter-normalised so that slices of different networks compare.

A direction has a Gaussian random entry for every weight of every convolution and of the classifier, rescaled
filter by filter (one output channel of a convolution, one row of the classifier) to the norm of that filter in
the network: the picture does not depend on how each filter happens to be scaled, which batch norm leaves free.
Batch-norm parameters and biases are left where they are (direction zero), and BN runs in eval mode, so the
slice is of one fixed function. The finding: plain-56's surface is chaotic and sharp where ResNet-56's is smooth
and wide.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from explorer.analysis.inputs import Network, error_and_loss


def direction(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A filter-normalised random direction, one tensor per parameter of ``model`` (zeros for BN and biases)."""
    weights = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    result = []
    for p in model.parameters():
        if id(p) not in weights:
            result.append(torch.zeros_like(p))
            continue
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
        flat_d, flat_p = d.reshape(len(d), -1), p.detach().reshape(len(p), -1)
        scale = flat_p.norm(dim=1, keepdim=True) / flat_d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        result.append((flat_d * scale).reshape(p.shape))
    return result


@torch.no_grad()
def _loss_at(network: Network, origin: list[torch.Tensor], steps: list[tuple[float, list[torch.Tensor]]],
             x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    for p, o, *ds in zip(network.model.parameters(), origin, *[d for _, d in steps]):
        p.copy_(o)
        for (alpha, _), d in zip(steps, ds):
            p.add_(d, alpha=alpha)
    error, loss = error_and_loss(network.model, x, y)
    return loss, error


def landscape(network: Network, x: torch.Tensor, y: torch.Tensor, *, points: int = 21, extent: float = 1.0,
              two_d: bool = False, seed: int = 0, progress: Callable[[int, int], None] = lambda d, t: None) -> dict:
    """The loss (and error) along ``points`` steps from -extent to +extent of one direction, or on the
    ``points`` × ``points`` grid of two; the network is put back as it was afterwards."""
    generator = torch.Generator().manual_seed(seed)
    first = direction(network.model, generator)
    second = direction(network.model, generator) if two_d else None
    origin = [p.detach().clone() for p in network.model.parameters()]
    alphas = [extent * (2 * i / (points - 1) - 1) for i in range(points)]
    total, done = (points * points if two_d else points), 0
    losses, errors = [], []
    try:
        for a in alphas:
            row_loss, row_error = [], []
            for b in (alphas if two_d else [None]):
                steps = [(a, first)] + ([(b, second)] if two_d else [])
                loss, error = _loss_at(network, origin, steps, x, y)
                row_loss.append(loss)
                row_error.append(error)
                done += 1
                progress(done, total)
            losses.append(row_loss if two_d else row_loss[0])
            errors.append(row_error if two_d else row_error[0])
    finally:
        with torch.no_grad():
            for p, o in zip(network.model.parameters(), origin):
                p.copy_(o)
    return {"alphas": alphas, "losses": losses, "errors": errors, "two_d": two_d, "images": len(y)}
