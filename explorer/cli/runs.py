"""``resnet-explorer runs``: every run folder with its state, progress and best test errors."""

from __future__ import annotations

import argparse
import json
import sys
import time

from explorer.cli.options import folder_option
from explorer.runs.folder import default_runs_dir
from explorer.runs.listing import list_runs
from explorer.runs.state import RunState


def add_parser(sub) -> None:
    runs = sub.add_parser("runs", help="list training runs: state, progress, best test errors",
                          description="List the run folders in the runs folder, newest first: state, progress, "
                          "dataset, device and the best test error of each network.")
    runs.add_argument("--runs-dir", help=f"default {default_runs_dir()}")
    runs.add_argument("--json", action="store_true", help="one JSON list on stdout")
    runs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    runs_dir = folder_option("runs-dir", args.runs_dir) if args.runs_dir is not None else default_runs_dir()
    runs = list_runs(runs_dir)
    if args.json:
        json.dump([info.to_json() for info in runs], sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not runs:
        print(f"no runs in {runs_dir}")
        return 0
    for info in runs:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
        if info.problem and not info.models:
            print(f"{info.path.name}  {created}  {info.state.value:<9}  {info.problem}")
            continue
        best = ", ".join(f"{m} {info.best_text(m)}" for m in info.models)
        print(f"{info.path.name}  {created}  {info.state.value:<9}  {info.iteration}/{info.iterations}  "
              f"{info.dataset}  {info.how}  best test error: {best}")
        if info.state in (RunState.FAILED, RunState.UNREADABLE) and info.message:
            print(f"    {info.message}")
    return 0
