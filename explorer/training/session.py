"""One trainer process from its first line to its last: check the machine, load the data, build or restore the
models, train, and always leave the run directory saying how it ended (``status.json`` and an ``end`` event),
whatever happened: finished, cancelled by a stop request or a signal (once or twice; SIGHUP: the terminal was
closed), diverged, a dataset error, out of memory, a full disk, a crash, another process of a torchrun job gone.
The caller holds the run's lock (one trainer per run); the trainer first removes what killed writers left in the
run (temporaries, partial sets).
"""

from __future__ import annotations

import sys
import traceback
from typing import IO, Callable

import torch

from explorer.system.exits import Exit
from explorer.system.files import atomic_write, is_disk_full
from explorer.runs.checkpoints import latest_iteration
from explorer.data.errors import DatasetError
from explorer.data.loading import load_dataset
from explorer.data.dataset import Dataset
from explorer.runs.folder import RunDir, RunDirError, os_reason
from explorer.models.pretrained import WeightsError
from explorer.runs.checkpoints import CheckpointError
from explorer.runs.state import RunState
from explorer.training.device import configure_backends
from explorer.training.distributed import ORPHANED, SINGLE, World, device_of
from explorer.training.events import Reporter, SilentReporter
from explorer.runs.events import stepping
from explorer.training.groups import captures, fuses
from explorer.training.peers import PeerWatch, peer_failure_message
from explorer.training.preflight import Preflight, preflight
from explorer.training.stop import StopFlag
from explorer.training.threads import ThreadGovernor
from explorer.training.trainer import Trainer



def out_of_memory_message(batch_size: int, models: int, where: str) -> str:
    fewer = ", or fewer networks per run" if models > 1 else ""
    return (f"{where} ran out of memory at batch size {batch_size}; choose a smaller batch size or a smaller "
            f"depth{fewer}, then resume")


# How each device says it ran out, in torch's words: the caching allocator's OutOfMemoryError ("CUDA out of
# memory"), an allocation outside it ("CUDA error: out of memory": a graph's, the context's), cuBLAS and cuDNN
# failing to allocate their workspaces; the MPS backend; the CPU allocator.
GPU_OUT_OF_MEMORY = ("CUDA out of memory", "CUDA error: out of memory", "CUBLAS_STATUS_ALLOC_FAILED",
                     "CUDNN_STATUS_ALLOC_FAILED")
APPLE_OUT_OF_MEMORY = ("MPS backend out of memory",)
CPU_OUT_OF_MEMORY = ("can't allocate memory", "not enough memory")


