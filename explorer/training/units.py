"""What one training step steps: a network alone (:class:`Solo`) or several same-shape networks grouped into one
(:class:`Group`, :mod:`explorer.training.fused`). Both look alike to the step: logits ``(G, N, classes)``,
targets ``(G, N)``, and per network (G of them, 1 alone) the loss, the errors, the first diverged iteration and
the gradient norm of each weighted layer, accumulated on the device in tensors that a captured CUDA graph keeps
writing into. A member's own accumulators are views of its unit's, so the logging reads each network as before.

Each unit has its iteration counter on its device, written on its own stream right before its step (on the
default stream the next step's write could land before a network's stream had read the last one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.training.compiling import compiled
from explorer.training.fused import bind, grouped_network, unbind
from explorer.training.member import Member, sgd


class Solo:
    """One network stepping alone, with its own optimizer (and gradient scaler in fp16)."""

    def __init__(self, member: Member, stream=None) -> None:
        self.members = [member]
        self.device = member.device
        self.stream = stream
        self.step_fn = None  # a captured step (CUDA graphs), made on first use
        self.forward, self.optimizer, self.scaler = member.forward, member.optimizer, member.scaler
        self.iteration = torch.zeros((), dtype=torch.int64, device=self.device)
        self.loss_sum, self.errors = member.loss_sum.view(1), member.errors.view(1)
        self.bad_at, self.grad_norms = member.bad_at.view(1), member.grad_norms.view(1, -1)
        self.layer_weights = member.layer_weights

    def inputs(self, batches: dict) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batches[self.members[0].seed]
        return x, y.unsqueeze(0)

    def logits(self, x: torch.Tensor, evaluating: bool = False) -> torch.Tensor:
        return (self.members[0].evaluate if evaluating else self.forward)(x).unsqueeze(0)

    def train(self, mode: bool) -> None:
        self.members[0].model.train(mode)

    def release(self) -> None:
        """Nothing to give back: the network always had memory of its own."""


class Group:
    """Several same-shape networks trained as one grouped network: one forward, one backward, one optimizer step
    for all. SGD is elementwise, so the stacked update is each network's own; the networks share the learning
    rate (the trainer groups only those that do)."""

    def __init__(self, members: list[Member], *, lr: float, momentum: float, weight_decay: float, compile: bool,
                 stream=None) -> None:
        self.members = members
        self.device = members[0].device
        self.stream = stream
        self.step_fn = None
        g = len(members)
        models = [m.model for m in members]
        self.shared_input = len({m.seed for m in members}) == 1
        self.net = grouped_network(models, [not m.config.plain for m in members], self.shared_input)
        bind(self.net, models)
        self.net.to(self.device)  # the masks; the weights are already there
        self.net.train(models[0].training)
        self.forward = compiled(self.net) if compile else self.net
        self.scaler = None
        self.optimizer = sgd(self.net, device=self.device, lr=lr, momentum=momentum, weight_decay=weight_decay,
                             body_lr=members[0].body_lr)
        if momentum:
            self._bind_momentum()
        self.iteration = torch.zeros((), dtype=torch.int64, device=self.device)
        self.loss_sum = torch.stack([m.loss_sum for m in members])
        self.errors = torch.stack([m.errors for m in members])
        self.bad_at = torch.stack([m.bad_at for m in members])
        self.grad_norms = torch.stack([m.grad_norms for m in members])
        for i, m in enumerate(members):  # views: the captured step writes the group's, the log reads the member's
            m.loss_sum, m.errors, m.bad_at, m.grad_norms = (self.loss_sum[i], self.errors[i], self.bad_at[i],
                                                            self.grad_norms[i])
        self.layer_weights = [self.net.get_submodule(name).weight for name in members[0].layer_names]
        self.size = g

    def _bind_momentum(self) -> None:
        """The group's momentum buffers are the members' stacked (zeros before the first step: ``0 * m + g`` is
        ``g``, exactly what SGD's first step sets), and each member's optimizer state is a view of its slice, so
        a checkpoint saves each network's own buffers."""
        for name, stacked_param in self.net.named_parameters():
            parts = [m.model.get_parameter(name) for m in self.members]
            buffers = [m.optimizer.state.get(p, {}).get("momentum_buffer") for m, p in zip(self.members, parts)]
            buffers = [torch.zeros_like(p) if b is None else b for p, b in zip(parts, buffers)]
            stacked = torch.cat(buffers)
            self.optimizer.state[stacked_param]["momentum_buffer"] = stacked
            for m, p, view in zip(self.members, parts, stacked.chunk(len(parts))):
                m.optimizer.state[p]["momentum_buffer"] = view

    def inputs(self, batches: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if self.shared_input:
            x, y = batches[self.members[0].seed]
            return x, y.expand(self.size, -1)
        pairs = [batches[m.seed] for m in self.members]
        return torch.cat([x for x, _ in pairs], dim=1), torch.stack([y for _, y in pairs])

    def logits(self, x: torch.Tensor, evaluating: bool = False) -> torch.Tensor:
        if evaluating and not self.shared_input:  # the test images, the same for every network
            x = torch.cat([x] * self.size, dim=1)
        return self.forward(x)

    def train(self, mode: bool) -> None:
        self.net.train(mode)

    def release(self) -> None:
        """Each member gets memory of its own again (its weights, buffers, momentum and accumulators as they are
        now); the grouped network, its optimizer and any captured step go with this object."""
        unbind([m.model for m in self.members])
        for m in self.members:
            for state in m.optimizer.state.values():
                if "momentum_buffer" in state:
                    state["momentum_buffer"] = state["momentum_buffer"].clone()
            m.loss_sum, m.errors, m.bad_at, m.grad_norms = (m.loss_sum.clone(), m.errors.clone(), m.bad_at.clone(),
                                                            m.grad_norms.clone())


def per_network_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each network's mean cross-entropy: ``(G, N, classes)`` and ``(G, N)`` -> ``(G,)``."""
    g, n = targets.shape
    return F.cross_entropy(logits.reshape(g * n, -1), targets.reshape(-1), reduction="none").view(g, n).mean(1)


def per_network_norms(weights: list[torch.Tensor], groups: int) -> torch.Tensor:
    """The norm of each network's slice of each weighted layer's gradient: ``(G, layers)``."""
    grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in weights]
    norms = torch._foreach_norm([part for grad in grads for part in grad.chunk(groups)])
    return torch.stack(norms).float().view(len(weights), groups).t()
