"""``resnet-explorer analyze RUN_DIR --what responses|lesion|landscape``: one analysis of every network of a
run at one of its kept checkpoints, written to ``RUN_DIR/analysis/<what>-iter-<N>.json`` atomically. It runs
as a child of the app like training (the app follows its progress lines and reads the file), or from a shell.
Analyses read the run; they never touch its state, its events or its checkpoints."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from explorer.analysis.inputs import checkpoint_iteration, images, networks
from explorer.analysis.landscape import landscape
from explorer.analysis.lesion import lesion_study
from explorer.analysis.responses import layer_responses
from explorer.files import atomic_write
from explorer.runs import RunDir
from explorer.training.device import resolve_device
from explorer.analysis.plan import WHAT, default_size, result_path

def analyze(run: RunDir, what: str, *, iteration: int | None = None, subset: int | None = None,
            device_name: str = "auto", points: int | None = None, two_d: bool = False, seed: int = 0,
            progress=lambda done, total, network: None) -> Path:
    """Run ``what`` on every network of ``run`` at ``iteration`` (the latest kept checkpoint when None);
    returns the file written. ValueError/CheckpointError are the person's to fix (one sentence)."""
    if what not in WHAT:
        raise ValueError(f"what {what!r} is not an analysis; choose one of {', '.join(WHAT)}")
    device = resolve_device(device_name)
    at = checkpoint_iteration(run, iteration)
    default_images, default_points = default_size(what, two_d, device.type)
    count = subset or default_images
    started = time.time()
    nets = networks(run, at, device)
    x, y = images(run, "train" if what == "landscape" else "test", count, device)
    results = {}
    for index, network in enumerate(nets):
        def tick(done, total, index=index, name=network.key):
            progress(index * total + done, len(nets) * total, name)

        if what == "responses":
            results[network.key] = layer_responses(network, x)
            tick(1, 1)
        elif what == "lesion":
            results[network.key] = lesion_study(network, x, y, seed=seed, progress=tick)
        else:
            results[network.key] = landscape(network, x, y, points=points or default_points, two_d=two_d, seed=seed,
                                             progress=tick)
    path = result_path(run, what, at, two_d)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, json.dumps({"what": what, "iteration": at, "images": len(y), "device": device.type,
                                   "seconds": round(time.time() - started, 2), "networks": results}))
    return path


def main(args) -> int:
    run = RunDir.open(args.run_dir)
    run.config()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    def progress(done: int, total: int, network: str) -> None:
        if args.progress == "json":
            print(json.dumps({"type": "progress", "done": done, "total": total, "network": network}), flush=True)
        elif sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K{args.what}: {network} {done}/{total}")

    path = analyze(run, args.what, iteration=args.checkpoint, subset=args.subset, device_name=args.device,
                   points=args.points, two_d=args.two_d, seed=args.seed, progress=progress)
    if args.progress == "json":
        print(json.dumps({"type": "done", "path": str(path)}), flush=True)
    else:
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + f"wrote {path}\n")
    return 0
