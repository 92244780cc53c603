"""``resnet-explorer analyze RUN_DIR --what responses|lesion|landscape``: why residual learning works, computed on
a run's own networks at one of its kept checkpoints, written into ``RUN_DIR/analysis/``."""

from __future__ import annotations

import argparse
import signal

from explorer.analysis.plan import WHAT, check_options
from explorer.cli.progress import Progress, add_progress_option
from explorer.config.run import DEVICES
from explorer.runs.checkpoints import CheckpointError
from explorer.runs.folder import ANALYSIS_DIR, os_reason
from explorer.system.exits import Exit, Failed
from explorer.system.files import is_disk_full


def add_parser(sub) -> None:
    analyze = sub.add_parser("analyze", help="layer responses, lesions or the loss landscape of a run's networks",
                             description="Analyse every network of a run at one of its kept checkpoints: layer "
                             "responses (Figure 7), lesions (Veit et al. 2016) or the loss landscape (Li et al. "
                             "2018); the result is a JSON file in RUN_DIR/analysis/, which the app shows.")
    analyze.add_argument("run_dir", metavar="RUN_DIR")
    analyze.add_argument("--what", required=True, choices=WHAT)
    analyze.add_argument("--checkpoint", type=int, metavar="ITER", help="a kept checkpoint (default: the latest)")
    analyze.add_argument("--subset", type=int, metavar="N", help="images to use (1000 test images; 2000 training "
                         "images for the landscape)")
    analyze.add_argument("--points", type=int, help="landscape steps along a direction (21 on a CPU, 41 on a GPU)")
    analyze.add_argument("--two-d", dest="two_d", action="store_true", help="landscape on a plane of two directions")
    analyze.add_argument("--seed", type=int, default=0, help="of the random directions and lesions (0)")
    analyze.add_argument("--device", choices=DEVICES, default="auto")
    add_progress_option(analyze)
    analyze.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_options(args.what, subset=args.subset, points=args.points, two_d=args.two_d, seed=args.seed,
                  iteration=args.checkpoint)  # before torch: a wrong number answers at once
    import torch

    from explorer.analysis.analyze import AnalysisStopped, analyze
    from explorer.data.errors import DatasetError
    from explorer.runs.folder import RunDir

    run_dir = RunDir.open(args.run_dir)
    run_dir.config()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    progress = Progress(args.progress)
    count = progress.counter("progress", args.what)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # the app's Cancel: stop as Ctrl-C does
    try:
        path = analyze(run_dir, args.what, iteration=args.checkpoint, subset=args.subset, device_name=args.device,
                       points=args.points, two_d=args.two_d, seed=args.seed,
                       progress=lambda done, total, network: count(done, total, network=network))
    except (CheckpointError, DatasetError) as exc:
        raise Failed(str(exc)) from None
    except AnalysisStopped as stopped:
        kept = f"kept {', '.join(stopped.kept)} in {stopped.path}" if stopped.path else "nothing was kept"
        progress.outcome("stopped", f"stopped after {len(stopped.kept)} of {stopped.total} networks; {kept}",
                         kept=stopped.kept, total=stopped.total, path=str(stopped.path) if stopped.path else None)
        return Exit.INTERRUPTED
    except OSError as exc:  # the analysis folder refused the result: read-only, a full disk, a file in the way
        advice = "free some space" if is_disk_full(exc) else "fix the folder"
        raise Failed(f"cannot write the analysis into {run_dir.path / ANALYSIS_DIR}: {os_reason(exc)}; {advice}, "
                     "then run it again") from None
    progress.outcome("done", f"wrote {path}", path=str(path))
    return 0
