"""``resnet-explorer train``: from the flags to a finished run, in one process or under torchrun.

Everything that can refuse a new run - the options, the runs folder, the device, the memory, the data - is
checked once, before its folder is made; the trainer then starts from those answers. Under torchrun every rank
checks and loads the data, rank 0 alone makes the folder, holds its lock and writes it, and tells the other ranks
where it is (or why there is none, so that no rank waits for a run that will not come).
"""

from __future__ import annotations

import argparse
import sys

from explorer.cli.options import (
    add_model_options, add_train_options, changed_options, check_classes, folder_option, listed,
    run_config_from_args,
)
from explorer.cli.progress import Progress
from explorer.config.errors import ConfigError
from explorer.data.location import counted
from explorer.runs.folder import RunDir, RunDirError, check_runs_dir, default_runs_dir
from explorer.system.exits import Exit, Failed

NOT_SETTINGS = ("resume", "run_dir", "func", "command", "parser")


def add_parser(sub) -> None:
    train = sub.add_parser("train", help="train plain and residual nets side by side on identical batches",
                           description="Train plain and residual networks side by side on identical batches "
                           "(the paper's Figure 6) into a new run folder, or continue one with --resume.")
    add_model_options(train)
    add_train_options(train)
    train.set_defaults(func=run, parser=train)


def run(args: argparse.Namespace) -> int:
    existing = "resume" if args.resume is not None else "run-dir" if args.run_dir is not None else None
    if existing:
        folder_option(existing, getattr(args, existing.replace("-", "_")))
        changed = changed_options(args, args.parser, ignore=NOT_SETTINGS)
        if changed:
            raise ConfigError(existing, f"uses the settings in the run's config.json; leave out {listed(changed)}",
                              others=tuple(changed))
        # Before torch: a folder that is no run, holds a link, has a config that cannot be read, or whose resume
        # would lose its record is the person's to fix, answered at once with nothing done.
        run_dir = RunDir.open(args.resume if args.resume is not None else args.run_dir)
        config = run_dir.config()
        if args.resume is not None:
            run_dir.check_resumable()
    else:
        if args.runs_dir is not None:
            folder_option("runs-dir", args.runs_dir)
        config = run_config_from_args(args)  # a bad option is refused in a fraction of a second, before torch
    from explorer.training import distributed
    from explorer.training.stop import StopFlag

    # First of all, so that a stop at any instant from here on ends the run "cancelled" (never exit 143).
    with StopFlag(restore=False) as stop:
        world = distributed.from_environment()
        dataset = checked = lock = None
        if existing:
            distributed.start(world, config)
            if world.main:
                lock = _agreed(world, run_dir.lock)
                if args.run_dir is not None and (run_dir.metrics_path.exists() or run_dir.checkpoint_dir.exists()):
                    lock.release()
                    raise ValueError(f"{run_dir.path} has already started; continue it with --resume")
                stop.watch(run_dir.stop_path)  # the app's Stop, on every system
            else:
                _agreed(world, None)
            _say(world, "starting…")
        else:
            runs_dir = check_runs_dir(args.runs_dir if args.runs_dir is not None else default_runs_dir())
            distributed.start(world, config)
            _say(world, "starting…")
            try:
                with stop.interruptible(at_first=True):
                    config, dataset, checked = prepare(config, args.num_classes)
            except KeyboardInterrupt:
                _say(world, "stopped before the run began; nothing was written")
                return Exit.OK
            if world.main:
                run_dir = _agreed(world, lambda: RunDir.create(runs_dir, config))
                lock = run_dir.lock()
                stop.watch(run_dir.stop_path)
            else:
                run_dir = _agreed(world, None)
        _say(world, f"run folder: {run_dir.path}")
        from explorer.training.session import run_training

        ended = []  # the training loop ended on this rank as on every other (not a failure or a second signal)
        try:
            return run_training(run_dir, stop, dataset=dataset, checked=checked, world=world,
                                trained=lambda: ended.append(True))
        finally:
            if lock is not None:
                lock.release()
            world.close(together=bool(ended))


def _agreed(world, make):
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


def _say(world, line: str) -> None:
    if world.main:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def prepare(config, given: int | None = None):
    """Everything that can refuse a new run, before its folder is made: the device, the precision, the memory,
    the data (downloaded now if need be). Returns the config to record (an image folder's classes counted), the
    loaded dataset and the preflight's answers, which the trainer starts from. ``given``: the classes the person
    asked for (``--num-classes``), checked against an image folder's once they are counted."""
    from explorer.data.batches import check_batch_size
    from explorer.data.errors import DatasetError
    from explorer.data.loading import load_dataset
    from explorer.training.preflight import preflight

    progress = Progress()
    try:
        config = counted(config)
    except DatasetError as exc:  # the folder the person named cannot be used: theirs to change
        raise ValueError(str(exc)) from None
    check_classes(config, given)
    checked = preflight(config)
    fetch_weights(config, progress)
    try:
        sys.stderr.write(f"loading data ({config.data.dataset})…\n")
        dataset = load_dataset(config.data, seed=config.train.seed, progress=progress.counter("download"),
                               decoding=progress.counter("decode"))
    except DatasetError as exc:
        raise Failed(str(exc)) from None
    check_batch_size(config.train.batch_size, len(dataset.train_labels))
    return config, dataset, checked


def fetch_weights(config, progress: Progress) -> None:
    """The pretrained weights every network starts from, on disk before the run folder is made: a file that is
    not there is the person's to fix (exit 2); torchvision's weights are downloaded once when missing."""
    from explorer.models.pretrained import WeightsError, download, weights_path

    for model in config.model_configs():
        if model.weights is None:
            continue
        try:
            if weights_path(model) is None:
                sys.stderr.write(f"downloading the ImageNet weights of {model.label}…\n")
                download(model, progress.counter("download"))
        except WeightsError as exc:
            raise (Failed(str(exc)) if model.weights == "imagenet" else ValueError(str(exc))) from None
