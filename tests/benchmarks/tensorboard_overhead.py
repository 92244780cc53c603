"""What TensorBoard's event files cost the trainer: one logging interval's events (a train and an eval event per
network, the paper's Figure 6 run of 8 networks) written to a run folder alone and mirrored into TensorBoard's
files too, side by side in one process, against the training steps of that interval (ResNet-20, batch 128, fp32,
on this CPU, 50 steps an interval as the paper's recipe logs).

    .venv/bin/python tests/benchmarks/tensorboard_overhead.py
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from explorer.config.model import ModelConfig  # noqa: E402
from explorer.config.run import RunConfig  # noqa: E402
from explorer.models import build_model  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.training.events import Reporter  # noqa: E402
from machine import cpu_model  # noqa: E402

NETWORKS = [f"{kind}-{depth}" for kind in ("plain", "resnet") for depth in (20, 32, 44, 56)]
INTERVALS = 200
LOG_EVERY = 50


def interval_seconds(reporter: Reporter) -> float:
    """Seconds per logging interval of events, averaged over INTERVALS."""
    start = time.perf_counter()
    for interval in range(1, INTERVALS + 1):
        it = interval * LOG_EVERY
        for model in NETWORKS:
            reporter.train(model, iteration=it, epoch=it / 391, loss=1.0, error=0.3, lr=0.1, images_per_sec=900.0)
            reporter.eval(model, iteration=it, test_loss=1.1, test_error=0.32)
    return (time.perf_counter() - start) / INTERVALS


def step_seconds() -> float:
    model = build_model(ModelConfig(depth=20)).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(128, 3, 32, 32).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(5):
        step()
    return (time.perf_counter() - start) / 5


def main() -> None:
    torch.set_num_threads(2)
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads, fp32; {len(NETWORKS)} networks, "
          f"{INTERVALS} intervals")
    with tempfile.TemporaryDirectory() as folder:
        times = {}
        for round_ in range(2):  # alternating, so neither side has the warmer caches
            for mirrored in (False, True):
                run = RunDir.create(folder, RunConfig(name=f"bench-{mirrored}-{round_}"))
                reporter = Reporter(run, LOG_EVERY * INTERVALS, io.StringIO())
                if not mirrored:
                    reporter.run = run  # the run folder alone, as without the tensorboard package
                reporter.resume(0)
                reporter.start(models=NETWORKS, device="cpu", precision="fp32", milestones=[], batch_size=128,
                               dataset="synthetic", resumed_from=0)
                times.setdefault(mirrored, []).append(interval_seconds(reporter))
                reporter.end("finished")
                run.close()
        alone, both = min(times[False]), min(times[True])
    steps = LOG_EVERY * step_seconds()
    print(f"events of one interval: run folder alone {1000 * alone:.2f} ms, with TensorBoard {1000 * both:.2f} ms "
          f"({both / alone:.2f}x)")
    print(f"50 training steps of ResNet-20 (one network): {steps:.2f} s; TensorBoard adds "
          f"{100 * (both - alone) / (len(NETWORKS) * steps):.4f} % to an interval of the 8 networks")


if __name__ == "__main__":
    main()
