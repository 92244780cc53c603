"""Several networks trained side by side on identical batches: one data stream per seed, and each step every
network of that seed still training takes the same (x, y) in the same order, so plain-56 and ResNet-56 differ
only by their shortcuts. With several seeds, each seed has its own stream (order and augmentation) and its own
initialisations, and every network is trained once per seed.

Per network: SGD with momentum and weight decay on every parameter, BN included (as in the paper's code),
its own learning-rate state (the ResNet-110 warm-up ends per network) and its own divergence flag. Metrics and
the per-layer gradient norms stay on the device and are read back only at logging intervals. On CUDA the
networks of a GPU run on streams of their own (their kernels overlap), can be spread over several GPUs, and can
replay their step from a captured CUDA graph (:mod:`explorer.training.step`).

Same-shape networks can train as one grouped network (:mod:`explorer.training.groups`): the units of a step are
formed from the networks still training, grouped by shape, device and learning-rate state, and formed again when
one diverges or ends its warm-up. A unit owns the device-side memory while it lives; its networks own their state
again when it goes, so the checkpoints, the events and the analyses see each network as if it trained alone.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F

from explorer.config.run import RunConfig
from explorer.data.batches import DeviceBatches, normalisation
from explorer.runs.folder import RunDir
from explorer.runs.checkpoints import TRAINER_FILE, latest_set
from explorer.training.checkpoint import applying, load_set, save_set
from explorer.training.compiling import allow_versions, versions_needed
from explorer.training.device import Precision, release_cached_memory
from explorer.training.distributed import SINGLE, StopVote, World
from explorer.training.events import Reporter
from explorer.training.groups import captures, fuses, fusion_key, place, plan
from explorer.training.member import Member, build_member, set_lr
from explorer.training.schedule import lr_at, needs_warmup, warmup_done
from explorer.training.step import DIVERGED_LOSS, run_step
from explorer.training.units import Group, Solo

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
        mean, std = normalisation(config.data, dataset.train_images)  # once: every seed's stream normalises alike
        self.streams = {seed: DeviceBatches(
            dataset.train_images, dataset.train_labels, batch_size=tc.batch_size, device=self.device,
            augment=config.data.augment, seed=seed, mean=mean, std=std, channels_last=tc.channels_last,
            resize=config.data.resize,
        ) for seed in tc.seed_list}
        # The test set is moved to the device once, like the training set.
        self.test_images, self.test_labels = dataset.test_images.to(self.device), dataset.test_labels.to(self.device)
        self.eval_every = tc.eval_every
        self.fuse = fuses(tc, self.device.type, precision.name, world.distributed)
        self.graphs = captures(tc, self.device.type, precision.name, world.distributed)
        networks = config.networks()
        if tc.compile:
            allow_versions(versions_needed(len(networks)))
        self.members = self._members(networks)
        self._units: list | None = None  # formed at the first step, and again when the grouping changes
        self._stop_vote = StopVote(world, self.device)

    def _members(self, networks) -> list[Member]:
        """The networks of ``RunConfig.networks()``, spread over the devices (a group's networks on one)."""
        tc = self.train_cfg
        keys = [fusion_key(mc) if self.fuse else i for i, (_, mc, _) in enumerate(networks)]
        placed = place(keys, len(self.devices))
        members = []
        for i, (key, mc, seed) in enumerate(networks):
            device = self.devices[placed[i]]
            members.append(build_member(
                mc, tc.seed if seed is None else seed, key, device=device, channels_last=tc.channels_last, lr=tc.lr,
                momentum=tc.momentum, weight_decay=tc.weight_decay, scaler=self.precision.grad_scaler(device),
                warming_up=needs_warmup(mc.depth, tc), compile=tc.compile, seed_label=seed, body_lr=tc.body_lr(mc),
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

    # -- units ---------------------------------------------------------------------------------------------
    @property
    def units(self) -> list:
        """What a step steps: the networks still training, grouped where fusing is on."""
        if self._units is None:
            self._units = self._form_units()
        return self._units

    def _form_units(self) -> list:
        tc = self.train_cfg
        active = self.active
        keys = [(m.device, fusion_key(m.config), m.warming_up) for m in active] if self.fuse else range(len(active))
        slots = [[active[i] for i in slot] for slot in plan(list(keys))]
        per_device = {d: sum(slot[0].device == d for slot in slots) for d in self.devices}
        units = []
        for members in slots:
            device = members[0].device
            # Several units on one GPU: a stream each, so their kernels overlap.
            stream = torch.cuda.Stream(device) if device.type == "cuda" and per_device[device] > 1 else None
            units.append(Solo(members[0], stream) if len(members) == 1 else Group(
                members, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay, compile=tc.compile,
                stream=stream))
        return units

    def _release_units(self) -> None:
        """The grouping changes: every network gets its state back as its own (formed anew at the next step)."""
        self._join()
        for unit in self._units or []:
            unit.release()
        self._units = None

    # -- one step ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One iteration: each seed's next batch through every network of that seed still training. A batch
        goes to another device once per device, whatever the number of networks there."""
        self.iteration += 1
        drawn = {seed: self.world.slice(*next(stream)) for seed, stream in self.streams.items()}
        on = {self.device: drawn}  # under torchrun each rank's part of the global batch
        for u in self.units:
            if u.device not in on:
                on[u.device] = {seed: (x.to(u.device, non_blocking=True), y.to(u.device, non_blocking=True))
                                for seed, (x, y) in drawn.items()}
            x, y = u.inputs(on[u.device])
            run_step(u, x, y, self.iteration, self.lr(u.members[0], self.iteration), self.precision, self.graphs)
            for m in u.members:
                m.steps += 1

    def _join(self) -> None:
        """Wait for the units' own streams before reading what they wrote."""
        for u in self._units or []:
            if u.stream is not None:
                torch.cuda.current_stream(u.device).wait_stream(u.stream)

    # -- logging, evaluation ---------------------------------------------------------------------------------
    def log(self, images_per_sec: float) -> None:
        tc = self.train_cfg
        self._join()
        regroup = False
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
            if bad_at or not loss < DIVERGED_LOSS:
                m.diverged = regroup = True
                at = int(bad_at) or self.iteration
                self.reporter.diverged(m.name, iteration=at, seed=m.seed_label, message=(
                    f"the loss became NaN, infinite or above {DIVERGED_LOSS:g} at iteration {at} with lr "
                    f"{self.lr(m, at):g}; this model stopped, try a lower learning rate"))
                continue
            self.reporter.train(m.name, iteration=self.iteration, epoch=self.batches.epoch, loss=loss,
                                error=error, lr=self.lr(m, self.iteration), images_per_sec=images_per_sec,
                                seed=m.seed_label)
            self.reporter.grad(m.name, iteration=self.iteration, layers=m.layer_names, norms=values[3:],
                               seed=m.seed_label)
            if m.warming_up and warmup_done(error, tc):
                m.warming_up, regroup = False, True
            m.reset_interval()
        if regroup and self.fuse:  # a network left its group's learning rate, or stopped
            self._release_units()
        elif regroup and self._units is not None:
            self._units = [u for u in self._units if not u.members[0].diverged]

    @torch.no_grad()
    def evaluate(self) -> None:
        if not self.world.main:
            return  # rank 0 evaluates (with the model itself, not its DDP wrapper) and reports for all
        self._join()
        n = len(self.test_labels)
        units = self.units
        totals = [(torch.zeros(len(u.members), device=u.device),
                   torch.zeros(len(u.members), dtype=torch.int64, device=u.device)) for u in units]
        for u in units:
            u.train(False)
        for x, y in self.batches.eval_batches(self.test_images, self.test_labels, EVAL_BATCH_SIZE):
            on = {self.device: (x, y)}
            for u, (loss_sum, errors) in zip(units, totals):
                if u.device not in on:
                    on[u.device] = (x.to(u.device), y.to(u.device))
                xu, yu = on[u.device]
                with self.precision.autocast(u.device):
                    logits = u.logits(xu, evaluating=True).float()
                g = len(u.members)
                loss_sum += F.cross_entropy(logits.flatten(0, 1), yu.repeat(g), reduction="none").view(g, -1).sum(1)
                errors += (logits.argmax(dim=-1) != yu).sum(dim=-1)
        for u, (loss_sum, errors) in zip(units, totals):
            u.train(True)
            values = torch.stack([loss_sum, errors.float()]).tolist()  # one sync per unit
            for m, loss, wrong in zip(u.members, *values):
                self.reporter.eval(m.name, iteration=self.iteration, test_loss=loss / n, test_error=wrong / n,
                                   seed=m.seed_label)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, run: RunDir) -> None:
        """Every network's state and the trainer's, as one set (written beside the last, then switched to).
        No CUDA generator state: no operation of a step draws from it (the data streams have generators of
        their own), and restoring one per GPU failed on a machine with fewer GPUs than the one that saved."""
        self._join()
        if not self.world.main:  # the ranks hold the same weights: rank 0 writes them
            self.saved_at = self.iteration
            return
        trainer = {
            "iteration": self.iteration, "streams": {s: b.state_dict() for s, b in self.streams.items()},
            "torch_rng": torch.get_rng_state(), "cuda_rng": None,
        }
        for m in self.members if self.iteration else ():  # as its last step left it (a group steps its own)
            set_lr(m.optimizer, self.lr(m, self.iteration))
        save_set(run.checkpoint_dir, self.iteration, {m.key: m.state(self.iteration) for m in self.members},
                 trainer, keep=self.train_cfg.kept_iterations)
        self.saved_at = self.iteration

    def load_checkpoint(self, run: RunDir) -> int:
        """Restore the current checkpoint set of ``run``; returns its iteration (0 when there is none)."""
        self._release_units()
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
        """Whether to stop now; under torchrun every rank stops at the same step (:class:`StopVote`)."""
        if not self.world.distributed:
            return self.should_stop()
        return self._stop_vote(self.iteration, self.should_stop())

    def close(self) -> None:
        """Drop the models, their units (and captured graphs) and the device-resident data; give the GPU memory
        back."""
        self._units = None
        self.members.clear()
        gc.collect()  # compiled wrappers and captured graphs may sit in reference cycles
        self.streams.clear()
        self.test_images = self.test_labels = None
        self._stop_vote = None
        release_cached_memory(self.devices)
