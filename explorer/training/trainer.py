"""Several networks trained side by side on identical batches: one data stream per seed, and each step every
network of that seed still training takes the same (x, y) in the same order, so plain-56 and ResNet-56 differ
only by their shortcuts. With several seeds, each seed has its own stream (order and augmentation) and its own
initialisations, and every network is trained once per seed.

Per network: SGD with momentum and weight decay on every parameter, BN included (as in the paper's code),
its own learning-rate state (the ResNet-110 warm-up ends per network) and its own divergence flag. Metrics and
the per-layer gradient norms stay on the device and are read back only at logging intervals. On CUDA the
networks of a GPU run on streams of their own (their kernels overlap), can be spread over several GPUs, and can
replay their step from a captured CUDA graph (:mod:`explorer.training.step`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F

from explorer.config.run import RunConfig, network_key
from explorer.data.batches import DeviceBatches, pixel_stats
from explorer.runs.folder import RunDir
from explorer.runs.checkpoints import TRAINER_FILE, latest_set
from explorer.training.checkpoint import applying, load_set, save_set
from explorer.training.device import Precision
from explorer.training.distributed import SINGLE, STOP_CHECK_EVERY, World
from explorer.training.events import Reporter
from explorer.training.member import Member, build_member
from explorer.training.schedule import lr_at, needs_warmup, warmup_done
from explorer.training.step import DIVERGED_LOSS, run_step

EVAL_BATCH_SIZE = 500


class Trainer:
    """Trains ``config.model_configs()`` (for each seed) on ``dataset``; ``should_stop()`` is polled between
    steps. ``devices`` spreads the networks over several devices (the first holds the data)."""

    def __init__(self, config: RunConfig, dataset, *, device: torch.device, precision: Precision,
                 reporter: Reporter, should_stop: Callable[[], bool] = lambda: False,
                 interruptible: Callable[[], ContextManager] = contextlib.nullcontext, threads=None,
                 devices: list[torch.device] | None = None, world: World = SINGLE) -> None:
        self.config = config
        self.world = world
        self.threads = threads  # a ThreadGovernor on the CPU: re-checked between logging intervals
        self.train_cfg = tc = config.train
        self.devices = devices or [device]
        self.device = self.devices[0]
        self.precision = precision
        self.reporter = reporter
        self.should_stop = should_stop
        self.interruptible = interruptible
        self.iteration = self.saved_at = 0
        mean, std = pixel_stats(dataset.train_images)  # once: every seed's stream normalises alike
        self.streams = {seed: DeviceBatches(
            dataset.train_images, dataset.train_labels, batch_size=tc.batch_size, device=self.device,
            augment=config.data.augment, seed=seed, mean=mean, std=std, channels_last=tc.channels_last,
        ) for seed in tc.seed_list}
        # The test set is moved to the device once, like the training set.
        self.test_images, self.test_labels = dataset.test_images.to(self.device), dataset.test_labels.to(self.device)
        self.eval_every = tc.eval_every
        self.members = self._members()
        self._iteration_on = {d: torch.zeros((), dtype=torch.int64, device=d) for d in self.devices}

    def _members(self) -> list[Member]:
        tc = self.train_cfg
        configs = [(seed, mc) for seed in tc.seed_list for mc in self.config.model_configs()]
        placed = [self.devices[i % len(self.devices)] for i in range(len(configs))]
        members = []
        for (seed, mc), device in zip(configs, placed):
            shared = sum(d == device for d in placed) > 1
            members.append(build_member(
                mc, seed, network_key(mc.name, seed if tc.seeds > 1 else None), device=device,
                channels_last=tc.channels_last, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay,
                scaler=self.precision.grad_scaler(device), warming_up=needs_warmup(mc.depth, tc), compile=tc.compile,
                stream=torch.cuda.Stream(device) if device.type == "cuda" and shared else None,
                wrap=lambda model, device=device: self.world.wrap(model, device, tc.sync_bn)))
        return members

    @property
    def batches(self) -> DeviceBatches:
        """The first seed's data stream (its epoch is every stream's)."""
        return self.streams[self.train_cfg.seed]

    @property
    def active(self) -> list[Member]:
        return [m for m in self.members if not m.diverged]

    def lr(self, member: Member, iteration: int) -> float:
        tc = self.train_cfg
        return lr_at(iteration, lr=tc.lr, milestones=tc.milestones, gamma=tc.gamma,
                     warming_up=member.warming_up, warmup_lr=tc.warmup_lr)

    # -- one step ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One iteration: each seed's next batch through every network of that seed still training."""
        self.iteration += 1
        for counter in self._iteration_on.values():
            counter.fill_(self.iteration)
        for seed, stream in self.streams.items():
            x, y = self.world.slice(*next(stream))  # under torchrun: this rank's part of the global batch
            for m in self.active:
                if m.seed != seed:
                    continue
                xm, ym = (x, y) if m.device == self.device else (x.to(m.device, non_blocking=True),
                                                                  y.to(m.device, non_blocking=True))
                run_step(m, xm, ym, self._iteration_on[m.device], self.lr(m, self.iteration), self.precision,
                         self.train_cfg.cuda_graphs)
                m.steps += 1

    def _join(self) -> None:
        """Wait for the networks' own streams before reading what they wrote."""
        for m in self.members:
            if m.stream is not None:
                torch.cuda.current_stream(m.device).wait_stream(m.stream)

    # -- logging, evaluation ---------------------------------------------------------------------------------
    def log(self, images_per_sec: float) -> None:
        tc = self.train_cfg
        self._join()
        for m in self.active:
            if m.steps == 0:
                continue
            # .tolist() is a device sync point: done once per network per logging interval only. Under torchrun the
            # ranks' sums add up (each rank's loss is the mean of its slice); the gradients are already averaged.
            summed = self.world.sum_(torch.stack([m.loss_sum / self.world.size, m.errors.float()]))
            values = torch.cat([summed, self.world.max_(m.bad_at.float().reshape(1)), m.grad_norms / m.steps]).tolist()
            loss_sum, errors, bad_at = values[:3]
            loss = loss_sum / m.steps
            error = errors / (m.steps * tc.batch_size)
            seed = m.seed if tc.seeds > 1 else None
            if bad_at or not loss < DIVERGED_LOSS:
                m.diverged = True
                at = int(bad_at) or self.iteration
                self.reporter.diverged(m.name, iteration=at, seed=seed, message=(
                    f"the loss became NaN, infinite or above {DIVERGED_LOSS:g} at iteration {at} with lr "
                    f"{self.lr(m, at):g}; this model stopped, try a lower learning rate"))
                continue
            self.reporter.train(m.name, iteration=self.iteration, epoch=self.batches.epoch, loss=loss,
                                error=error, lr=self.lr(m, self.iteration), images_per_sec=images_per_sec, seed=seed)
            self.reporter.grad(m.name, iteration=self.iteration, layers=m.layer_names, norms=values[3:], seed=seed)
            if m.warming_up and warmup_done(error, tc):
                m.warming_up = False
            m.reset_interval()

    @torch.no_grad()
    def evaluate(self) -> None:
        if not self.world.main:
            return  # rank 0 evaluates (with the model itself, not its DDP wrapper) and reports for all
        self._join()
        n = len(self.test_labels)
        totals = {m.key: (torch.zeros((), device=m.device), torch.zeros((), dtype=torch.int64, device=m.device))
                  for m in self.active}
        for x, y in self.batches.eval_batches(self.test_images, self.test_labels, EVAL_BATCH_SIZE):
            for m in self.active:
                xm, ym = (x, y) if m.device == self.device else (x.to(m.device), y.to(m.device))
                m.model.eval()
                with self.precision.autocast(m.device):
                    logits = (m.model if self.world.distributed else m.forward)(xm)
                loss_sum, errors = totals[m.key]
                loss_sum += F.cross_entropy(logits.float(), ym, reduction="sum")
                errors += (logits.argmax(dim=1) != ym).sum()
        for m in self.active:
            m.model.train()
            loss, wrong = torch.stack([totals[m.key][0], totals[m.key][1].float()]).tolist()  # one sync each
            self.reporter.eval(m.name, iteration=self.iteration, test_loss=loss / n, test_error=wrong / n,
                               seed=m.seed if self.train_cfg.seeds > 1 else None)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, run: RunDir) -> None:
        """Every network's state and the trainer's, as one set (written beside the last, then switched to)."""
        self._join()
        if not self.world.main:  # the ranks hold the same weights: rank 0 writes them
            self.saved_at = self.iteration
            return
        trainer = {
            "iteration": self.iteration, "streams": {s: b.state_dict() for s, b in self.streams.items()},
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        save_set(run.checkpoint_dir, self.iteration, {m.key: m.state(self.iteration) for m in self.members},
                 trainer, keep=self.train_cfg.kept_iterations)
        self.saved_at = self.iteration

    def load_checkpoint(self, run: RunDir) -> int:
        """Restore the current checkpoint set of ``run``; returns its iteration (0 when there is none)."""
        loaded = load_set(run.checkpoint_dir, [m.key for m in self.members], self.device)
        if loaded is None:
            return 0
        state, per_model = loaded
        current = latest_set(run.checkpoint_dir)
        for m in self.members:
            with applying(current / f"{m.key}.pt"):
                m.load(per_model[m.key])
        with applying(current / TRAINER_FILE):
            streams = state.get("streams") or {self.train_cfg.seed: state["batches"]}  # the first layout: one stream
            for seed, stream in self.streams.items():
                stream.load_state_dict(streams[seed])
            torch.set_rng_state(state["torch_rng"].cpu())
            if state["cuda_rng"] is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        self.iteration = self.saved_at = state["iteration"]
        return self.iteration

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
            if self._stop_agreed():
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

    def _stop_agreed(self) -> bool:
        """Whether to stop now; under torchrun every rank stops at the same step (checked every few steps)."""
        if not self.world.distributed:
            return self.should_stop()
        if self.iteration % STOP_CHECK_EVERY:
            return False
        return self.world.agree(self.should_stop(), self.device)

    def close(self) -> None:
        """Drop the models and the device-resident data; give cached GPU memory back."""
        self.members.clear()
        self.streams.clear()
        self.test_images = self.test_labels = None
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
