"""Hand-written run folders for the GUI tests: the exact files a trainer writes, without torch."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.runs.folder import RunDir


def write_run(runs_dir: Path, depths=(20, 56), iterations: int = 400, state: str | None = "finished",
              every: int = 50, name: str = "hand", seeds: int = 1, dataset: str = "synthetic",
              epochs_per_iteration: float = 0.01) -> RunDir:
    """A run of plain and residual nets with train events every ``every`` iterations and an eval every 4th;
    its config trains in seconds if a test resumes it (400 synthetic images, batches of 16, fp32; another
    ``dataset`` only for what is drawn, never to be resumed). With
    ``seeds`` > 1 every network has that many seeds, each a little apart (seed s adds 0.03·s to the errors)."""
    config = RunConfig(data=DataConfig(dataset=dataset, synthetic_size=400), name=name,
                       train=TrainConfig(depths=depths, iterations=iterations, batch_size=16, precision="fp32",
                                         milestones=(iterations // 2, iterations * 3 // 4), seeds=seeds))
    run = RunDir.create(runs_dir, config)
    models = [m.name for m in config.model_configs()]
    run.append_event({"type": "start", "models": models, "device": "cpu", "precision": "fp32",
                      "iterations": iterations, "milestones": list(config.train.milestones), "batch_size": 128,
                      "dataset": dataset, "time": 1000.0})
    for it in range(every, iterations + 1, every):
        for seed in range(seeds):
            tag = {} if seeds == 1 else {"seed": seed}
            for i, model in enumerate(models):
                error = 0.9 - 0.5 * it / iterations - 0.01 * i + 0.03 * seed
                run.append_event({"type": "train", "model": model, "iteration": it, "epoch": it * epochs_per_iteration,
                                  "loss": 2 * error, "error": error, "lr": 0.1, "images_per_sec": 500.0,
                                  "time": 1000.0 + it, **tag})
                if it % (4 * every) == 0:
                    run.append_event({"type": "eval", "model": model, "iteration": it, "test_loss": 1.0,
                                      "test_error": error + 0.05, "time": 1000.0 + it, **tag})
    if state is not None:
        if state != "running":
            run.append_event({"type": "end", "status": state, "message": "", "time": 2000.0})
        run.write_status(state, "", iterations, os.getpid() if state == "running" else None)
    run.close()
    return run


STOPPED = 3  # the exit code of :func:`hold`'s process when the run's stop request names it


def hold(run: RunDir):
    """A process that holds ``run``'s trainer lock as a trainer does and, as a trainer does, ends when the run's
    stop request names it (with exit code 3, which nothing else gives it): a live run from the app's point of
    view, without torch."""
    import subprocess
    import sys
    import time

    code = ("import os, sys, time; from explorer.runs.folder import RunDir; from explorer.system import host\n"
            "run = RunDir(sys.argv[1]); lock = run.lock(); print('held', flush=True)\n"
            "deadline = time.monotonic() + 600\n"
            "while time.monotonic() < deadline:\n"
            "    if host.stop_requested(run.stop_path, os.getpid()): sys.exit(3)\n"
            "    time.sleep(0.02)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run.path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    deadline = time.monotonic() + 10
    while run.trainer_pid() != proc.pid and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def fake_checkpoints(run: RunDir, iterations) -> None:
    """Checkpoint sets as the Analysis tab lists them (``iter-NNNNNNNN/trainer.pt``), empty: for what is shown of
    them, never to be loaded."""
    for iteration in iterations:
        folder = run.checkpoint_dir / f"iter-{iteration:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trainer.pt").write_bytes(b"")


def write_gradients(run: RunDir, every: int = 50, iterations: int = 400, layers=("conv1", "layer1.0.conv1", "fc")):
    """Gradient norms as the trainer logs them (``grad`` events, the layers named in the first), every network."""
    models = [m.name for m in run.config().model_configs()]
    for it in range(every, iterations + 1, every):
        for i, model in enumerate(models):
            event = {"type": "grad", "model": model, "iteration": it, "norms": [0.1 * (i + 1) / it * 100] * len(layers)}
            run.append_event({**event, "layers": list(layers)} if it == every else event)
    run.close()


def write_analysis(run: RunDir, what: str, iteration: int, networks: dict, two_d: bool = False) -> None:
    """An analysis result as ``resnet-explorer analyze`` writes it (``RUN_DIR/analysis/<what>-iter-N.json``)."""
    import json

    from explorer.analysis.plan import result_path

    path = result_path(run, what, iteration, two_d)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"what": what, "iteration": iteration, "images": 100, "device": "cpu", "seconds": 1,
                                "networks": networks, "complete": True}))
