"""One network of a run (for one seed): its model, optimiser, device, and what it accumulates between logs.

Everything a step accumulates stays on the device and is updated in place, so a captured CUDA graph keeps
writing into the same tensors and nothing is read back before a logging interval: the training loss and error,
the first iteration with a diverged loss, and each weighted layer's gradient norm. While the network trains in a
fused group, these and its weights are views of the group's tensors (rebound only when the grouping changes).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import nn

from explorer.models import build_model
from explorer.config.model import ModelConfig
from explorer.models.pretrained import start_from_weights
from explorer.training.compiling import compiled


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights of the convolutions and the classifier on the main path, in order (``conv1``,
    ``layer1.0.conv1`` … ``fc``): the layers whose gradient flow is shown. Shortcut projections are left out,
    so a plain net and its ResNet list the same layers."""
    return [(name, module.weight) for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear)) and ".downsample." not in f".{name}."]


@dataclass
class Member:
    """``key`` names the network in events and checkpoints (``resnet-56``, or ``resnet-56-seed3`` with seeds);
    ``seed`` is the seed it was initialised from and whose data stream it trains on. ``forward`` trains it (under
    torchrun the DDP wrapper, which averages the gradients); ``evaluate`` computes it alone."""

    name: str
    seed: int
    key: str
    config: ModelConfig
    model: nn.Module
    forward: nn.Module  # the model, or its torch.compile'd wrapper (which shares its parameters)
    evaluate: nn.Module  # the same, never the DDP wrapper: evaluation is rank 0's alone
    optimizer: torch.optim.SGD
    scaler: torch.amp.GradScaler | None
    device: torch.device
    warming_up: bool
    layer_names: list[str]
    layer_weights: list[nn.Parameter]
    diverged: bool = False
    steps: int = 0  # steps in the current logging interval
    loss_sum: torch.Tensor = field(default=None)  # type: ignore[assignment]
    errors: torch.Tensor = field(default=None)  # type: ignore[assignment]
    bad_at: torch.Tensor = field(default=None)  # first iteration with a diverged loss, 0 if none
    grad_norms: torch.Tensor = field(default=None)  # type: ignore[assignment]
    seed_label: int | None = None  # the seed as RunConfig.networks() gives it (None in a run of one seed)
    body_lr: float = 1.0  # the lr of every layer but the classifier, over the run's (fine-tuning)

    def __post_init__(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.errors = torch.zeros((), dtype=torch.int64, device=self.device)
        self.bad_at = torch.zeros((), dtype=torch.int64, device=self.device)
        self.grad_norms = torch.zeros(len(self.layer_weights), device=self.device)

    def reset_interval(self) -> None:
        """Start the next logging interval (in place: a captured graph keeps these very tensors)."""
        self.steps = 0
        self.loss_sum.zero_()
        self.errors.zero_()
        self.grad_norms.zero_()

    def state(self, iteration: int) -> dict:
        """Everything of this network a checkpoint keeps, as tensors of its own: while it trains in a group its
        tensors are views of the group's, and torch.save would write the whole group's memory for each view."""
        optimizer = self.optimizer.state_dict()
        optimizer["state"] = {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                              for i, s in optimizer["state"].items()}
        return {"iteration": iteration, "config": self.config.to_dict(), "seed": self.seed,
                "model": {k: v.clone() for k, v in self.model.state_dict().items()}, "optimizer": optimizer,
                "scaler": self.scaler.state_dict() if self.scaler else None, "warming_up": self.warming_up,
                "diverged": self.diverged, "steps": self.steps, "loss_sum": self.loss_sum.clone(),
                "errors": self.errors.clone(), "bad_at": self.bad_at.clone(), "grad_norms": self.grad_norms.clone()}

    def load(self, saved: dict) -> None:
        self.model.load_state_dict(saved["model"])
        # The kernel choice is this machine's (fused on CUDA), not the one of the machine that saved.
        kernels = {k: v for k, v in self.optimizer.param_groups[0].items() if k in ("fused", "foreach")}
        self.optimizer.load_state_dict(saved["optimizer"])
        for group in self.optimizer.param_groups:
            group.update(kernels)
        if self.scaler is not None and saved["scaler"]:
            self.scaler.load_state_dict(saved["scaler"])
        self.warming_up, self.diverged, self.steps = saved["warming_up"], saved["diverged"], saved["steps"]
        self.loss_sum.copy_(saved["loss_sum"])
        self.errors.copy_(saved["errors"])
        self.bad_at.copy_(saved["bad_at"])
        if "grad_norms" in saved and saved["grad_norms"].shape == self.grad_norms.shape:
            self.grad_norms.copy_(saved["grad_norms"])


HEAD = "fc."  # the classifier's parameters: always at the run's lr


def sgd(model: nn.Module, *, device: torch.device, lr: float, momentum: float, weight_decay: float,
        body_lr: float = 1.0) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every parameter (BN included, as the paper's code). On CUDA the fused
    kernel: fewer launches, and with fp16's gradient scaler it skips an overflowing step on the device, where the
    plain one reads the overflow flag back every step. ``body_lr`` scales the lr of every parameter but the
    classifier's (fine-tuning); :func:`set_lr` applies it whenever the schedule moves the lr."""
    named = list(model.named_parameters())
    if body_lr == 1.0:
        groups = [{"params": [p for _, p in named], "lr_scale": 1.0}]
    else:
        groups = [{"params": [p for n, p in named if not n.startswith(HEAD)], "lr_scale": body_lr},
                  {"params": [p for n, p in named if n.startswith(HEAD)], "lr_scale": 1.0}]
    fused = device.type == "cuda" and "fused" in inspect.signature(torch.optim.SGD).parameters
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                **({"fused": True} if fused else {"foreach": True}))
    set_lr(optimizer, lr)
    return optimizer


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's lr, times each parameter group's own scale."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def build_member(config: ModelConfig, seed: int, key: str, *, device: torch.device, channels_last: bool,
                 lr: float, momentum: float, weight_decay: float, scaler, warming_up: bool, compile: bool,
                 wrap=None, seed_label: int | None = None, body_lr: float = 1.0) -> Member:
    """The network as the run starts it: initialised from ``seed`` alone (so its start does not depend on which
    other networks share the run) or from the weights its config names, on ``device``, in the run's memory
    format."""
    torch.manual_seed(seed)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(config)
    if config.weights is not None:  # a resumed run then loads its checkpoint over these
        start_from_weights(model, config)
    model = model.to(device, memory_format=memory_format)
    forward = model
    if wrap is not None:  # under torchrun: DistributedDataParallel (and SyncBatchNorm, which replaces the BNs)
        forward = wrap(model)
        model = getattr(forward, "module", model)
    optimizer = sgd(model, device=device, lr=lr, momentum=momentum, weight_decay=weight_decay, body_lr=body_lr)
    layers = weighted_layers(model)
    evaluate = model if forward is not model else None
    forward = compiled(forward) if compile else forward
    return Member(config.name, seed, key, config, model, forward, evaluate or forward, optimizer, scaler, device,
                  warming_up, [name for name, _ in layers], [weight for _, weight in layers], seed_label=seed_label,
                  body_lr=body_lr)
