"""Several networks trained side by side on identical batches: one data stream, and each step every model
still training takes the same (x, y) in the same order, so plain-56 and ResNet-56 differ only by their
shortcuts.

Per model: SGD with momentum and weight decay on every parameter, BN included (as in the paper's code),
its own learning-rate state (the ResNet-110 warm-up ends per model) and its own divergence flag. Metrics
stay on the device as tensors and are read back only at logging intervals.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F

from explorer.config import ModelConfig, RunConfig
from explorer.data.batches import DeviceBatches
from explorer.models import build_model
from explorer.runs import RunDir
from explorer.training.checkpoint import CheckpointError, load_set, save_set
from explorer.training.device import Precision
from explorer.training.events import Reporter
from explorer.training.schedule import lr_at, needs_warmup, warmup_done

EVAL_BATCH_SIZE = 500
# Cross-entropy over 10 classes starts near ln 10 = 2.3; a loss past this has blown up and does not come back
# (at lr 1e3 it climbs to 1e34 while still finite), so it counts as divergence, like NaN and infinity.
DIVERGED_LOSS = 1e4


@dataclass
class Member:
    """One network of the run with its optimiser and the metrics of the current logging interval."""

    name: str
    config: ModelConfig
    model: torch.nn.Module
    optimizer: torch.optim.SGD
    scaler: torch.amp.GradScaler | None
    warming_up: bool
    diverged: bool = False
    steps: int = 0  # steps in the current logging interval
    loss_sum: torch.Tensor = field(default=None)  # type: ignore[assignment]
    errors: torch.Tensor = field(default=None)  # type: ignore[assignment]
    bad_at: torch.Tensor = field(default=None)  # first iteration with a diverged loss, 0 if none

    def reset_interval(self, device: torch.device) -> None:
        self.steps = 0
        self.loss_sum = torch.zeros((), device=device)
        self.errors = torch.zeros((), dtype=torch.int64, device=device)
        if self.bad_at is None:
            self.bad_at = torch.zeros((), dtype=torch.int64, device=device)


class Trainer:
    """Trains ``config.model_configs()`` on ``dataset``; ``should_stop()`` is polled between steps."""

    def __init__(self, config: RunConfig, dataset, *, device: torch.device, precision: Precision,
                 reporter: Reporter, should_stop: Callable[[], bool] = lambda: False,
                 interruptible: Callable[[], ContextManager] = contextlib.nullcontext, threads=None) -> None:
        self.config = config
        self.threads = threads  # a ThreadGovernor on the CPU: re-checked between logging intervals
        self.train_cfg = config.train
        self.device = device
        self.precision = precision
        self.reporter = reporter
        self.should_stop = should_stop
        self.interruptible = interruptible
        self.iteration = self.saved_at = 0
        tc = self.train_cfg
        self.batches = DeviceBatches(
            dataset.train_images, dataset.train_labels, batch_size=tc.batch_size, device=device,
            augment=config.data.augment, seed=tc.seed, channels_last=tc.channels_last,
        )
        # The test set is moved to the device once, like the training set.
        self.test_images, self.test_labels = dataset.test_images.to(device), dataset.test_labels.to(device)
        self.eval_every = tc.eval_every
        self.members = [self._member(mc) for mc in config.model_configs()]

    def _member(self, config: ModelConfig) -> Member:
        # Each network is initialised from the run's seed alone, so its start does not depend on which
        # other networks share the run.
        torch.manual_seed(self.train_cfg.seed)
        memory_format = torch.channels_last if self.train_cfg.channels_last else torch.contiguous_format
        model = build_model(config).to(self.device, memory_format=memory_format)
        tc = self.train_cfg
        optimizer = torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay,
                                    foreach=True)
        member = Member(config.name, config, model, optimizer, self.precision.grad_scaler(self.device),
                        warming_up=needs_warmup(config.depth, tc))
        member.reset_interval(self.device)
        return member

    @property
    def active(self) -> list[Member]:
        return [m for m in self.members if not m.diverged]

    def lr(self, member: Member, iteration: int) -> float:
        tc = self.train_cfg
        return lr_at(iteration, lr=tc.lr, milestones=tc.milestones, gamma=tc.gamma,
                     warming_up=member.warming_up, warmup_lr=tc.warmup_lr)

    # -- one step ------------------------------------------------------------------------------------------
    def _step(self, m: Member, x: torch.Tensor, y: torch.Tensor) -> None:
        for group in m.optimizer.param_groups:
            group["lr"] = self.lr(m, self.iteration)
        with self.precision.autocast(self.device):
            logits = m.model(x)
            loss = F.cross_entropy(logits, y)
        m.optimizer.zero_grad(set_to_none=True)
        if m.scaler is not None:
            m.scaler.scale(loss).backward()
            m.scaler.step(m.optimizer)
            m.scaler.update()
        else:
            loss.backward()
            m.optimizer.step()
        with torch.no_grad():
            loss = loss.detach().float()
            # No .item() here: reading a value back waits for the device. Keep everything a tensor.
            first_bad = (m.bad_at == 0) & ~(loss < DIVERGED_LOSS)  # NaN compares False: caught too
            m.bad_at = torch.where(first_bad, torch.full_like(m.bad_at, self.iteration), m.bad_at)
            m.loss_sum += loss
            m.errors += (logits.argmax(dim=1) != y).sum()
        m.steps += 1

    def step(self) -> None:
        """One iteration: the next batch through every model still training."""
        x, y = next(self.batches)
        self.iteration += 1
        for m in self.active:
            self._step(m, x, y)

    # -- logging, evaluation ---------------------------------------------------------------------------------
    def log(self, images_per_sec: float) -> None:
        tc = self.train_cfg
        for m in self.active:
            if m.steps == 0:
                continue
            # .item()/.tolist() is a device sync point: done once per model per logging interval only.
            loss_sum, errors, bad_at = torch.stack([m.loss_sum, m.errors.float(), m.bad_at.float()]).tolist()
            loss = loss_sum / m.steps
            error = errors / (m.steps * tc.batch_size)
            if bad_at or not loss < DIVERGED_LOSS:
                m.diverged = True
                at = int(bad_at) or self.iteration
                self.reporter.diverged(m.name, iteration=at, message=(
                    f"the loss became NaN, infinite or above {DIVERGED_LOSS:g} at iteration {at} with lr "
                    f"{self.lr(m, at):g}; "
                    "this model stopped, try a lower learning rate"))
                continue
            self.reporter.train(m.name, iteration=self.iteration, epoch=self.batches.epoch, loss=loss,
                                error=error, lr=self.lr(m, self.iteration), images_per_sec=images_per_sec)
            if m.warming_up and warmup_done(error, tc):
                m.warming_up = False
            m.reset_interval(self.device)

    @torch.no_grad()
    def evaluate(self) -> None:
        for m in self.active:
            m.model.eval()
            loss_sum = torch.zeros((), device=self.device)
            errors = torch.zeros((), dtype=torch.int64, device=self.device)
            for x, y in self.batches.eval_batches(self.test_images, self.test_labels, EVAL_BATCH_SIZE):
                with self.precision.autocast(self.device):
                    logits = m.model(x)
                loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
                errors += (logits.argmax(dim=1) != y).sum()
            m.model.train()
            n = len(self.test_labels)
            # One sync per model per evaluation.
            loss, wrong = torch.stack([loss_sum, errors.float()]).tolist()
            self.reporter.eval(m.name, iteration=self.iteration, test_loss=loss / n, test_error=wrong / n)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, run: RunDir) -> None:
        """Every model's state and the trainer's, as one set (written beside the last, then switched to)."""
        models = {m.name: {
            "iteration": self.iteration, "config": m.config.to_dict(), "model": m.model.state_dict(),
            "optimizer": m.optimizer.state_dict(), "scaler": m.scaler.state_dict() if m.scaler else None,
            "warming_up": m.warming_up, "diverged": m.diverged, "steps": m.steps, "loss_sum": m.loss_sum,
            "errors": m.errors, "bad_at": m.bad_at,
        } for m in self.members}
        trainer = {
            "iteration": self.iteration, "batches": self.batches.state_dict(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        save_set(run.checkpoint_dir, self.iteration, models, trainer, keep=self.train_cfg.kept_iterations)
        self.saved_at = self.iteration

    def load_checkpoint(self, run: RunDir) -> int:
        """Restore the current checkpoint set of ``run``; returns its iteration (0 when there is none)."""
        loaded = load_set(run.checkpoint_dir, [m.name for m in self.members], self.device)
        if loaded is None:
            return 0
        state, per_model = loaded
        iteration = state["iteration"]
        for m in self.members:
            saved = per_model[m.name]
            m.model.load_state_dict(saved["model"])
            m.optimizer.load_state_dict(saved["optimizer"])
            if m.scaler is not None and saved["scaler"]:
                m.scaler.load_state_dict(saved["scaler"])
            m.warming_up, m.diverged, m.steps = saved["warming_up"], saved["diverged"], saved["steps"]
            m.loss_sum, m.errors, m.bad_at = saved["loss_sum"], saved["errors"], saved["bad_at"]
        self.batches.load_state_dict(state["batches"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        self.iteration = self.saved_at = iteration
        return iteration

    # -- the loop ------------------------------------------------------------------------------------------
    def train(self, run: RunDir) -> tuple[str, str]:
        """Train to ``iterations`` or until asked to stop; returns the final state and its message.

        Steps and evaluations run inside ``interruptible()`` (a second stop signal ends them at once, the last
        checkpoint set still current); checkpoints and reports never do, so they are never left half-written."""
        tc = self.train_cfg
        total = tc.iterations
        keep = set(tc.kept_iterations)
        if self.iteration == 0 and 0 in keep:
            self.save_checkpoint(run)  # the networks as initialised: the start of every analysis over time
        interval_start, interval_iteration = time.perf_counter(), self.iteration
        last_tick = time.monotonic()
        while self.iteration < total:
            if self.should_stop():
                break
            with self.interruptible():
                self.step()
            it = self.iteration
            if it % tc.log_every == 0 or it == total:
                now = time.perf_counter()
                images_per_sec = (it - interval_iteration) * tc.batch_size / max(now - interval_start, 1e-9)
                self.log(images_per_sec)
                self.reporter.interval(it, images_per_sec)
                interval_start, interval_iteration = now, it
                changed = self.threads.maybe_recheck() if self.threads is not None and self.device.type == "cpu" \
                    else None
                if changed is not None:
                    self.reporter.threads(changed, it)
                if not self.active:
                    self.save_checkpoint(run)
                    return "failed", (f"every model diverged (the loss became NaN, infinite or above "
                                      f"{DIVERGED_LOSS:g}) by iteration {it}; try a lower learning rate than {tc.lr:g}")
            elif time.monotonic() - last_tick > 1.0:
                self.reporter.tick(it)
                last_tick = time.monotonic()
            paused = time.perf_counter()
            if it % self.eval_every == 0 or it == total:
                with self.interruptible():
                    self.evaluate()
            if it % tc.checkpoint_every == 0 or it == total or it in keep:
                self.save_checkpoint(run)
            # images_per_sec is training speed: evaluation and checkpoint time are left out of the interval.
            interval_start += time.perf_counter() - paused
        if self.iteration != self.saved_at:
            self.save_checkpoint(run)
        if self.iteration < total:
            return "cancelled", f"stopped at iteration {self.iteration}; resume to continue"
        return "finished", ""

    def close(self) -> None:
        """Drop the models and the device-resident data; give cached GPU memory back."""
        self.members.clear()
        del self.batches
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
