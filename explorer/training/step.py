"""One training step of one network, eager or replayed from a captured CUDA graph.

The small CIFAR nets are launch-bound on a GPU: a step is hundreds of tiny kernels and the Python that launches
them takes longer than the GPU that runs them. A CUDA graph records the whole step once - forward, backward,
the gradient norms, SGD, the metrics - and replays it with one launch: the batch is copied into the graph's
static input, the iteration into a device tensor, and the graph runs. The learning rate is baked into the
captured SGD update, so a change of lr (a milestone, the end of a warm-up) captures the step again. Before the
first capture a few eager steps on a side stream initialise the optimizer's state and the allocator, as the
PyTorch documentation asks. fp16 is refused with graphs (its gradient scaler decides on the CPU whether to skip
a step, which a graph cannot); bf16 and fp32 need no scaler.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.training.device import Precision
from explorer.training.member import Member

# Cross-entropy over 10 classes starts near ln 10 = 2.3; a loss past this has blown up and does not come back
# (at lr 1e3 it climbs to 1e34 while still finite), so it counts as divergence, like NaN and infinity.
DIVERGED_LOSS = 1e4
GRAPH_WARMUP_STEPS = 3


def eager_step(m: Member, x: torch.Tensor, y: torch.Tensor, iteration: torch.Tensor, lr: float,
               precision: Precision, cache: bool = True) -> None:
    """Forward, backward, gradient norms, SGD and the interval's metrics, with no read-back to the host."""
    for group in m.optimizer.param_groups:
        group["lr"] = lr
    with precision.autocast(m.device, cache_enabled=cache):
        logits = m.forward(x)
        loss = F.cross_entropy(logits, y)
    m.optimizer.zero_grad(set_to_none=True)
    if m.scaler is not None:
        m.scaler.scale(loss).backward()
        m.scaler.unscale_(m.optimizer)  # the norms are of the true gradients
        _accumulate_grad_norms(m)
        m.scaler.step(m.optimizer)
        m.scaler.update()
    else:
        loss.backward()
        _accumulate_grad_norms(m)
        m.optimizer.step()
    with torch.no_grad():
        loss = loss.detach().float()
        # No .item() here: reading a value back waits for the device. Everything stays a tensor, in place.
        first_bad = (m.bad_at == 0) & ~(loss < DIVERGED_LOSS)  # NaN compares False: caught too
        m.bad_at.copy_(torch.where(first_bad, iteration, m.bad_at))
        m.loss_sum.add_(loss)
        m.errors.add_((logits.argmax(dim=1) != y).sum())


@torch.no_grad()
def _accumulate_grad_norms(m: Member) -> None:
    grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in m.layer_weights]
    m.grad_norms.add_(torch.stack(torch._foreach_norm(grads)).float())


class GraphedStep:
    """The step of one network as a CUDA graph, captured on first use and again when the lr changes."""

    def __init__(self, precision: Precision) -> None:
        self.precision = precision
        self.graph: torch.cuda.CUDAGraph | None = None
        self.lr: float | None = None
        self.warm = 0
        self.x = self.y = None

    def __call__(self, m: Member, x: torch.Tensor, y: torch.Tensor, iteration: torch.Tensor, lr: float) -> None:
        if self.graph is not None and lr == self.lr:
            self.x.copy_(x)
            self.y.copy_(y)
            self.graph.replay()
            return
        if self.warm < GRAPH_WARMUP_STEPS:
            side = torch.cuda.Stream(m.device)
            side.wait_stream(torch.cuda.current_stream(m.device))
            with torch.cuda.stream(side):
                eager_step(m, x, y, iteration, lr, self.precision)
            torch.cuda.current_stream(m.device).wait_stream(side)
            self.warm += 1
            return
        self.graph = None  # a new lr: the old graph (and its memory pool) goes
        self.x, self.y = x.clone(), y.clone()
        graph = torch.cuda.CUDAGraph()
        m.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            eager_step(m, self.x, self.y, iteration, lr, self.precision, cache=False)
        graph.replay()  # capturing records the step without running it: run it now
        self.graph, self.lr = graph, lr


def run_step(m: Member, x: torch.Tensor, y: torch.Tensor, iteration: torch.Tensor, lr: float,
             precision: Precision, graphs: bool) -> None:
    """One step of ``m`` on its device (and its own stream, when it has one)."""
    if m.stream is None:
        _step(m, x, y, iteration, lr, precision, graphs)
        return
    m.stream.wait_stream(torch.cuda.current_stream(m.device))
    with torch.cuda.stream(m.stream):
        _step(m, x, y, iteration, lr, precision, graphs)
    for tensor in (x, y, iteration):
        tensor.record_stream(m.stream)  # still read on that stream when the next batch is drawn


def _step(m: Member, x, y, iteration, lr, precision, graphs) -> None:
    if graphs:
        if m.step_fn is None:
            m.step_fn = GraphedStep(precision)
        m.step_fn(m, x, y, iteration, lr)
    else:
        eager_step(m, x, y, iteration, lr, precision)
