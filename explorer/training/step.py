"""One training step of one unit (a network alone or a group, :mod:`explorer.training.units`), eager or replayed
from a captured CUDA graph.

The small CIFAR nets are launch-bound on a GPU: a step is hundreds of tiny kernels and the Python that launches
them takes longer than the GPU that runs them. A CUDA graph records the whole step once - forward, backward,
the gradient norms, SGD, the metrics - and replays it with one launch: the batch is copied into the graph's
static input, the iteration into a device tensor, and the graph runs. The learning rate is baked into the
captured SGD update, so a change of lr (a milestone, the end of a warm-up) captures the step again. Before the
first capture a few eager steps on a side stream initialise the optimizer's state and the allocator, as the
PyTorch documentation asks. Warm-up and capture run under the same autocast setting, its cast cache off (the cache
must not outlive a capture, and torch.compile guards on the setting: a change would recompile inside the
capture). Capture happens on a stream of the unit's own device, which is current throughout: a graph captured
on another device's stream records nothing of this one. fp16 is refused with graphs (its gradient scaler
decides on the CPU whether to skip a step, which a graph cannot); bf16 and fp32 need no scaler.
"""

from __future__ import annotations

import contextlib

import torch

from explorer.training.device import Precision
from explorer.training.member import set_lr
from explorer.training.units import per_network_losses, per_network_norms

# Cross-entropy over 10 classes starts near ln 10 = 2.3; a loss past this has blown up and does not come back
# (at lr 1e3 it climbs to 1e34 while still finite), so it counts as divergence, like NaN and infinity.
DIVERGED_LOSS = 1e4
GRAPH_WARMUP_STEPS = 3


def eager_step(u, x: torch.Tensor, y: torch.Tensor, lr: float, precision: Precision, cache: bool = True) -> None:
    """Forward, backward, gradient norms, SGD and the interval's metrics of every network of ``u``, with no
    read-back to the host."""
    set_lr(u.optimizer, lr)
    with precision.autocast(u.device, cache_enabled=cache):
        logits = u.logits(x)
        losses = per_network_losses(logits, y)
    loss = losses.sum()  # each network's parameters get the gradient of its own loss alone
    u.optimizer.zero_grad(set_to_none=True)
    if u.scaler is not None:
        u.scaler.scale(loss).backward()
        u.scaler.unscale_(u.optimizer)  # the norms are of the true gradients
        u.grad_norms.add_(per_network_norms(u.layer_weights, len(u.members)))
        u.scaler.step(u.optimizer)
        u.scaler.update()
    else:
        loss.backward()
        u.grad_norms.add_(per_network_norms(u.layer_weights, len(u.members)))
        u.optimizer.step()
    with torch.no_grad():
        losses = losses.detach().float()
        # No .item() here: reading a value back waits for the device. Everything stays a tensor, in place.
        first_bad = (u.bad_at == 0) & ~(losses < DIVERGED_LOSS)  # NaN compares False: caught too
        u.bad_at.copy_(torch.where(first_bad, u.iteration, u.bad_at))
        u.loss_sum.add_(losses)
        u.errors.add_((logits.argmax(dim=-1) != y).sum(dim=-1))


class GraphedStep:
    """The step of one unit as a CUDA graph, captured on first use and again when the lr changes."""

    def __init__(self, precision: Precision, device: torch.device) -> None:
        self.precision = precision
        self.graph: torch.cuda.CUDAGraph | None = None
        self.lr: float | None = None
        self.warm = 0
        self.x = self.y = None
        self.capture_stream = torch.cuda.Stream(device)  # on the unit's device: the capture records its work

    def __call__(self, u, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        if self.graph is not None and lr == self.lr:
            self.x.copy_(x)
            self.y.copy_(y)
            self.graph.replay()
            return
        current = torch.cuda.current_stream(u.device)
        if self.warm < GRAPH_WARMUP_STEPS:
            side = self.capture_stream
            side.wait_stream(current)
            with torch.cuda.stream(side):
                eager_step(u, x, y, lr, self.precision, cache=False)
            current.wait_stream(side)
            self.warm += 1
            return
        self.graph = None  # a new lr: the old graph (and its memory pool) goes
        self.x, self.y = x.clone(), y.clone()
        graph = torch.cuda.CUDAGraph()
        u.optimizer.zero_grad(set_to_none=True)
        self.capture_stream.wait_stream(current)
        with torch.cuda.graph(graph, stream=self.capture_stream):
            eager_step(u, self.x, self.y, lr, self.precision, cache=False)
        current.wait_stream(self.capture_stream)
        graph.replay()  # capturing records the step without running it: run it now
        self.graph, self.lr = graph, lr


def run_step(u, x: torch.Tensor, y: torch.Tensor, iteration: int, lr: float, precision: Precision,
             graphs: bool) -> None:
    """One step of ``u`` on its device, on its own stream when it has one, that device current throughout."""
    on_device = torch.cuda.device(u.device) if u.device.type == "cuda" else contextlib.nullcontext()
    with on_device:
        if u.stream is None:
            _step(u, x, y, iteration, lr, precision, graphs)
            return
        u.stream.wait_stream(torch.cuda.current_stream(u.device))
        with torch.cuda.stream(u.stream):
            _step(u, x, y, iteration, lr, precision, graphs)
        for tensor in (x, y):
            tensor.record_stream(u.stream)  # still read on that stream when the next batch is drawn


def _step(u, x, y, iteration: int, lr: float, precision: Precision, graphs: bool) -> None:
    u.iteration.fill_(iteration)  # on the unit's stream, ordered with the step that reads it
    if graphs:
        if u.step_fn is None:
            u.step_fn = GraphedStep(precision, u.device)
        u.step_fn(u, x, y, lr)
    else:
        eager_step(u, x, y, lr, precision)