def out_of_memory_where(exc: BaseException) -> str | None:
    """Which memory ran out ("the GPU", "the Apple GPU", "the CPU"), or None when ``exc`` is no shortage. The
    exceptions it arose from count too: a CUDA graph's capture that ran out ends in a capture error raised while
    the shortage was being handled."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if any(words in text for words in APPLE_OUT_OF_MEMORY):
            return "the Apple GPU"
        if isinstance(exc, torch.OutOfMemoryError) or any(words in text for words in GPU_OUT_OF_MEMORY):
            return "the GPU"
        if isinstance(exc, MemoryError) or any(words in text for words in CPU_OUT_OF_MEMORY):
            return "the CPU"
        exc = exc.__cause__ or exc.__context__
    return None


def run_training(run: RunDir, stop: StopFlag, stream: IO[str] | None = None, dataset: Dataset | None = None,
                 checked: Preflight | None = None, world: World = SINGLE,
                 trained: Callable[[], None] | None = None) -> int:
    """Train the run in ``run`` (from its current checkpoint set, if any); returns the process exit code.
    ``dataset`` is the data already loaded by the caller and ``checked`` its preflight on this machine (the CLI
    does both before it makes the run folder; a resumed run or one the app prepared is checked here).
    Under torchrun (``world``) only rank 0 writes the run folder; the others say nothing (unless rank 0 died
    without a word: :func:`_take_over`). ``trained()`` is called
    when the training loop itself ended (finished, stopped as agreed, diverged): every rank then ended alike."""
    config = run.config()
    resumed_at = latest_iteration(run.checkpoint_dir) or 0
    reporter = Reporter(run, config.train.iterations, stream, iteration=resumed_at) if world.main else \
        SilentReporter(run, config.train.iterations, stream, iteration=resumed_at, rank=world.rank)
    # Rank 0 records the run's end even when another rank's failure leaves it stuck in a collective.
    watch = PeerWatch(reporter.end, lambda: reporter.ended) if world.distributed and world.main else None
    trainer = None
    try:
        if world.main:
            run.remove_leftovers()
        reporter.status("running", "starting")
        try:
            with stop.interruptible(at_first=True):  # nothing to save yet: a stop ends start-up at once
                checked = checked or preflight(config)
                device = device_of(world, checked.device)
                threads = ThreadGovernor(torch.set_num_threads, share=world.size,
                                         fixed=config.train.deterministic, kept=_first_threads(run))
                configure_backends(checked.device, config.train.deterministic)
                if dataset is None:
                    reporter.say(f"loading data ({config.data.dataset})…")
                    dataset = load_dataset(config.data, seed=config.train.seed, progress=reporter.download,
                                           decoding=reporter.decoding)
                how = [checked.precision.name, stepping(
                    fuses(config.train, checked.device.type, checked.precision.name, world.distributed),
                    captures(config.train, checked.device.type, checked.precision.name, world.distributed))]
                reporter.say(f"building {', '.join(m.name for m in config.model_configs())} on "
                             f"{checked.device.type} ({', '.join(w for w in how if w)})…")
                trainer = Trainer(config, dataset, device=device, precision=checked.precision,
                                  reporter=reporter, should_stop=stop, interruptible=stop.interruptible,
                                  threads=threads, devices=[device] if world.distributed else checked.devices,
                                  world=world)
                start = trainer.load_checkpoint(run)
        except ValueError as exc:
            # Settings that do not fit this machine or this data (a missing device, a batch larger than the
            # training set, a run too big for the memory): the person's to change, before any step was taken.
            reporter.end("failed", str(exc))
            return Exit.USAGE
        if start > 0 or (run.metrics_path.exists() and run.metrics_path.stat().st_size > 0):
            # Events a killed trainer wrote after its last checkpoint are superseded from here on.
            reporter.resume(start)
        reporter.start(models=[m.name for m in trainer.members], device=checked.device.type,
                       precision=checked.precision.name, milestones=config.train.milestones,
                       batch_size=config.train.batch_size, dataset=dataset.name, resumed_from=start,
                       threads=threads.choice, seeds=config.train.seeds, world=world.size,
                       fused=trainer.fuse, graphs=trainer.graphs)
        state, message = trainer.train(run)
        if trained is not None:
            trained()
        reporter.end(state, message, iteration=trainer.iteration)
        return Exit.FAILED if state == "failed" else Exit.OK
    except KeyboardInterrupt:
        at = trainer.saved_at or None if trainer is not None else None  # 0 before its checkpoint is loaded
        return _end(reporter, "cancelled", "stopped at once by a second signal; resume to continue from the last "
                    "checkpoint" if trainer is not None else "stopped before training began; resume to start it",
                    Exit.OK, iteration=at)
    except (DatasetError, CheckpointError, WeightsError) as exc:
        return _end(reporter, "failed", str(exc), Exit.FAILED)
    except OSError as exc:
        # Writing the run folder failed (disk full, folder removed or made read-only): what was written stays,
        # and the checkpoint sets already saved still resume.
        advice = "free some space, then resume" if is_disk_full(exc) else "fix the folder, then resume"
        return _end(reporter, "failed", f"cannot write to the run folder {run.path}: {os_reason(exc)}; {advice}",
                    Exit.FAILED)
    except Exception as exc:
        told = peer_failure_message(exc) if world.distributed else None
        if told is not None:  # another rank's failure, seen here as a broken collective
            code = _end(reporter, "failed", told, Exit.FAILED)
            if not world.main:  # rank 0 itself may be the one gone: then this rank records the end
                _take_over(run, config.train.iterations, reporter.iteration, stream)
            return code
        where = out_of_memory_where(exc)
        if where is not None:
            return _end(reporter, "failed", out_of_memory_message(
                config.train.batch_size, len(config.networks()), where), Exit.FAILED)
        # A bug, not a user's mistake: the sentence for the person, the traceback for the bug report.
        details = run.error_path
        try:
            atomic_write(details, traceback.format_exc())
            where = f"details are in {details}"
        except OSError:
            where = "details could not be written (the run folder refused them)"
        return _end(reporter, "failed", f"training stopped by an internal error ({type(exc).__name__}: {exc}); "
                    f"{where}", Exit.FAILED)
    finally:
        if watch is not None:
            watch.close()
        if trainer is not None:
            trainer.close()
        run.close()
        (stream or sys.stderr).flush()


def _first_threads(run: RunDir) -> int | None:
    """The CPU thread count of the run's first start (its start events record it), if it has started before."""
    try:
        events, _ = run.read_events()
    except OSError:
        return None
    return next((e.get("threads") or None for e in events if e.get("type") == "start"), None)


def _take_over(run: RunDir, iterations: int, iteration: int, stream: IO[str] | None) -> None:
    """Rank 0, the one writer of a torchrun job's run, died without a word (killed): a surviving rank, which never
    writes the run otherwise, takes the run's lock it let go and records that the run failed, so that status.json
    never says "running" behind a dead process. Rank 0 alive (the lock held) or its word written: nothing to do."""
    writer = run.status().pid  # rank 0's, as its status.json says
    try:
        lock = run.lock()
    except RunDirError:
        return
    try:
        if run.status().state is RunState.RUNNING:  # not finished, cancelled or failed by rank 0's own word
            _end(Reporter(run, iterations, stream, iteration), "failed", ORPHANED.format(pid=writer), Exit.FAILED)
    finally:
        lock.release()
        run.close()


def _end(reporter: Reporter, state: str, message: str, code: int, iteration: int | None = None) -> int:
    """Record how the run ended; when the folder takes no word at all (a full disk), stderr still does."""
    try:
        reporter.end(state, message, iteration=iteration)
    except OSError:
        (reporter.stream or sys.stderr).write(f"{state}: {message}\n")
    return code
