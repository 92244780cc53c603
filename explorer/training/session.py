"""One trainer process from its first line to its last: pick the device, load the data, build or restore
the models, train, and always leave the run directory saying how it ended (``status.json`` and an ``end``
event), whatever happened: finished, cancelled by SIGTERM/SIGINT, diverged, a dataset error, a crash.
"""

from __future__ import annotations

import sys
import traceback
from typing import IO

import torch

from explorer.data import DatasetError, load_dataset
from explorer.runs import RunDir
from explorer.training.device import configure_backends, configure_threads, resolve_device, resolve_precision
from explorer.training.events import Reporter
from explorer.training.stop import StopFlag
from explorer.training.trainer import CheckpointError, Trainer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _has_events(run: RunDir) -> bool:
    return run.metrics_path.exists() and run.metrics_path.stat().st_size > 0


def run_training(run: RunDir, stop: StopFlag, stream: IO[str] | None = None) -> int:
    """Train the run in ``run`` (from its last checkpoint, if any); returns the process exit code."""
    config = run.config()
    reporter = Reporter(run, config.train.iterations, stream)
    trainer = None
    try:
        try:
            device = resolve_device(config.train.device)
            precision = resolve_precision(config.train.precision, device)
            threads = configure_threads()
            configure_backends(device)
            reporter.say(f"loading data ({config.data.dataset})…")
            dataset = load_dataset(config.data, seed=config.train.seed, progress=reporter.download)
            reporter.say(f"building {', '.join(m.name for m in config.model_configs())} on {device.type} "
                         f"({precision.name})…")
            trainer = Trainer(config, dataset, device=device, precision=precision, reporter=reporter,
                              should_stop=stop)
            start = trainer.load_checkpoint(run)
        except ValueError as exc:
            # Settings that do not fit this machine or this data (a missing device, a batch larger than the
            # training set): the person's to change, so the usage exit code, before any step was taken.
            reporter.end("failed", str(exc))
            return EXIT_USAGE
        if start > 0 or _has_events(run):
            # Events a killed trainer wrote after its last checkpoint are superseded from here on.
            reporter.resume(start)
        reporter.start(models=[m.name for m in trainer.members], device=device.type, precision=precision.name,
                       milestones=config.train.milestones, batch_size=config.train.batch_size,
                       dataset=dataset.name, resumed_from=start, threads=threads)
        state, message = trainer.train(run)
        reporter.end(state, message, iteration=trainer.iteration)
        return EXIT_FAILED if state == "failed" else EXIT_OK
    except (DatasetError, CheckpointError) as exc:
        reporter.end("failed", str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        reporter.end("cancelled", "stopped at once by a second signal; resume to continue from the last checkpoint")
        return EXIT_OK
    except torch.OutOfMemoryError:
        reporter.end("failed", f"the device ran out of memory at batch size {config.train.batch_size}; "
                               "try a smaller --batch-size or fewer models")
        return EXIT_FAILED
    except OSError as exc:
        # Writing the run folder failed (disk full, folder removed or made read-only): what was written stays,
        # and the checkpoints already saved still resume. The folder may not take this word either: stderr does.
        message = (f"cannot write to the run folder {run.path}: {(exc.strerror or str(exc)).lower()}; "
                   "free some space or fix the folder, then resume")
        try:
            reporter.end("failed", message)
        except OSError:
            (stream or sys.stderr).write(f"failed: {message}\n")
        return EXIT_FAILED
    except Exception as exc:
        # A bug, not a user's mistake: the sentence for the person, the traceback for the bug report.
        details = run.path / "error.log"
        details.write_text(traceback.format_exc())
        reporter.end("failed", f"training stopped by an internal error ({type(exc).__name__}: {exc}); "
                               f"details are in {details}")
        return EXIT_FAILED
    finally:
        if trainer is not None:
            trainer.close()
        run.close()
        (stream or sys.stderr).flush()
