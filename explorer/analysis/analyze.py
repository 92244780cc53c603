"""One analysis of every network of a run at one of its kept checkpoints, written to
``RUN_DIR/analysis/<what>-iter-<N>.json`` atomically (``resnet-explorer analyze``; the app runs that command as a
child and follows its progress lines, as it does for training).
Analyses read the run; they never touch its state, its events or its checkpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path


from explorer.analysis.inputs import images, networks
from explorer.runs.checkpoints import chosen_iteration
from explorer.analysis.landscape import landscape
from explorer.analysis.lesion import lesion_study
from explorer.analysis.responses import layer_responses
from explorer.system.files import atomic_write, own_folder, remove_stale_temporaries, unwritable
from explorer.runs.folder import RunDir
from explorer.training.device import resolve_device
from explorer.analysis.plan import check_options, default_size, result_path


def analyze(run: RunDir, what: str, *, iteration: int | None = None, subset: int | None = None,
            device_name: str = "auto", points: int | None = None, two_d: bool = False, seed: int = 0,
            progress=lambda done, total, network: None) -> Path:
    """Run ``what`` on every network of ``run`` at ``iteration`` (the latest kept checkpoint when None);
    returns the file written. ValueError/RunDirError are the person's to fix, CheckpointError a damaged run and
    OSError the analysis folder refusing the result (one sentence each). The run folder is checked, and its
    ``analysis/`` folder made, before any work: a link there, or a file in its way, costs no minutes of work."""
    check_options(what, subset=subset, points=points, two_d=two_d, seed=seed, iteration=iteration)
    device = resolve_device(device_name)
    run.check_own()
    at = chosen_iteration(run.checkpoint_dir, iteration, run.path.name)
    folder = own_folder(result_path(run, what, at, two_d).parent)
    refused = unwritable(folder)
    if refused is not None:
        raise refused
    remove_stale_temporaries(folder)  # what an analysis killed mid-write left
    default_images, default_points = default_size(what, two_d, device.type)
    count = subset or default_images
    started = time.time()
    nets = networks(run, at, device)
    x, y = images(run, "train" if what == "landscape" else "test", count, device)
    results = {}
    path = result_path(run, what, at, two_d)

    def write() -> None:
        atomic_write(path, json.dumps({"what": what, "iteration": at, "images": len(y), "device": device.type,
                                       "seconds": round(time.time() - started, 2), "networks": results,
                                       "complete": len(results) == len(nets)}))

    try:
        for index, network in enumerate(nets):
            def tick(done, total, index=index, name=network.key):
                progress(index * total + done, len(nets) * total, name)

            if what == "responses":
                results[network.key] = layer_responses(network, x)
                tick(1, 1)
            elif what == "lesion":
                results[network.key] = lesion_study(network, x, y, seed=seed, progress=tick)
            else:
                results[network.key] = landscape(network, x, y, points=points or default_points, two_d=two_d,
                                                 seed=seed, progress=tick)
    except KeyboardInterrupt:
        # Stopped (Ctrl-C, or the app's Cancel): each network done is a whole result of its own, kept as such.
        if results:
            write()
        raise AnalysisStopped(path if results else None, list(results), len(nets)) from None
    write()
    return path


class AnalysisStopped(Exception):
    """An analysis stopped before its end: ``path`` holds the networks it had finished (``kept``), if any."""

    def __init__(self, path: Path | None, kept: list[str], total: int) -> None:
        super().__init__(f"stopped after {len(kept)} of {total} networks")
        self.path, self.kept, self.total = path, kept, total
