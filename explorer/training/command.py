"""``resnet-explorer train``: from the parsed flags to a finished run, in one process or under torchrun.

Everything that can refuse a new run - the options, the runs folder, the device, the memory, the data - is
checked before its folder is made. Under torchrun every rank checks and loads the data, rank 0 alone makes the
folder, holds its lock and writes it, and tells the other ranks where it is (or why there is none, so that no
rank waits for a run that will not come).
"""

from __future__ import annotations

import sys

from explorer.runs import RunDir, RunDirError, check_runs_dir, default_runs_dir
from explorer.training import distributed
from explorer.training.stop import StopFlag


def train(args, run_config_from_args, changed: list[str]) -> int:
    # First of all, so that a stop at any instant from here on ends the run "cancelled" (never exit 143).
    with StopFlag(restore=False) as stop:
        world = distributed.from_environment()
        dataset, lock = None, None
        if args.resume or args.run_dir:
            if changed:
                raise ValueError(f"{'--resume' if args.resume else '--run-dir'} uses the settings in the run's "
                                 f"config.json; leave out {', '.join(changed)}")
            run = RunDir.open(args.resume or args.run_dir)
            config = run.config()  # a config that cannot be read is the person's to fix: exit 2 before training
            distributed.start(world, config)
            if world.main:
                lock = _agreed(world, run.lock)
                if args.run_dir and (run.metrics_path.exists() or run.checkpoint_dir.exists()):
                    lock.release()
                    raise ValueError(f"{run.path} has already started; continue it with --resume")
            else:
                _agreed(world, None)
            _say(world, "starting…")
        else:
            config = run_config_from_args(args)
            runs_dir = check_runs_dir(args.runs_dir or default_runs_dir())
            distributed.start(world, config)
            _say(world, "starting…")
            try:
                with stop.interruptible(at_first=True):
                    dataset = prepare(config)
            except KeyboardInterrupt:
                _say(world, "stopped before the run began; nothing was written")
                return 0
            if world.main:
                run = _agreed(world, lambda: RunDir.create(runs_dir, config))
                lock = run.lock()
            else:
                run = _agreed(world, None)
        _say(world, f"run folder: {run.path}")
        from explorer.training.session import run_training

        ended = []  # the training loop ended on this rank as on every other (not a failure or a second signal)
        try:
            return run_training(run, stop, dataset=dataset, world=world, trained=lambda: ended.append(True))
        finally:
            if lock is not None:
                lock.release()
            world.close(together=bool(ended))


def _agreed(world: distributed.World, make):
    """Rank 0 makes the thing (a run folder, a lock) and every rank learns the outcome: the run folder, or the
    sentence that refused it, raised on every rank alike."""
    if world.main:
        try:
            made = make()
        except RunDirError as exc:
            world.share(("error", str(exc)))
            raise
        world.share(("ok", str(made.path) if isinstance(made, RunDir) else None))
        return made
    kind, value = world.share(None)
    if kind == "error":
        raise RunDirError(value)
    return RunDir(value) if value else None


def _say(world: distributed.World, line: str) -> None:
    if world.main:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def prepare(config):
    """Everything that can refuse a new run, before its folder is made: the device, the precision, the memory,
    the data (downloaded now if need be). Returns the loaded dataset."""
    from explorer.cli import Failed, terminal_progress
    from explorer.data.batches import check_batch_size
    from explorer.data.errors import DatasetError
    from explorer.data.loading import load_dataset
    from explorer.training.preflight import preflight

    preflight(config)
    sys.stderr.write(f"loading data ({config.data.dataset})…\n")
    try:
        dataset = load_dataset(config.data, seed=config.train.seed, progress=terminal_progress("download"),
                               decoding=terminal_progress("decode"))
    except DatasetError as exc:
        raise Failed(str(exc)) from None
    check_batch_size(config.train.batch_size, len(dataset.train_labels))
    return dataset
