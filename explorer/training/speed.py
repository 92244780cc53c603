"""How long a run will take on this machine, said before it starts: the one owner of the Training form's estimate.

The cost model counts multiply-accumulates (the layer tables' MACs, for one image's forward pass): a training
step costs about 3× a network's forward MACs per image (the backward pass costs about two forwards), an
evaluation 1× per test image, every network of the run (seeds included) in turn, the evaluations at the run's
own cadence. What a device does per second is *measured* where it can be: the recent runs in the runs folder
that trained with the same device and precision setting (and CUDA graphs one), their wall-clock time from their
first to their last training point (evaluations and checkpoints included, as the person waits for them) divided
into the work they did. Before any such run the rate is *modelled*: a CPU core's rate times the cores this process
may use (``CPU_MACS_PER_CORE``), or a modest GPU's. The first run with those settings corrects the model.

Measured on the 2-core AMD EPYC machines we build on (shared with other jobs): the Quick look (plain and residual
20 and 56, 300 × 32 synthetic images) did 16,200 G MACs of this model's count in 466 s, 34.7 G MACs/s, on the one
thread its trainer chose under load, in bf16 (fp32 is about half as fast); the model's 15 G MACs/s a core
(conservative: fp32, or a busy core) said 9 min 8 s for it, against 7 min 56 s from its trainer's first event to its last - 15 % long.
A second run with the same settings is estimated from the first one's own speed.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from explorer.config.model import ModelConfig
from explorer.config.run import RunConfig
from explorer.runs.folder import RunDir, RunDirError
from explorer.system import host

TRAIN_FACTOR = 3.0  # forward + backward ≈ 3 forward passes
CPU_MACS_PER_CORE = 15e9  # MACs/s per core (see the module): 35e9 measured on one AMD EPYC core in bf16
GPU_MACS = 2.0e12  # a modest GPU, until a run on it says better
STARTUP_S = 8.0  # importing torch, drawing or loading the data, building the networks
RECENT_RUNS = 12  # the newest run folders looked at for a measured rate
FOLDER_TEST_IMAGES = 2000  # an image folder's test images are not counted before Start


@dataclass(frozen=True)
class TimeEstimate:
    seconds: float
    measured_runs: int  # how many earlier runs on this device the rate comes from (0: modelled)

    @property
    def source(self) -> str:
        if self.measured_runs:
            runs = "run" if self.measured_runs == 1 else "runs"
            return f"from the speed of {self.measured_runs} earlier {runs} here (same device and precision)"
        return "modelled (no run here yet with this device and precision; the first one measures this machine)"


def test_images(config: RunConfig) -> int:
    data = config.data
    if data.dataset == "synthetic":
        return max(1, data.synthetic_size // 5)
    if data.dataset == "folder":
        return FOLDER_TEST_IMAGES
    return 5000 if data.split == "val" else 10000


def work(config: RunConfig, iterations: tuple[int, int], forward_macs: Callable[[ModelConfig], int]) -> float:
    """The MACs of a run's training from iteration ``iterations[0]`` to ``iterations[1]``: its steps and the
    evaluations among them."""
    first, last = iterations
    per_image = sum(forward_macs(model) for model in config.model_configs()) * config.train.seeds
    every = config.train.eval_every
    evaluations = last // every - first // every + (last == config.train.iterations and last % every != 0)
    return (last - first) * config.train.batch_size * TRAIN_FACTOR * per_image \
        + evaluations * test_images(config) * per_image


def _span(run: RunDir) -> tuple[RunConfig, tuple[int, int], float] | None:
    """(config, (first, last) iteration, seconds) of the training a run folder records, or None."""
    try:
        config = run.config()
        events, _ = run.read_events()
    except (RunDirError, OSError, ValueError):
        return None
    points = [(e["iteration"], e["time"]) for e in events if e.get("type") == "train"
              and isinstance(e.get("iteration"), int) and isinstance(e.get("time"), (int, float))]
    starts = [i for i, e in enumerate(events) if e.get("type") in ("start", "resume")]
    if starts:  # a resumed run: only its last stretch, from one trainer in one sitting
        later = {(e["iteration"], e["time"]) for e in events[starts[-1]:] if e.get("type") == "train"
                 and isinstance(e.get("iteration"), int) and isinstance(e.get("time"), (int, float))}
        points = [p for p in points if p in later]
    if len(points) < 3:
        return None
    (first, t0), (last, t1) = points[0], points[-1]
    return (config, (first, last), t1 - t0) if last > first and t1 > t0 else None


def _speed_settings(train) -> tuple:
    """What makes two runs' speeds comparable: device and precision, and CUDA graphs where a GPU may train."""
    return train.device, train.precision, train.cuda_graphs if train.device in ("auto", "cuda") else None


def measured_rate(runs_dir: Path, config: RunConfig,
                  forward_macs: Callable[[ModelConfig], int]) -> tuple[float, int] | None:
    """MACs per second of the recent runs that trained with ``config``'s device and precision settings, and its
    CUDA graphs setting where a GPU may train (median, and how many), or None. On a GPU the graphs made the same
    networks 8x faster (training/groups.py): an eager run is no measure of a graphed one."""
    try:
        folders = sorted((p for p in Path(runs_dir).iterdir() if p.is_dir()), reverse=True)[:RECENT_RUNS]
    except OSError:
        return None
    rates = []
    for folder in folders:
        span = _span(RunDir(folder))
        if span is not None and _speed_settings(span[0].train) == _speed_settings(config.train):
            past, iterations, seconds = span
            rates.append(work(past, iterations, forward_macs) / seconds)
    return (statistics.median(rates), len(rates)) if rates else None


def modelled_rate(device: str) -> float:
    if device in ("cuda", "mps"):
        return GPU_MACS
    return CPU_MACS_PER_CORE * len(host.usable_cores())


def estimate_time(config: RunConfig, runs_dir: Path, forward_macs: Callable[[ModelConfig], int],
                  gpu_found: bool = False) -> TimeEstimate:
    """The wall-clock time of ``config`` from Start to its end on this machine. ``gpu_found``: the device list
    has a GPU, which "auto" would pick."""
    measured = measured_rate(runs_dir, config, forward_macs)
    device = config.train.device if config.train.device != "auto" else ("cuda" if gpu_found else "cpu")
    rate, runs = measured if measured else (modelled_rate(device), 0)
    seconds = STARTUP_S + work(config, (0, config.train.iterations), forward_macs) / rate
    return TimeEstimate(seconds, runs)


@functools.lru_cache(maxsize=256)
def summary_macs(model: ModelConfig) -> int:
    """A network's forward MACs for one image, from its layer table (torch, on the meta device)."""
    from explorer.models.summary import summarize

    return summarize(model).total_macs
