"""Training beyond one process: ``torchrun --nproc_per_node N -m explorer train …``.

Every rank draws the same data stream (same seed, same augmentation) and takes its own contiguous slice of
each batch, so the global batch is exactly a single process's; DistributedDataParallel averages the gradients,
which makes each step the step of the global batch's mean loss (batch norm sees each rank's slice, unless
``--sync-bn`` on GPUs). Rank 0 alone writes the run directory - one folder, each point once - and holds its
lock; the metrics of an interval are summed over the ranks before rank 0 logs them, and a stop asked of any
rank is agreed by all at the next check, so no rank waits forever in a collective. NCCL on GPUs, gloo on CPUs.
Outside torchrun, :data:`SINGLE` stands in with the same interface and does nothing.
"""

from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
from explorer.config.errors import ConfigError

BARRIER_SECONDS = 120  # the longest one rank waits for the others to finish a run
STOP_CHECK_EVERY = 10  # steps between two agreements on "stop" (a collective; cheap, but not free on a GPU)
ORPHANED = ("rank 0 of this torchrun job (pid {pid}), the one that writes the run, stopped without a word (killed?); "
            "resume to continue from the last checkpoint")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def slice(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's contiguous part of the global batch."""
        if not self.distributed:
            return x, y
        part = len(y) // self.size
        start = self.rank * part
        return x[start:start + part], y[start:start + part]

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
        return tensor

    def max_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return tensor

    def share(self, value):
        """Rank 0's ``value`` on every rank (a run folder's path, say)."""
        if not self.distributed:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, model: torch.nn.Module, device: torch.device, sync_bn: bool) -> torch.nn.Module:
        """The model as the step calls it: under DDP when distributed (``.module`` is the model itself, with
        SyncBatchNorm in place of its BNs if asked)."""
        if not self.distributed:
            return model
        if sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [device.index if device.index is not None else self.local_rank] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def close(self, together: bool) -> None:
        """Leave the group in order. After a run every rank ended alike (``together``: the training loop ended,
        at the same last step or the stop agreed), the ranks first wait for one another - a rank that tore its
        group down while another still talked to it aborted with "terminate called without an active exception",
        about one run in eight on CI. After a failure on one rank the others may be inside a collective, so nobody
        waits. Then the models' DDP reducers, which hold the group, are collected while the interpreter is whole,
        and only then is the group destroyed: left to the interpreter's exit, gloo's worker threads were freed
        half torn down."""
        if not (self.distributed and torch.distributed.is_initialized()):
            return
        if together:
            try:
                if torch.distributed.get_backend() == "gloo":
                    torch.distributed.monitored_barrier(timeout=timedelta(seconds=BARRIER_SECONDS))
                else:
                    torch.distributed.barrier()
            except RuntimeError:
                pass  # a rank that is gone (killed, failed): nothing to wait for; still leave cleanly
        gc.collect()
        torch.distributed.destroy_process_group()
        gc.collect()


SINGLE = World()


class StopVote:
    """Every rank stops at the same step, without making the GPU wait. Every :data:`STOP_CHECK_EVERY` steps each
    rank casts its vote (an all-reduce of "stop?", left running) and reads the vote cast at the check before,
    long finished by then; reading a fresh result would wait for every step queued before it, emptying the GPU's
    pipeline at every check. Every rank reads the same result at the same step, so all stop together, one check
    after the stop was asked for."""

    def __init__(self, world: World, device: torch.device) -> None:
        self.world = world
        self.device = device
        self._vote = torch.zeros(1, dtype=torch.int32, device=device) if world.distributed else None
        self._pending = None  # (work, the result where the host reads it, the event that says it is there)

    def __call__(self, iteration: int, asked: bool) -> bool:
        if iteration % STOP_CHECK_EVERY:
            return False
        if self._read():
            return True
        self._cast(asked)
        return False

    def _cast(self, asked: bool) -> None:
        self._vote.fill_(1 if asked else 0)  # a kernel, not a copy from the host: nothing waits
        work = torch.distributed.all_reduce(self._vote, op=torch.distributed.ReduceOp.MAX, async_op=True)
        if self.device.type != "cuda":
            self._pending = (work, self._vote, None)
            return
        work.wait()  # NCCL: the current stream waits for the reduction; the host does not
        host = torch.empty(1, dtype=torch.int32, pin_memory=True)
        host.copy_(self._vote, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        self._pending = (None, host, done)

    def _read(self) -> bool:
        if self._pending is None:
            return False
        work, value, done = self._pending
        self._pending = None
        if done is not None:
            done.synchronize()  # recorded a check ago: long reached
        else:
            work.wait()
        return bool(value[0])


def from_environment() -> World:
    """The world torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK; a single process otherwise."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (torchrun sets them)") from None
    if size <= 1:
        return SINGLE
    if not 0 <= rank < size:
        raise ValueError(f"RANK {rank} is outside WORLD_SIZE {size}")
    return World(rank, size, local)


def start(world: World, config) -> None:
    """Join the process group (NCCL where every rank has a GPU, else gloo); check what cannot work."""
    if not world.distributed:
        return
    if config.train.batch_size % world.size:
        raise ConfigError("batch-size", f"{config.train.batch_size} does not split over {world.size} processes; use a "
                         f"multiple of {world.size}")
    cuda = config.train.device in ("auto", "cuda") and torch.cuda.is_available()
    if config.train.sync_bn and not cuda:
        raise ConfigError("sync-bn", "needs GPUs (torch's SyncBatchNorm runs on CUDA only); leave it off on the CPU")
    if config.train.cuda_graphs:
        raise ConfigError("cuda-graphs", "captures one process's step; under torchrun leave it off")
    if config.train.fuse:
        raise ConfigError("fuse", "trains one process's networks as one grouped network; under torchrun leave it off")
    if config.train.devices:
        raise ConfigError("devices", "spreads the networks of one process; under torchrun each process has its GPU")
    if not torch.distributed.is_initialized():
        if not cuda:
            torch.distributed.init_process_group(backend="gloo")
            return
        gpu = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(gpu)
        # device_id: NCCL binds its communicator to this rank's GPU at once (no guess at the first collective,
        # no second context on GPU 0).
        bound = {"device_id": gpu} if "device_id" in inspect.signature(
            torch.distributed.init_process_group).parameters else {}
        torch.distributed.init_process_group(backend="nccl", **bound)


def device_of(world: World, device: torch.device) -> torch.device:
    """Each rank's own GPU under torchrun."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device
